// MLflow's REST JSON (protobuf's JSON mapping) to and from our Experiment, Run and Metric shapes.
import { ToolError } from "../errors.ts"
import { parsePythonFloat } from "./metric-line.ts"
import type { Experiment, Metric, Run, RunInfo, RunStatus, Tag } from "./types.ts"

export type Json = Record<string, unknown>

const statuses = new Set<RunStatus>(["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"])

const malformed = (what: string, value: unknown): ToolError =>
  new ToolError("tracking.server", `The tracking server sent a malformed ${what}: ${JSON.stringify(value)?.slice(0, 300)}`, { exitCode: 1 })

const object = (value: unknown, what: string): Json => {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Json
  throw malformed(what, value)
}

const text = (value: unknown): string => (typeof value === "string" ? value : value === undefined || value === null ? "" : String(value))

// int64 fields arrive as numbers from MLflow and as strings from some servers (protobuf's canonical mapping).
const integer = (value: unknown): number | null => {
  if (value === undefined || value === null || value === "") return null
  const number = Number(value)
  return Number.isFinite(number) ? number : null
}

/** A double: protobuf writes NaN and the infinities as "NaN", "Infinity", "-Infinity". */
const double = (value: unknown): number => (typeof value === "number" ? value : Number(text(value)))

const pairs = (value: unknown): Tag[] =>
  Array.isArray(value) ? value.map((entry) => ({ key: text((entry as Json)?.key), value: text((entry as Json)?.value) })) : []

const record = (value: unknown): Record<string, string> => Object.fromEntries(pairs(value).map((t) => [t.key, t.value]))

export const experimentFromJson = (value: unknown): Experiment => {
  const json = object(value, "experiment")
  const creation = integer(json.creation_time)
  const update = integer(json.last_update_time)
  return {
    experiment_id: text(json.experiment_id),
    name: text(json.name),
    artifact_location: text(json.artifact_location),
    lifecycle_stage: json.lifecycle_stage === "deleted" ? "deleted" : "active",
    ...(creation !== null ? { creation_time: creation } : {}),
    ...(update !== null ? { last_update_time: update } : {}),
    tags: record(json.tags),
  }
}

export const metricFromJson = (value: unknown): Metric => {
  const json = object(value, "metric")
  return { key: text(json.key), value: double(json.value), timestamp: integer(json.timestamp) ?? 0, step: integer(json.step) ?? 0 }
}

export const runInfoFromJson = (value: unknown, tags: Record<string, string> = {}): RunInfo => {
  const json = object(value, "run info")
  const status = text(json.status) as RunStatus
  if (!statuses.has(status)) throw malformed("run status", json.status)
  const runId = text(json.run_id) || text(json.run_uuid)
  return {
    run_id: runId,
    experiment_id: text(json.experiment_id),
    // Servers before MLflow 1.29 have no run_name field; the tag holds it.
    run_name: text(json.run_name) || tags["mlflow.runName"] || "",
    user_id: text(json.user_id),
    status,
    start_time: integer(json.start_time) ?? 0,
    end_time: integer(json.end_time),
    artifact_uri: text(json.artifact_uri),
    lifecycle_stage: json.lifecycle_stage === "deleted" ? "deleted" : "active",
  }
}

export const runFromJson = (value: unknown): Run => {
  const json = object(value, "run")
  const data = json.data === undefined ? {} : object(json.data, "run data")
  const tags = record(data.tags)
  const metrics: Record<string, Metric> = {}
  for (const entry of Array.isArray(data.metrics) ? data.metrics : []) {
    const metric = metricFromJson(entry)
    metrics[metric.key] = metric
  }
  return { info: runInfoFromJson(json.info, tags), data: { params: record(data.params), tags, metrics } }
}

/** A metric as log-batch and log-metric take it. */
export const metricToJson = (metric: Metric): Json => ({ key: metric.key, value: metric.value, timestamp: metric.timestamp, step: metric.step })

export type Batch = { params: Tag[]; tags: Tag[]; metrics: Metric[] }

const invalidBatch = (message: string): ToolError => new ToolError("log.batch.invalid", message, { exitCode: 2 })

const entries = (value: unknown, what: string): Json[] => {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw invalidBatch(`'${what}' must be a list of objects`)
  return value.map((entry, index) => {
    if (entry !== null && typeof entry === "object" && !Array.isArray(entry)) return entry as Json
    throw invalidBatch(`${what}[${index}] must be an object, got ${JSON.stringify(entry)}`)
  })
}

/** A param or tag entry; `label` names it in messages (`params[3]`, or `param` for a JSON line). */
export const keyValueEntry = (entry: Json, label: string): Tag => {
  if (typeof entry.key !== "string" || entry.key === "") throw invalidBatch(`${label} needs a "key" string`)
  if (entry.value === undefined || entry.value === null || typeof entry.value === "object") throw invalidBatch(`${label} ('${entry.key}') needs a "value"`)
  return { key: entry.key, value: String(entry.value) }
}

const metricValue = (raw: unknown, key: string, label: string): number => {
  const value = typeof raw === "number" ? raw : typeof raw === "string" ? parsePythonFloat(raw) : null
  if (value === null) throw invalidBatch(`${label} ('${key}') needs a numeric "value", got ${JSON.stringify(raw)}`)
  return value
}

// The field's name is put together only for the error: this runs twice for each of 10,000 JSON lines.
const wholeNumber = (raw: unknown, fallback: number, label: string, field: string): number => {
  if (raw === undefined || raw === null) return fallback
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw
  if (typeof value === "number" && Number.isSafeInteger(value)) return value
  throw invalidBatch(`${label}.${field} must be a whole number, got ${JSON.stringify(raw)}`)
}

/** A metric entry; the value may be a JSON number or Python's float text ("nan", "-inf"); timestamp defaults to `now`, step to 0. */
export const metricEntry = (entry: Json, now: number, label: string): Metric => {
  if (typeof entry.key !== "string" || entry.key === "") throw invalidBatch(`${label} needs a "key" string`)
  return {
    key: entry.key,
    value: metricValue(entry.value, entry.key, label),
    timestamp: wholeNumber(entry.timestamp, now, label, "timestamp"),
    step: wholeNumber(entry.step, 0, label, "step"),
  }
}

/** MLflow's log-batch request body (`{metrics, params, tags}`, run_id ignored); timestamps default to `now`, steps to 0. */
export const batchFromJson = (value: unknown, now: number): Batch => {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw invalidBatch("the batch must be a JSON object with 'metrics', 'params' and/or 'tags' lists")
  const json = value as Json
  const metrics = entries(json.metrics, "metrics").map((entry, index) => metricEntry(entry, now, `metrics[${index}]`))
  const params = entries(json.params, "params").map((entry, index) => keyValueEntry(entry, `params[${index}]`))
  const tags = entries(json.tags, "tags").map((entry, index) => keyValueEntry(entry, `tags[${index}]`))
  return { params, tags, metrics }
}
