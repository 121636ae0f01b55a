// `mlproject runs list`: the runs of one or more experiments, filtered and ordered with MLflow's search syntax.
import { existsSync } from "node:fs"
import { ToolError } from "../errors.ts"
import { storeFor } from "../tracking/store-for.ts"
import { parseQuery } from "../tracking/search-runs.ts"
import { fileUriToPath, redactUri, uriScheme } from "../tracking/tracking-uri.ts"
import type { CallOptions, RunStatus, Store } from "../tracking/types.ts"
import type { OptionSpec, Parsed } from "./args.ts"
import type { CommandContext } from "./context.ts"
import { latestMetrics, trackingOf } from "./runs-common.ts"

export const listOptions: OptionSpec[] = [
  { long: "experiment-name", kind: "list", metavar: "NAME", description: "list: the experiment to list (default MLFLOW_EXPERIMENT_NAME, else experiment 0)" },
  { long: "experiment-id", kind: "list", metavar: "ID", description: "list: an experiment id to list (default MLFLOW_EXPERIMENT_ID)" },
  { long: "status", kind: "value", metavar: "STATUS", description: "list: only runs with this status (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)" },
  { long: "filter", kind: "value", metavar: "FILTER", description: "list: MLflow's search filter, e.g. \"params.alpha = '0.5' AND metrics.rmse < 0.8\"" },
  { long: "order-by", kind: "list", metavar: "KEY [ASC|DESC]", description: "list: e.g. metrics.rmse, params.alpha DESC (default: newest first)" },
  { long: "max", kind: "value", metavar: "N", description: "list: at most N runs (default 100)" },
]

const defaultMax = 100
const statuses: readonly RunStatus[] = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]

const maxOf = (raw: string | undefined): number => {
  if (raw === undefined) return defaultMax
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN
  if (!Number.isSafeInteger(value) || value < 1) throw new ToolError("usage", `--max ${raw}: expected a whole number of runs, at least 1`)
  return value
}

const statusOf = (raw: string | undefined): RunStatus | null => {
  if (raw === undefined) return null
  const status = statuses.find((s) => s === raw.trim().toUpperCase())
  if (status === undefined) throw new ToolError("usage", `--status ${raw}: expected one of ${statuses.join(", ")}`)
  return status
}

/** The experiments named by flags, else by MLFLOW_EXPERIMENT_ID / MLFLOW_EXPERIMENT_NAME, else Default (0), as `run` picks. */
const experimentIds = async (store: Store, parsed: Parsed, env: Record<string, string | undefined>, call: CallOptions): Promise<string[]> => {
  let names = parsed.lists["experiment-name"] ?? []
  let ids = parsed.lists["experiment-id"] ?? []
  if (names.length === 0 && ids.length === 0) {
    if (env.MLFLOW_EXPERIMENT_NAME !== undefined && env.MLFLOW_EXPERIMENT_ID !== undefined)
      throw new ToolError("usage", "MLFLOW_EXPERIMENT_NAME and MLFLOW_EXPERIMENT_ID are both set: which experiment to list is unclear", { hint: "unset one, or pass --experiment-name or --experiment-id" })
    names = env.MLFLOW_EXPERIMENT_NAME !== undefined ? [env.MLFLOW_EXPERIMENT_NAME] : []
    ids = env.MLFLOW_EXPERIMENT_ID !== undefined ? [env.MLFLOW_EXPERIMENT_ID] : names.length === 0 ? ["0"] : []
  }
  const found: string[] = []
  for (const id of ids) {
    if ((await store.getExperiment(id, call)) === null)
      throw new ToolError("experiment.not_found", `experiment id '${id}' does not exist in ${store.location}`, { hint: "give --experiment-name NAME or an id that exists" })
    found.push(id)
  }
  for (const name of names) {
    const experiment = await store.getExperimentByName(name, call)
    if (experiment === null)
      throw new ToolError("experiment.not_found", `no active experiment named '${name}' in ${store.location}`, { hint: "check the name (it is case-sensitive), or give --experiment-id" })
    found.push(experiment.experiment_id)
  }
  return [...new Set(found)]
}

/** A file store or sqlite file that does not exist has no runs to list; looking would create it (and its Default experiment). */
export const checkStoreExists = (trackingUri: string): void => {
  const scheme = uriScheme(trackingUri)
  const sqlite = /^sqlite(?:\+[^:]*)?:\/\/\/([^?#]+)/.exec(trackingUri)?.[1]
  const path = scheme === "file" ? fileUriToPath(trackingUri) : scheme === "" ? trackingUri : sqlite ? fileUriToPath(`file:///${sqlite.replace(/^\/+/, "")}`) : null
  if (path !== null && !existsSync(path))
    throw new ToolError("experiment.not_found", `there is no tracking store at ${path}: it holds no experiments and no runs to read`, {
      hint: "run in the folder that holds mlruns or mlflow.db, or set MLFLOW_TRACKING_URI / --tracking-uri to the store",
    })
}

export const listRuns = async (parsed: Parsed, context: CommandContext): Promise<number> => {
  const extra = parsed.positionals[1]
  if (extra !== undefined) throw new ToolError("usage", `unexpected argument '${extra}': 'runs list' takes options only`, { hint: "see 'mlproject runs --help'" })
  const max = maxOf(parsed.values.max)
  const status = statusOf(parsed.values.status)
  const userFilter = parsed.values.filter?.trim() || undefined
  const orderBy = parsed.lists["order-by"] ?? []
  // Checked before the store is contacted: a typo costs no request and names its column in the text given.
  parseQuery(userFilter, orderBy)
  const filter = [userFilter, status && `attributes.status = '${status}'`].filter(Boolean).join(" AND ") || undefined
  const { env, trackingUri } = trackingOf(parsed, context)
  checkStoreExists(trackingUri)
  const store = storeFor(trackingUri, env)
  const call = { signal: context.interrupt }
  const ids = await experimentIds(store, parsed, env, call)
  const unreadable: string[] = []
  const runs = await store.searchRuns(
    { experimentIds: ids, filter, orderBy, maxResults: max + 1, onUnreadable: (p) => void unreadable.push(`${p.run}: ${p.reason}`) },
    call,
  )
  if (unreadable.length > 0)
    context.emit({
      type: "warning",
      code: "runs.unreadable",
      message: `${unreadable.length} run folder${unreadable.length === 1 ? "" : "s"} in ${store.location} could not be read and ${unreadable.length === 1 ? "is" : "are"} not listed (${unreadable.slice(0, 3).join("; ")}${unreadable.length > 3 ? "; …" : ""})`,
      hint: "MLflow's own search skips folders without meta.yaml; a corrupt meta.yaml or metric file needs fixing by hand",
    })
  const shown = runs.slice(0, max)
  for (const run of shown) context.emit({ type: "run.listed", ...run.info, params: run.data.params, metrics: latestMetrics(run), tags: run.data.tags })
  context.emit({
    type: "runs.listed",
    tracking_uri: redactUri(trackingUri),
    experiment_ids: ids,
    filter: filter ?? null,
    order_by: orderBy,
    count: shown.length,
    more: runs.length > max,
    unreadable: unreadable.length,
  })
  return 0
}
