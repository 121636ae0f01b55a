// Rows of MLflow's tracking tables to the Store's shapes and back: numbers, booleans, NaN and infinities as MLflow keeps them.
import type { Experiment, Metric, Run, RunInfo, RunStatus } from "../types.ts"
import type { Row } from "./db-client.ts"

/** BIGINT columns come back as strings from the server clients; sqlite gives numbers. */
export const num = (value: unknown): number => (typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : Number(value))
export const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : num(value))
export const text = (value: unknown): string => (value === null || value === undefined ? "" : String(value))
export const flag = (value: unknown): boolean => value === true || value === 1 || value === "1" || value === "t" || value === "true" || value === 1n

/** MLflow stores NaN as 0 with is_nan set, and ±infinity as ±the largest double (SqlAlchemyStore's metric rows). */
export const storedMetricValue = (value: number): { value: number; isNan: boolean } => {
  if (Number.isNaN(value)) return { value: 0, isNan: true }
  if (value === Infinity) return { value: Number.MAX_VALUE, isNan: false }
  if (value === -Infinity) return { value: -Number.MAX_VALUE, isNan: false }
  return { value, isNan: false }
}

export const experimentOf = (row: Row, tags: Record<string, string>): Experiment => ({
  experiment_id: text(row.experiment_id),
  name: text(row.name),
  artifact_location: text(row.artifact_location),
  lifecycle_stage: row.lifecycle_stage === "deleted" ? "deleted" : "active",
  ...(row.creation_time !== null && row.creation_time !== undefined ? { creation_time: num(row.creation_time) } : {}),
  ...(row.last_update_time !== null && row.last_update_time !== undefined ? { last_update_time: num(row.last_update_time) } : {}),
  tags,
})

export const runInfoOf = (row: Row): RunInfo => ({
  run_id: text(row.run_uuid),
  experiment_id: text(row.experiment_id),
  run_name: text(row.name),
  user_id: text(row.user_id),
  status: text(row.status) as RunStatus,
  start_time: num(row.start_time),
  end_time: numOrNull(row.end_time),
  artifact_uri: text(row.artifact_uri),
  lifecycle_stage: row.lifecycle_stage === "deleted" ? "deleted" : "active",
})

export const metricOf = (row: Row): Metric => ({
  key: text(row.key),
  value: flag(row.is_nan) ? Number.NaN : num(row.value),
  timestamp: num(row.timestamp),
  step: num(row.step),
})

/** Groups key/value rows by their run: `{ run_uuid → { key → value } }`. */
export const byRun = <T>(rows: readonly Row[], value: (row: Row) => T): Map<string, Record<string, T>> => {
  const runs = new Map<string, Record<string, T>>()
  for (const row of rows) {
    const id = text(row.run_uuid)
    let entries = runs.get(id)
    if (!entries) runs.set(id, (entries = Object.create(null) as Record<string, T>))
    entries[text(row.key)] = value(row)
  }
  return runs
}

export const runOf = (info: RunInfo, params: Record<string, string>, tags: Record<string, string>, metrics: Record<string, Metric>): Run => ({
  info,
  data: { params, tags, metrics },
})

/** MLflow's latest-metric rule: the row with the greatest (step, timestamp, value) wins; ties keep the one there. */
export const isLater = (a: { step: number; timestamp: number; value: number }, b: { step: number; timestamp: number; value: number }): boolean =>
  a.step !== b.step ? a.step > b.step : a.timestamp !== b.timestamp ? a.timestamp > b.timestamp : a.value > b.value

/** A metric point as its row holds it: NaN as 0 with is_nan, infinities as the largest doubles. */
export type StoredPoint = { key: string; value: number; isNan: boolean; step: number; timestamp: number }

export const storedPoint = (metric: Metric): StoredPoint => ({ key: metric.key, ...storedMetricValue(metric.value), step: metric.step, timestamp: metric.timestamp })

/** The latest_metrics row of each key among these points, compared on the stored values as SqlAlchemyStore compares them. */
export const latestPoints = (points: readonly StoredPoint[]): Map<string, StoredPoint> => {
  const latest = new Map<string, StoredPoint>()
  for (const point of points) {
    const seen = latest.get(point.key)
    if (!seen || isLater(point, seen)) latest.set(point.key, point)
  }
  return latest
}
