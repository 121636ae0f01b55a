// Planning a Databricks run: config, tracking URI, project kind, workspace credentials and cluster, all before a run exists.
import { ToolError } from "../errors.ts"
import type { Emit } from "../events/event.ts"
import { isDatabricksUri } from "../tracking/databricks-config.ts"
import type { DatabricksApi } from "./databricks-api.ts"
import { linuxBinaries, type LinuxBinary } from "./databricks-binary.ts"
import { readDatabricksConfig, type DatabricksConfig } from "./databricks-config.ts"

type Env = Record<string, string | undefined>

export type DatabricksPlan = {
  config: DatabricksConfig
  /** The workspace the run goes to: the tracking URI's profile for `databricks[://profile]`, else the default credentials. */
  workspaceUri: string
  /** What the launcher on the driver records into: `databricks` for any Databricks URI, else the http(s) server. */
  clusterTrackingUri: string
  /** `binary`: our own Linux build runs the entry point on the driver; `mlflow`: `mlflow run` does. */
  launcher: "binary" | "mlflow"
  binaries: LinuxBinary[]
}

export type DatabricksPlanInput = {
  rawConfig: unknown
  env: Env
  trackingUri: string
  projectEnv: string
  emit: Emit
  signal?: AbortSignal
}

const checkTracking = (trackingUri: string) => {
  if (/^https?:\/\/[^/]*@/i.test(trackingUri)) {
    throw new ToolError("databricks.tracking", "the tracking URI carries credentials (user:password@), which would travel to the cluster as a task parameter", {
      hint: 'drop them from the URI, store the token in a Databricks secret and name it in the config: "tracking-token-secret": "scope/key"',
    })
  }
  if (isDatabricksUri(trackingUri) || /^https?:\/\//i.test(trackingUri)) return
  throw new ToolError(
    "databricks.tracking",
    "When running on Databricks, the MLflow tracking URI must be of the form 'databricks' or 'databricks://profile', or a remote HTTP URI accessible to both the current client and code running on Databricks. " +
      `Got local tracking URI ${trackingUri}. Please specify a valid tracking URI via mlflow.set_tracking_uri or by setting the MLFLOW_TRACKING_URI environment variable.`,
    { hint: "MLFLOW_TRACKING_URI=databricks records into the workspace's own tracking server" },
  )
}

/** A tracking server that wants a token here wants it on the driver too; it never travels as a parameter. */
const warnAboutCredentials = (config: DatabricksConfig, trackingUri: string, env: Env, emit: Emit) => {
  if (isDatabricksUri(trackingUri) || config.trackingTokenSecret) return
  const needs = ["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"].filter((name) => env[name])
  if (needs.length === 0) return
  emit({
    type: "warning",
    code: "databricks.tracking_credentials",
    message: `${needs.join(", ")} ${needs.length === 1 ? "is" : "are"} set here but not sent to the cluster: the entry point there may be refused by ${trackingUri}`,
    hint: 'store the token in a Databricks secret and name it in the config: "tracking-token-secret": "scope/key"',
  })
}

/** The state of an existing cluster; one that is not in the workspace is a databricks.cluster error. */
const existingCluster = async (api: DatabricksApi, id: string, signal?: AbortSignal): Promise<{ id: string; state?: string }> => {
  const cluster = await api.call<{ state?: string }>("GET", "/api/2.0/clusters/get", { query: { cluster_id: id }, signal }).catch((error: unknown) => {
    if (error instanceof ToolError && (error.code === "databricks.invalid" || error.code === "databricks.not_found")) {
      throw new ToolError("databricks.cluster", `cluster ${id} does not exist in the workspace ${api.host}: ${error.message}`, {
        hint: "give the id of a cluster of this workspace (databricks clusters list), or a new_cluster specification",
        cause: error,
      })
    }
    throw error
  })
  return { id, ...(cluster.state ? { state: cluster.state } : {}) }
}

export const planDatabricks = async (input: DatabricksPlanInput): Promise<DatabricksPlan> => {
  const config = readDatabricksConfig(input.rawConfig)
  for (const message of config.warnings) input.emit({ type: "warning", code: "databricks.config", message })
  checkTracking(input.trackingUri)
  if (input.projectEnv === "docker") throw new ToolError("databricks.project", "Running docker-based projects on Databricks is not yet supported.", { hint: "run docker_env projects with -b local or -b kubernetes" })
  warnAboutCredentials(config, input.trackingUri, input.env, input.emit)
  const workspaceUri = isDatabricksUri(input.trackingUri) ? input.trackingUri : "databricks"
  const { workspaceApi } = await import("./databricks-api.ts")
  const api = await workspaceApi(workspaceUri, input.env)
  // Asked at once: a refused credential or a workspace without a DBFS root (the probe's path need not exist), a cluster
  // that is not there, and the Linux builds hashed. Each fails now, before a run exists; failures are reported in this
  // order, so the same problem always gives the same message.
  const { targetSize } = await import("../databricks/upload.ts")
  const probed = targetSize(api.workspace, `${config.uploadRoot ?? "dbfs:/mlflow-experiments"}/mlproject-probe`, input.signal)
  const cluster = "existing_cluster_id" in config.cluster ? existingCluster(api, config.cluster.existing_cluster_id, input.signal) : Promise.resolve(null)
  const found = config.launcher === "mlflow" ? Promise.resolve([]) : linuxBinaries(input.env)
  const answers = await Promise.allSettled([probed, cluster, found])
  for (const answer of answers) if (answer.status === "rejected") throw answer.reason
  const [, clusterAnswer, binariesAnswer] = answers as [unknown, PromiseFulfilledResult<{ id: string; state?: string } | null>, PromiseFulfilledResult<LinuxBinary[]>]
  const existing = clusterAnswer.value
  // A stopped cluster is started by the Jobs service.
  if (existing?.state && existing.state !== "RUNNING") {
    input.emit({ type: "warning", code: "databricks.cluster_state", message: `cluster ${existing.id} is ${existing.state}: the run waits for it to start` })
  }
  const binaries = binariesAnswer.value
  if (config.launcher === "binary" && binaries.length === 0) {
    throw new ToolError("databricks.binary", `no Linux build of mlproject is at hand to run on the driver (this is ${process.platform}-${process.arch}${process.execPath.endsWith("bun") ? ", running from sources" : ""})`, {
      hint: 'build the release matrix (bun run build:all puts dist/linux-x64/mlproject beside dist/mlproject), or set "launcher": "mlflow"',
    })
  }
  const launcher = binaries.length > 0 ? "binary" : "mlflow"
  if (config.launcher === "auto" && launcher === "mlflow") {
    input.emit({ type: "warning", code: "databricks.launcher", message: "no Linux build of mlproject is at hand: the driver runs the entry point with `mlflow run` (MLflow is installed there as a library)" })
  }
  return { config, workspaceUri, clusterTrackingUri: isDatabricksUri(input.trackingUri) ? "databricks" : input.trackingUri, launcher, binaries }
}
