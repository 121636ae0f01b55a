// The REST store: the Store contract over an MLflow tracking server's (or Databricks') /api/2.0/mlflow API.
//
// Retries and duplicates: every call is retried like MLflow's client retries it. Most calls are safe to
// repeat: reads; runs/update and runs/set-tag (they set a value); log-batch and log-parameter (a param
// re-logged with the same value is accepted); experiments/create (a repeat answers
// RESOURCE_ALREADY_EXISTS and the experiment is read back by name). A repeated log-metric/log-batch may
// store one identical metric point twice on a server with a file backend (SQL backends keep one).
// runs/create is the one call whose repeat would leave a second run, so before it is sent again after
// an unanswered attempt, the experiment is searched for a run with the same name, start time and user.
import { ToolError } from "../errors.ts"
import type { CallOptions, Experiment, Metric, Run, Store } from "./types.ts"
import { terminalStatuses } from "./types.ts"
import { splitBatch } from "./rest-batch.ts"
import type { RestConfig } from "./rest-config.ts"
import { callApi, isRestError, type Payload } from "./rest-http.ts"
import { experimentFromJson, metricToJson, runFromJson } from "./rest-json.ts"
import { parseQuery } from "./search-runs.ts"

/** Runs asked for per runs/search page: MLflow's default page (SEARCH_MAX_RESULTS_DEFAULT), well under its 50000 limit. */
const searchPageSize = 1000

type CreateRunInput = Parameters<Store["createRun"]>[0]

const deletedExperiment = (name: string) =>
  new ToolError(
    "tracking.experiment.deleted",
    `Experiment '${name}' already exists in deleted state on the tracking server. Restore it (mlflow experiments restore) or choose another name.`,
    { exitCode: 2 },
  )

/** A filter value in quotes MLflow's search grammar accepts, or null when the text holds both kinds of quote. */
const quoted = (value: string): string | null => (!value.includes("'") ? `'${value}'` : !value.includes('"') ? `"${value}"` : null)

export const createRestStore = (config: RestConfig): Store => {
  // A call's signal ends its request in flight, its retries and its backoff: a hung server cannot hold an interrupt.
  const get = (endpoint: string, query: Payload, call?: CallOptions) => callApi(config, "GET", endpoint, query, { signal: call?.signal })
  const post = (endpoint: string, body: Payload, call?: CallOptions, recover?: () => Promise<Payload | null>) =>
    callApi(config, "POST", endpoint, body, { signal: call?.signal, ...(recover ? { recover } : {}) })

  /** get-by-name answers deleted experiments too; RESOURCE_DOES_NOT_EXIST means none. */
  const byName = async (name: string, call?: CallOptions): Promise<Experiment | null> => {
    try {
      return experimentFromJson((await get("experiments/get-by-name", { experiment_name: name }, call)).experiment)
    } catch (error) {
      if (isRestError(error, "RESOURCE_DOES_NOT_EXIST")) return null
      throw error
    }
  }

  /** The run an unanswered runs/create may have made: same name, start time and user in that experiment. */
  const findCreatedRun = async (input: CreateRunInput, call?: CallOptions): Promise<Payload | null> => {
    const name = input.run_name ? quoted(input.run_name) : null
    if (name === null) return null
    let reply: Payload
    try {
      reply = await post("runs/search", {
        experiment_ids: [input.experiment_id],
        filter: `tags.\`mlflow.runName\` = ${name}`,
        run_view_type: "ACTIVE_ONLY",
        max_results: 100,
      }, call)
    } catch (error) {
      if (call?.signal?.aborted) throw error
      // A server that cannot search leaves only the plain retry, as MLflow's own client does.
      return null
    }
    const runs = Array.isArray(reply.runs) ? reply.runs : []
    const match = runs.find((run) => {
      const info = runFromJson(run).info
      return info.start_time === input.start_time && info.user_id === input.user_id
    })
    return match === undefined ? null : { run: match }
  }

  const store: Store = {
    location: config.baseUrl,

    async getExperiment(experimentId, call) {
      try {
        return experimentFromJson((await get("experiments/get", { experiment_id: experimentId }, call)).experiment)
      } catch (error) {
        if (isRestError(error, "RESOURCE_DOES_NOT_EXIST")) return null
        throw error
      }
    },

    async getExperimentByName(name, call) {
      const experiment = await byName(name, call)
      return experiment?.lifecycle_stage === "active" ? experiment : null
    },

    async getOrCreateExperiment(name, call) {
      const existing = await byName(name, call)
      if (existing?.lifecycle_stage === "deleted") throw deletedExperiment(name)
      if (existing) return { experiment_id: existing.experiment_id, created: false }
      try {
        const reply = await post("experiments/create", { name }, call)
        return { experiment_id: String(reply.experiment_id), created: true }
      } catch (error) {
        // Another client created it between our read and our create (or our own create was retried).
        if (!isRestError(error, "RESOURCE_ALREADY_EXISTS")) throw error
        const raced = await byName(name, call)
        if (raced?.lifecycle_stage === "active") return { experiment_id: raced.experiment_id, created: false }
        if (raced) throw deletedExperiment(name)
        throw error
      }
    },

    async createRun(input, call) {
      const body = { experiment_id: input.experiment_id, user_id: input.user_id, start_time: input.start_time, run_name: input.run_name, tags: input.tags }
      const reply = await post("runs/create", body, call, () => findCreatedRun(input, call))
      const info = runFromJson(reply.run).info
      // runs/create takes no params (the store has no paramsAtCreate): they follow in log-batch calls.
      if (input.params?.length) await store.logBatch(info.run_id, { params: input.params }, call)
      return info
    },

    async getRun(runId, call) {
      try {
        return runFromJson((await get("runs/get", { run_id: runId }, call)).run)
      } catch (error) {
        if (!isRestError(error, "RESOURCE_DOES_NOT_EXIST")) throw error
        throw new ToolError("tracking.run.not_found", `Run '${runId}' not found on ${config.label}`, {
          hint: "check the run id and MLFLOW_TRACKING_URI",
          exitCode: 2,
        })
      }
    },

    // The REST API has no call for the info alone.
    async getRunInfo(runId, call) {
      return (await store.getRun(runId, call)).info
    },

    async searchRuns(input, call) {
      // Parsed here too: a filter MLflow would refuse fails before any request, with its column.
      parseQuery(input.filter, input.orderBy)
      const max = input.maxResults ?? Infinity
      const runs: Run[] = []
      let token: string | undefined
      do {
        const reply = await post("runs/search", {
          experiment_ids: [...new Set(input.experimentIds)],
          filter: input.filter ?? "",
          run_view_type: input.runViewType ?? "ACTIVE_ONLY",
          max_results: Math.min(max - runs.length, searchPageSize),
          order_by: input.orderBy ?? [],
          ...(token !== undefined ? { page_token: token } : {}),
        }, call)
        const page = Array.isArray(reply.runs) ? reply.runs.map(runFromJson) : []
        runs.push(...page.slice(0, max - runs.length))
        const next = typeof reply.next_page_token === "string" && reply.next_page_token !== "" ? reply.next_page_token : undefined
        // A server that answers an empty page, or the same token again, would page forever.
        if (page.length === 0 || next === token) break
        token = next
      } while (token !== undefined && runs.length < max)
      return runs
    },

    async logBatch(runId, batch, call) {
      for (const piece of splitBatch(batch)) {
        await post("runs/log-batch", { run_id: runId, metrics: piece.metrics.map(metricToJson), params: piece.params, tags: piece.tags }, call)
      }
    },

    async setTag(runId, key, value, call) {
      await post("runs/set-tag", { run_id: runId, run_uuid: runId, key, value }, call)
    },

    async updateRun(runId, update, call) {
      // The REST API has no conditional update: the status is read first.
      if (update.unlessEnded && terminalStatuses.has((await store.getRunInfo(runId, call)).status)) return
      const terminal = update.status !== undefined && terminalStatuses.has(update.status)
      // Ending a run without saying when means now, as the file store and MLflow's set_terminated do.
      const endTime = update.end_time ?? (terminal ? Date.now() : undefined)
      await post("runs/update", {
        run_id: runId,
        run_uuid: runId,
        ...(update.status !== undefined ? { status: update.status } : {}),
        ...(endTime !== undefined ? { end_time: endTime } : {}),
        ...(update.run_name ? { run_name: update.run_name } : {}),
      }, call)
    },

    async logMetric(runId, metric: Metric, call) {
      await post("runs/log-metric", { run_id: runId, run_uuid: runId, ...metricToJson(metric) }, call)
    },
  }
  return store
}
