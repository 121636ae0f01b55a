// The tracking module's public face: resolve the tracking URI, get its store, and the Store contract.
export * from "./types.ts"
export { resolveTrackingUri, pathToFileUri, fileUriToPath } from "./tracking-uri.ts"
export { storeFor, warmStoreCode } from "./store-for.ts"
export { runNameTag } from "./types.ts"
export { restConfigFromUri, type RestConfig } from "./rest-config.ts"
export { childTrackingVariables, databricksCreds, isDatabricksUri } from "./databricks-config.ts"
export { activeRun, logToRun, type LogRequest, type LogResult, type LogTarget } from "./rest-log.ts"
export { splitBatch } from "./rest-batch.ts"
