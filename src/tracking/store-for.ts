// Picks the tracking store for a tracking URI by its scheme.
import { statSync } from "node:fs"
import { join, resolve } from "node:path"
import { ToolError } from "../errors.ts"
import type { Store } from "./types.ts"
import { createFileStore } from "./file-store.ts"
import { fileUriToPath, redactUri, uriScheme } from "./tracking-uri.ts"
import { databricksRestConfig } from "./databricks-config.ts"
import { restConfigFromUri } from "./rest-config.ts"
import { createRestStore } from "./rest-store.ts"
import { mlprojectHome } from "../util/paths.ts"

type Env = Readonly<Record<string, string | undefined>>
type StoreFactory = (uri: string, env: Env) => Store

const hint = "set MLFLOW_TRACKING_URI=./mlruns or an http(s):// tracking server"

const trackingServer: StoreFactory = (uri, env) => createRestStore(restConfigFromUri(uri, env))

const databricks: StoreFactory = (uri, env) => createRestStore(databricksRestConfig(uri, env))

const database: StoreFactory = (uri) => {
  throw new ToolError(
    "tracking.unsupported",
    `Tracking URI scheme '${uriScheme(uri)}' is a database store, which mlproject does not write; it supports file stores (an mlruns folder), MLflow tracking servers over http(s) and Databricks`,
    { hint, exitCode: 2 },
  )
}

const registryOnly: StoreFactory = (uri) => {
  throw new ToolError("tracking.unsupported", `Tracking URI '${uri}' names a Unity Catalog model registry, which cannot record runs`, { hint, exitCode: 2 })
}

/** A file store's root must be a folder (or not exist yet): a file there is a mistyped MLFLOW_TRACKING_URI. */
const fileStore = (root: string, env: Env): Store => {
  if (statSync(root, { throwIfNoEntry: false })?.isFile()) {
    throw new ToolError("tracking.not_a_folder", `Tracking store ${root} is a file, not an mlruns folder`, { hint, exitCode: 2 })
  }
  return createFileStore(root, { sweepStamps: join(mlprojectHome(env), "sweeps") })
}

const stores: Readonly<Record<string, StoreFactory>> = {
  "": (path, env) => fileStore(resolve(path), env),
  file: (uri, env) => fileStore(resolve(fileUriToPath(uri)), env),
  http: trackingServer,
  https: trackingServer,
  databricks,
  "databricks-uc": registryOnly,
  uc: registryOnly,
  sqlite: database,
  postgresql: database,
  mysql: database,
  mssql: database,
}

/**
 * The store for a tracking URI (as resolveTrackingUri returns it): `file:` or a plain path → the file store,
 * `http(s)://` → an MLflow tracking server, `databricks[://profile]` → a Databricks workspace. `env` holds
 * the server's credentials and HTTP settings (MLFLOW_TRACKING_*, MLFLOW_HTTP_REQUEST_*, DATABRICKS_*).
 */
export const storeFor = (uri: string, env: Env = process.env): Store => {
  // SQLAlchemy URIs name a driver after "+": postgresql+psycopg2://…
  const scheme = uriScheme(uri).split("+")[0] ?? ""
  const factory = stores[scheme]
  if (factory) return factory(uri, env)
  throw new ToolError("tracking.unsupported", `Tracking URI scheme '${scheme}' is not supported (${redactUri(uri)})`, { hint, exitCode: 2 })
}
