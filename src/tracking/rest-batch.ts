// Splits a batch of params, tags and metrics into requests within MLflow's log-batch limits, as MLflow's client does.
import { limits } from "./key-rules.ts"
import type { Batch } from "./rest-json.ts"

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = []
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size))
  return out
}

/**
 * Params and tags go 100 at a time, each request topped up with metrics to 1000 entities; the metrics
 * left over go 1000 a request. Order is kept, so a later tag with the same key still wins.
 * The pieces are separate requests: a failure part-way leaves the earlier pieces logged.
 */
export const splitBatch = (batch: Partial<Batch>): Batch[] => {
  const paramChunks = chunks(batch.params ?? [], limits.paramsPerBatch)
  const tagChunks = chunks(batch.tags ?? [], limits.tagsPerBatch)
  const metrics = batch.metrics ?? []
  const out: Batch[] = []
  let used = 0
  for (let index = 0; index < Math.max(paramChunks.length, tagChunks.length); index++) {
    const params = paramChunks[index] ?? []
    const tags = tagChunks[index] ?? []
    const room = Math.max(0, Math.min(limits.entitiesPerBatch - params.length - tags.length, limits.metricsPerBatch))
    out.push({ params, tags, metrics: metrics.slice(used, used + room) })
    used += room
  }
  for (const rest of chunks(metrics.slice(used), limits.metricsPerBatch)) out.push({ params: [], tags: [], metrics: rest })
  return out
}
