// findReusableRun: the newest FINISHED, active run of the experiment with the same run key; nothing else, from any store.
import { describe, expect, test } from "bun:test"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { findReusableRun } from "../../src/run/reuse.ts"
import { runKeyTag } from "../../src/run/run-key.ts"
import { createFileStore } from "../../src/tracking/file-store.ts"
import { createRestStore } from "../../src/tracking/rest-store.ts"
import { restConfigFromUri } from "../../src/tracking/rest-config.ts"
import type { RunStatus, Store } from "../../src/tracking/types.ts"
import { mlflowServer, type ServerRun } from "../lib/mlflow-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "5", MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" }
const key = "a".repeat(64)
const other = "b".repeat(64)

type Made = Record<string, string>

/** Runs around one key: only `older-finished` and `newer-finished` may ever be reused. */
const populate = async (store: Store, deleteRun: (runId: string, experimentId: string) => void): Promise<{ experiment: string; made: Made }> => {
  const experiment = (await store.getOrCreateExperiment("reuse")).experiment_id
  const elsewhere = (await store.getOrCreateExperiment("elsewhere")).experiment_id
  const made: Made = {}
  const add = async (name: string, start: number, status: RunStatus, runKey: string | null, experimentId = experiment) => {
    const info = await store.createRun({ experiment_id: experimentId, user_id: "ada", start_time: start, run_name: name, tags: runKey ? [{ key: runKeyTag, value: runKey }] : [] })
    if (status !== "RUNNING") await store.updateRun(info.run_id, { status, end_time: start + 10 })
    made[name] = info.run_id
  }
  await add("older-finished", 1000, "FINISHED", key)
  await add("newer-finished", 2000, "FINISHED", key)
  await add("killed", 3000, "KILLED", key)
  await add("failed", 4000, "FAILED", key)
  await add("running", 5000, "RUNNING", key)
  await add("deleted-finished", 6000, "FINISHED", key)
  await add("other-key", 7000, "FINISHED", other)
  await add("no-key", 8000, "FINISHED", null)
  await add("other-experiment", 9000, "FINISHED", key, elsewhere)
  deleteRun(made["deleted-finished"] as string, experiment)
  return { experiment, made }
}

const scenarios = async (store: Store, experiment: string, made: Made) => {
  expect((await findReusableRun(store, experiment, key))?.info.run_id).toBe(made["newer-finished"])
  expect((await findReusableRun(store, experiment, other))?.info.run_id).toBe(made["other-key"])
  expect(await findReusableRun(store, experiment, "c".repeat(64))).toBeNull()
  expect(await findReusableRun(store, experiment, "' OR '1'='1")).toBeNull()
  expect(await findReusableRun(store, experiment, key.toUpperCase())).toBeNull()
}

describe("findReusableRun", () => {
  test("file store: hits the newest FINISHED run; KILLED, FAILED, RUNNING, deleted runs and other experiments never", async () => {
    await using dir = tmpdirFor()
    const root = join(dir.path, "mlruns")
    const store = createFileStore(root, { sweepStamps: join(dir.path, "sweeps") })
    const { experiment, made } = await populate(store, (runId, experimentId) => {
      const meta = join(root, experimentId, runId, "meta.yaml")
      writeFileSync(meta, readFileSync(meta, "utf8").replace("lifecycle_stage: active", "lifecycle_stage: deleted"))
    })
    await scenarios(store, experiment, made)
    // With the newer one gone from FINISHED (deleted), the older one is the answer.
    const meta = join(root, experiment, made["newer-finished"] as string, "meta.yaml")
    writeFileSync(meta, readFileSync(meta, "utf8").replace("lifecycle_stage: active", "lifecycle_stage: deleted"))
    expect((await findReusableRun(store, experiment, key))?.info.run_id).toBe(made["older-finished"])
  })

  test("tracking server: the same answers, through one runs/search with MLflow's filter", async () => {
    await using server = mlflowServer()
    const store = createRestStore(restConfigFromUri(server.url, fast))
    const { experiment, made } = await populate(store, (runId) => void ((server.runs.get(runId) as ServerRun).info.lifecycle_stage = "deleted"))
    const before = server.calls("runs/search").length
    await scenarios(store, experiment, made)
    const first = server.calls("runs/search")[before]?.json
    expect(first).toMatchObject({
      experiment_ids: [experiment],
      filter: `tags.\`${runKeyTag}\` = '${key}' AND attributes.status = 'FINISHED'`,
      run_view_type: "ACTIVE_ONLY",
      order_by: ["attributes.start_time DESC"],
    })
    // Keys that are not 64 hex characters are never sent.
    expect(server.calls("runs/search").length - before).toBe(3)
  })

  test("a server that ignores the filter cannot make a KILLED, deleted or foreign run reused", async () => {
    await using server = mlflowServer()
    const store = createRestStore(restConfigFromUri(server.url, fast))
    const { experiment, made } = await populate(store, (runId) => void ((server.runs.get(runId) as ServerRun).info.lifecycle_stage = "deleted"))
    const runJson = (name: string) => {
      const run = server.runs.get(made[name] as string) as ServerRun
      return { info: run.info, data: { tags: [...run.tags].map(([k, value]) => ({ key: k, value })) } }
    }
    server.fail({ endpoint: "runs/search", status: 200, body: { runs: ["killed", "failed", "running", "deleted-finished", "other-experiment", "other-key"].map(runJson) } })
    expect(await findReusableRun(store, experiment, key)).toBeNull()
    server.fail({ endpoint: "runs/search", status: 200, body: { runs: ["killed", "older-finished"].map(runJson) } })
    expect((await findReusableRun(store, experiment, key))?.info.run_id).toBe(made["older-finished"])
  })
})
