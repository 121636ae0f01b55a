// Picks the tracking store for a tracking URI by its scheme.
import { dirname, join, resolve } from "node:path"
import { ToolError } from "../errors.ts"
import { statIfPresent } from "../util/fs-atomic.ts"
import type { Store } from "./types.ts"
import { callStore, storeOf } from "./store-methods.ts"
import { fileUriToPath, redactUri, uriScheme } from "./tracking-uri.ts"
import type { RestConfig } from "./rest-config.ts"
import { mlprojectHome } from "../util/paths.ts"
import { redactUrl } from "../util/redact.ts"

type Env = Readonly<Record<string, string | undefined>>
type StoreFactory = (uri: string, env: Env) => Store

const hint = "set MLFLOW_TRACKING_URI to sqlite:///mlflow.db, ./mlruns, a postgresql:// or mysql:// database, or an http(s):// tracking server"

/**
 * Each kind of store's code loads on its first call, so a command evaluates only the store it uses (a file store
 * never the REST, HTTP or SQL code, and the other way round). What can be checked without it is checked at once.
 */
const lazyStore = <Code>(location: string, load: () => Promise<Code>, open: (code: Code) => Store, paramsAtCreate = false): Store => {
  let code: Promise<Code> | null = null
  let opened: Promise<Store> | null = null
  const loaded = () => (code ??= load())
  const store = storeOf(location, async (method, args) => callStore(await (opened ??= loaded().then(open)), method, args), paramsAtCreate)
  // A failed load is reported by the first real call, where the command expects it.
  return { ...store, warm: () => void loaded().catch(() => {}) }
}

/** The config is read now: a bad URI or credential setting is reported where the store is chosen. */
const restStore = (config: RestConfig): Store => lazyStore(config.baseUrl, () => import("./rest-store.ts"), ({ createRestStore }) => createRestStore(config))

// The config readers are required by the factories that use them: a file store's commands (`log metric` once per
// training step) never evaluate the HTTP settings, credential files or Databricks profiles.
const trackingServer: StoreFactory = (uri, env) =>
  restStore((require("./rest-config.ts") as typeof import("./rest-config.ts")).restConfigFromUri(uri, env))

const databricks: StoreFactory = (uri, env) =>
  restStore((require("./databricks-config.ts") as typeof import("./databricks-config.ts")).databricksRestConfig(uri, env))

/** bun:sqlite or Bun.SQL load with the database store's code. */
const database: StoreFactory = (uri, env) => lazyStore(redactUrl(uri), () => import("./sql/db-store.ts"), ({ openDbStore }) => openDbStore(uri, env), true)

const mssql: StoreFactory = (uri) => {
  throw new ToolError("tracking.unsupported", `Tracking URI scheme '${uriScheme(uri)}' (Microsoft SQL Server) is not supported; mlproject writes sqlite, PostgreSQL and MySQL databases`, {
    hint,
    exitCode: 2,
  })
}

const registryOnly: StoreFactory = (uri) => {
  throw new ToolError("tracking.unsupported", `Tracking URI '${uri}' names a Unity Catalog model registry, which cannot record runs`, { hint, exitCode: 2 })
}

/** The file that stands where `path` needs a folder (`notes.txt` of notes.txt/mlruns), or null. */
const fileOnPath = (path: string): string | null => {
  for (let parent = dirname(path); parent !== path; path = parent, parent = dirname(parent)) {
    const entry = statIfPresent(parent)
    if (entry) return entry.isDirectory() ? null : parent
  }
  return null
}

/** A file store's root must be a folder (or not exist yet): a file there is a mistyped MLFLOW_TRACKING_URI. */
const fileStore = (root: string, env: Env): Store => {
  const entry = statIfPresent(root)
  if (entry?.isFile()) {
    throw new ToolError("tracking.not_a_folder", `Tracking store ${root} is a file, not an mlruns folder`, { hint, exitCode: 2 })
  }
  const blocking = entry ? null : fileOnPath(root)
  if (blocking) throw new ToolError("tracking.not_a_folder", `Tracking store ${root} cannot be a folder: ${blocking} is a file`, { hint, exitCode: 2 })
  const sweepStamps = join(mlprojectHome(env), "sweeps")
  return lazyStore(root, () => import("./file-store.ts"), ({ createFileStore }) => createFileStore(root, { sweepStamps }), true)
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
  mariadb: database,
  postgres: database,
  mssql,
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

/** Loads the code of the store a tracking URI names, for a command about to wait on something else (a fetch). */
export const warmStoreCode = (uri: string, env: Env = process.env): void => {
  try {
    storeFor(uri, env).warm?.()
  } catch {
    // A URI no store takes is reported where the store is opened.
  }
}
