// The Databricks backend's configuration (`-c`): MLflow's cluster spec file, or our keys around a new or existing cluster.
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"

export type ClusterChoice = { new_cluster: Record<string, unknown> } | { existing_cluster_id: string }

export type DatabricksConfig = {
  cluster: ClusterChoice
  libraries: unknown[]
  timeoutSeconds: number | null
  runName: string | null
  /** Where the project, the launcher and the binaries go; null: `dbfs:/mlflow-experiments/<experiment id>/projects-code`. */
  uploadRoot: string | null
  /** `scope/key` of a Databricks secret holding the tracking server's token, read by the launcher on the driver. */
  trackingTokenSecret: { scope: string; key: string } | null
  /** `binary`: run our own Linux binary on the driver; `mlflow`: `mlflow run` there (installed as a library); auto: binary when one is at hand. */
  launcher: "auto" | "binary" | "mlflow"
  warnings: string[]
}

const ours = ["new_cluster", "existing_cluster_id", "libraries", "timeout_seconds", "run_name", "upload_root", "tracking-token-secret", "launcher"]

// What MLflow puts into the backend config itself and then sends inside `new_cluster` when the file is the cluster spec.
const mlflowInternal = ["ENV_MANAGER", "SYNCHRONOUS", "DOCKER_ARGS", "STORAGE_DIR", "build_image", "docker_auth", "_mlflow_local_backend_run_id"]

const configError = (message: string, hint?: string) => new ToolError("databricks.config", message, { hint })

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const text = (config: Record<string, unknown>, key: string): string | null => {
  const value = config[key]
  if (value === undefined || value === null) return null
  if (typeof value !== "string" || value.trim() === "") throw configError(`backend config '${key}' must be a non-empty string, got ${JSON.stringify(value)}`)
  return value.trim()
}

/** `dbfs:/…` or `/Volumes/<catalog>/<schema>/<volume>/…`, without a trailing slash. */
export const checkUploadRoot = (root: string): string => {
  const trimmed = root.replace(/\/+$/, "")
  if (/^dbfs:\/[^/]/.test(trimmed) || /^dbfs:\/\/\/[^/]/.test(trimmed)) return trimmed.replace(/^dbfs:\/+/, "dbfs:/")
  if (/^\/Volumes\/[^/]+\/[^/]+\/[^/]+(\/|$)/.test(`${trimmed}/`)) return trimmed
  throw configError(`backend config 'upload_root' ${JSON.stringify(root)} must be a dbfs:/ path or a Unity Catalog volume path /Volumes/<catalog>/<schema>/<volume>[/…]`)
}

const secretRef = (value: string | null): DatabricksConfig["trackingTokenSecret"] => {
  if (value === null) return null
  const match = value.match(/^([^/\s]+)\/([^/\s]+)$/)
  if (!match) throw configError(`backend config 'tracking-token-secret' must be "scope/key", got ${JSON.stringify(value)}`)
  return { scope: match[1] as string, key: match[2] as string }
}

const clusterOf = (config: Record<string, unknown>, warnings: string[]): ClusterChoice => {
  const existing = config.existing_cluster_id
  const given = config.new_cluster
  if (existing !== undefined && given !== undefined) throw configError("the backend config gives both 'new_cluster' and 'existing_cluster_id': give one of them")
  if (existing !== undefined) {
    if (typeof existing !== "string" || existing.trim() === "") throw configError(`backend config 'existing_cluster_id' must be a cluster id, got ${JSON.stringify(existing)}`)
    return { existing_cluster_id: existing.trim() }
  }
  if (given !== undefined) {
    if (!isObject(given)) throw configError(`backend config 'new_cluster' must be a cluster specification (an object), got ${JSON.stringify(given)}`)
    for (const key of Object.keys(config).filter((name) => !ours.includes(name))) {
      const near = closest(key, ours)
      warnings.push(`unknown key '${key}' next to 'new_cluster' in the databricks backend config: ignored${near ? ` (did you mean '${near}'?)` : ""}`)
    }
    return { new_cluster: given }
  }
  // MLflow's form: the whole file is the cluster spec. Our keys and MLflow's own internal keys are not part of it (MLflow sends the latter).
  const spec = Object.fromEntries(Object.entries(config).filter(([key]) => !ours.includes(key) && !mlflowInternal.includes(key)))
  if (Object.keys(spec).length === 0) {
    throw configError("the databricks backend config names no cluster: give 'new_cluster' (a cluster specification) or 'existing_cluster_id'", 'e.g. -c \'{"existing_cluster_id": "0123-456789-abcdefgh"}\'')
  }
  return { new_cluster: spec }
}

/** `-c` for `-b databricks`, in MLflow's order and words where MLflow has them. */
export const readDatabricksConfig = (raw: unknown): DatabricksConfig => {
  if (raw === null || raw === undefined || (isObject(raw) && Object.keys(raw).length === 0)) {
    throw configError("Backend spec must be provided when launching MLflow project runs on Databricks.", "give -c cluster-spec.json (a new_cluster specification, or {\"existing_cluster_id\": …})")
  }
  if (!isObject(raw)) throw configError(`the databricks backend config must be a JSON object, got ${JSON.stringify(raw)}`)
  const warnings: string[] = []
  const cluster = clusterOf(raw, warnings)
  const libraries = raw.libraries ?? []
  if (!Array.isArray(libraries) || libraries.some((library) => !isObject(library))) throw configError(`backend config 'libraries' must be a list of library specifications, got ${JSON.stringify(raw.libraries)}`)
  const timeout = raw.timeout_seconds ?? null
  if (timeout !== null && !(typeof timeout === "number" && Number.isInteger(timeout) && timeout >= 0)) {
    throw configError(`backend config 'timeout_seconds' must be a whole number of seconds (0: none), got ${JSON.stringify(timeout)}`)
  }
  const launcher = text(raw, "launcher") ?? "auto"
  if (!["auto", "binary", "mlflow"].includes(launcher)) throw configError(`backend config 'launcher' must be auto, binary or mlflow, got ${JSON.stringify(launcher)}`)
  const root = text(raw, "upload_root")
  return {
    cluster,
    libraries,
    timeoutSeconds: timeout === 0 ? null : timeout,
    runName: text(raw, "run_name"),
    uploadRoot: root === null ? null : checkUploadRoot(root),
    trackingTokenSecret: secretRef(text(raw, "tracking-token-secret")),
    launcher: launcher as DatabricksConfig["launcher"],
    warnings,
  }
}
