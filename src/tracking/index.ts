// The tracking module's public face: resolve the tracking URI, get its store, and the Store contract.
export * from "./types.ts"
export { resolveTrackingUri, pathToFileUri, fileUriToPath } from "./tracking-uri.ts"
export { storeFor } from "./store-for.ts"
export { createFileStore } from "./file-store.ts"
export { runNameTag } from "./run-files.ts"
