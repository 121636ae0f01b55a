// Picks the tracking store for a tracking URI by its scheme.
import { resolve } from "node:path"
import { ToolError } from "../errors.ts"
import type { Store } from "./types.ts"
import { createFileStore } from "./file-store.ts"
import { fileUriToPath, redactUri, uriScheme } from "./tracking-uri.ts"

type StoreFactory = (uri: string) => Store

const hint = "set MLFLOW_TRACKING_URI=./mlruns or an http(s):// tracking server"

const trackingServer: StoreFactory = (uri) => {
  throw new ToolError(
    "tracking.unsupported",
    `Tracking URI ${redactUri(uri)} points at an MLflow tracking server; support for servers arrives with the REST store, and until then only local mlruns folders work`,
    { hint: "set MLFLOW_TRACKING_URI=./mlruns (or leave it unset) to record runs in a local folder", exitCode: 2 },
  )
}

const database: StoreFactory = (uri) => {
  throw new ToolError(
    "tracking.unsupported",
    `Tracking URI scheme '${uriScheme(uri)}' is a database store, which mlproject does not write; it supports file stores (an mlruns folder) and, soon, MLflow tracking servers over http(s)`,
    { hint, exitCode: 2 },
  )
}

const registryOnly: StoreFactory = (uri) => {
  throw new ToolError("tracking.unsupported", `Tracking URI '${uri}' names a Unity Catalog model registry, which cannot record runs`, { hint, exitCode: 2 })
}

const stores: Readonly<Record<string, StoreFactory>> = {
  "": (path) => createFileStore(resolve(path)),
  file: (uri) => createFileStore(resolve(fileUriToPath(uri))),
  http: trackingServer,
  https: trackingServer,
  databricks: trackingServer,
  "databricks-uc": registryOnly,
  uc: registryOnly,
  sqlite: database,
  postgresql: database,
  mysql: database,
  mssql: database,
}

/** The store for a tracking URI (as resolveTrackingUri returns it): `file:` or a plain path → the file store. */
export const storeFor = (uri: string): Store => {
  // SQLAlchemy URIs name a driver after "+": postgresql+psycopg2://…
  const scheme = uriScheme(uri).split("+")[0] ?? ""
  const factory = stores[scheme]
  if (factory) return factory(uri)
  throw new ToolError("tracking.unsupported", `Tracking URI scheme '${scheme}' is not supported (${redactUri(uri)})`, { hint, exitCode: 2 })
}
