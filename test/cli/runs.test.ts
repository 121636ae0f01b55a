// `mlproject runs show RUN_ID` through the compiled binary, from a file store and from a tracking server.
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { storeFor } from "../../src/tracking/store-for.ts"
import { pathToFileUri } from "../../src/tracking/tracking-uri.ts"
import { cli } from "../lib/cli.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "5" }

/** A finished run with a param, a metric logged twice and a tag. */
const recordRun = async (trackingUri: string, env: Record<string, string> = {}) => {
  const store = storeFor(trackingUri, env)
  const info = await store.createRun({ experiment_id: "0", user_id: "ada", start_time: 1_700_000_000_000, run_name: "calm-fox-1", tags: [{ key: "team", value: "a" }] })
  await store.logBatch(info.run_id, { params: [{ key: "alpha", value: "0.5" }] })
  await store.logMetric(info.run_id, { key: "loss", value: 0.9, timestamp: 1_700_000_000_100, step: 1 })
  await store.logMetric(info.run_id, { key: "loss", value: 0.4, timestamp: 1_700_000_000_200, step: 2 })
  await store.updateRun(info.run_id, { status: "FINISHED", end_time: 1_700_000_001_000 })
  return info.run_id
}

const expected = (runId: string) => ({
  type: "run.shown",
  run_id: runId,
  experiment_id: "0",
  run_name: "calm-fox-1",
  user_id: "ada",
  status: "FINISHED",
  start_time: 1_700_000_000_000,
  end_time: 1_700_000_001_000,
  lifecycle_stage: "active",
  params: { alpha: "0.5" },
  metrics: { loss: { value: 0.4, timestamp: 1_700_000_000_200, step: 2 } },
  tags: { team: "a", "mlflow.runName": "calm-fox-1" },
})

describe("mlproject runs show", () => {
  test("reads a file-store run, as JSON and as text", async () => {
    await using dir = tmpdirFor()
    const trackingUri = pathToFileUri(join(dir.path, "mlruns"))
    const runId = await recordRun(trackingUri)
    const json = await cli(["runs", "show", runId, "--json"], { cwd: dir.path })
    expect(json.code).toBe(0)
    expect(json.events).toEqual([expect.objectContaining({ ...expected(runId), tracking_uri: trackingUri, artifact_uri: `${trackingUri}/0/${runId}/artifacts` })])
    const text = await cli(["runs", "show", runId], { env: { MLFLOW_TRACKING_URI: join(dir.path, "mlruns") } })
    expect(text.code).toBe(0)
    for (const line of ["status:      FINISHED", "started:     2023-11-14T22:13:20.000Z", "  alpha: 0.5", "  loss: 0.4 (step 2)", "  team: a"]) expect(text.stdout).toContain(line)
  })

  test("reads a tracking server run with --tracking-uri", async () => {
    await using server = mlflowServer()
    const runId = await recordRun(server.url, fast)
    const result = await cli(["runs", "show", runId, "--tracking-uri", server.url, "--json"], { env: fast })
    expect(result.code).toBe(0)
    expect(result.events[0]).toMatchObject({ ...expected(runId), tracking_uri: server.url, artifact_uri: `mlflow-artifacts:/0/${runId}/artifacts` })
  })

  test("an unknown run exits 2 and names the store", async () => {
    await using server = mlflowServer()
    const result = await cli(["runs", "show", "f".repeat(32), "--json"], { env: { ...fast, MLFLOW_TRACKING_URI: server.url } })
    expect(result.code).toBe(2)
    expect(result.events[0]).toMatchObject({ type: "error", code: "tracking.run.not_found" })
    expect(result.events[0]?.message).toContain(server.url)
    expect((await cli(["runs", "lsit"])).stderr).toContain("unknown action 'runs lsit'")
  })
})
