// The searchRuns fixture every store records the same way: eight runs over two experiments, and the queries asked of them.
import type { RunStatus, SearchRunsInput, Store } from "../../src/tracking/types.ts"

type Spec = { name: string; start: number; status: RunStatus; params?: Record<string, string>; metrics?: Record<string, number>; tags?: Record<string, string>; deleted?: boolean; experiment?: "a" | "b" }

export const specs: Spec[] = [
  { name: "r1", start: 1000, status: "FINISHED", params: { alpha: "0.5", model: "LR" }, metrics: { rmse: 0.8, r2: 0.1 }, tags: { team: "a" } },
  { name: "r2", start: 2000, status: "FAILED", params: { alpha: "0.1", model: "RF" }, metrics: { rmse: NaN }, tags: { team: "b" } },
  { name: "r3", start: 3000, status: "FINISHED", params: { alpha: "0.5" }, metrics: { rmse: 0.5, r2: 0.3 }, tags: { team: "a", "mlflow.note": "x y" } },
  { name: "r4", start: 4000, status: "KILLED", params: { alpha: "1.0", model: "LR" } },
  { name: "r5", start: 5000, status: "RUNNING", params: { model: "lr" }, metrics: { rmse: Infinity }, tags: { "odd key": "v" } },
  { name: "r6", start: 6000, status: "FINISHED", params: { alpha: "0.5" }, metrics: { rmse: 0.4 }, deleted: true },
  { name: "r7", start: 7000, status: "FINISHED", params: { alpha: "2" }, metrics: { rmse: 0.9, "a b": 1 }, experiment: "b" },
  { name: "r8", start: 8000, status: "FINISHED", params: { alpha: "0.5", model: "Lr" }, metrics: { rmse: 0.6 }, tags: { team: "b" } },
]

/** Records the fixture through the Store API; returns the experiment ids and a way to mark a run deleted. */
export const record = async (store: Store, markDeleted: (runId: string, experimentId: string) => void): Promise<{ a: string; b: string }> => {
  const a = (await store.getOrCreateExperiment("search-a")).experiment_id
  const b = (await store.getOrCreateExperiment("search-b")).experiment_id
  for (const spec of specs) {
    const experimentId = spec.experiment === "b" ? b : a
    const tags = Object.entries(spec.tags ?? {}).map(([key, value]) => ({ key, value }))
    const info = await store.createRun({ experiment_id: experimentId, user_id: "ada", start_time: spec.start, run_name: spec.name, tags })
    await store.logBatch(info.run_id, {
      params: Object.entries(spec.params ?? {}).map(([key, value]) => ({ key, value })),
      metrics: Object.entries(spec.metrics ?? {}).map(([key, value]) => ({ key, value, timestamp: spec.start, step: 0 })),
    })
    if (spec.status !== "RUNNING") await store.updateRun(info.run_id, { status: spec.status, end_time: spec.start + 500 })
    if (spec.deleted) markDeleted(info.run_id, experimentId)
  }
  return { a, b }
}

export const queries: Array<Omit<SearchRunsInput, "experimentIds"> & { both?: boolean }> = [
  {},
  { filter: "params.alpha = '0.5'" },
  { filter: "params.model LIKE 'L%'" },
  { filter: "params.model ILIKE 'l_'" },
  { filter: "metrics.rmse < 0.7" },
  { filter: "metrics.rmse != 0.8" },
  { filter: "metrics.rmse >= 0.5 AND params.alpha = '0.5'" },
  { filter: "tags.team = 'a'" },
  { filter: "tags.team != 'a'" },
  { filter: "tags.`odd key` = 'v'" },
  { filter: "tags.mlflow.note = 'x y'" },
  { filter: "tags.team IS NULL" },
  { filter: "attributes.status = 'FINISHED'" },
  { filter: "status != 'FINISHED'" },
  { filter: "attributes.start_time > 2500 AND attributes.start_time <= 7000" },
  { filter: "attributes.end_time > 0" },
  { filter: "attributes.run_name LIKE 'r%'" },
  { orderBy: ["metrics.rmse"] },
  { orderBy: ["metrics.rmse DESC"] },
  { orderBy: ["params.alpha", "attributes.start_time ASC"] },
  { orderBy: ["params.model DESC"] },
  { orderBy: ["tags.team", "metrics.r2 DESC"] },
  { orderBy: ["attributes.end_time"] },
  { orderBy: ["attributes.start_time DESC"], maxResults: 3 },
  { orderBy: ["metrics.rmse"], maxResults: 5 },
  { maxResults: 1 },
  { runViewType: "ALL" },
  { runViewType: "DELETED_ONLY" },
  { filter: "params.alpha = '0.5'", runViewType: "ALL", orderBy: ["metrics.rmse ASC"] },
  { filter: "metrics.`a b` = 1", both: true },
  { orderBy: ["metrics.rmse"], both: true, maxResults: 4 },
]

