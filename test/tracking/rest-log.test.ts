// Logging into an existing run (what `mlproject log` does): batch splitting, batch JSON, artifact locations, both stores.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { isToolError } from "../../src/errors.ts"
import { proxyUrl } from "../../src/tracking/rest-artifacts.ts"
import { splitBatch } from "../../src/tracking/rest-batch.ts"
import { batchFromJson } from "../../src/tracking/rest-json.ts"
import { activeRun, logToRun, type LogTarget } from "../../src/tracking/rest-log.ts"
import { storeFor } from "../../src/tracking/store-for.ts"
import { pathToFileUri } from "../../src/tracking/tracking-uri.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "2" }
const sizes = (metrics: number, params: number, tags: number) =>
  splitBatch({
    metrics: Array.from({ length: metrics }, (_, i) => ({ key: "m", value: i, timestamp: 0, step: i })),
    params: Array.from({ length: params }, (_, i) => ({ key: `p${i}`, value: "" })),
    tags: Array.from({ length: tags }, (_, i) => ({ key: `t${i}`, value: "" })),
  }).map((b) => [b.metrics.length, b.params.length, b.tags.length])

test.each([
  [0, 0, 0, []],
  [1000, 0, 0, [[1000, 0, 0]]],
  [1001, 0, 0, [[1000, 0, 0], [1, 0, 0]]],
  [10, 100, 100, [[10, 100, 100]]],
  [1000, 100, 100, [[800, 100, 100], [200, 0, 0]]],
  [0, 101, 0, [[0, 100, 0], [0, 1, 0]]],
  [5, 150, 250, [[5, 100, 100], [0, 50, 100], [0, 0, 50]]],
])("splitBatch(%d metrics, %d params, %d tags)", (metrics, params, tags, expected) => {
  expect(sizes(metrics, params, tags)).toEqual(expected)
})

test.each([
  ["mlflow-artifacts:/0/abc/artifacts", "http://h:5000", "http://h:5000/api/2.0/mlflow-artifacts/artifacts/0/abc/artifacts"],
  ["mlflow-artifacts:/0/abc/artifacts", "https://h/mlflow/", "https://h/mlflow/api/2.0/mlflow-artifacts/artifacts/0/abc/artifacts"],
  ["mlflow-artifacts://other:8080/1/r/artifacts", "http://h:5000", "http://other:8080/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts"],
])("proxyUrl(%s, %s)", (artifactUri, trackingUri, expected) => {
  expect(proxyUrl(artifactUri, trackingUri)).toBe(expected)
})

describe("batch JSON", () => {
  test("takes MLflow's log-batch shape with defaults for timestamp and step", () => {
    const batch = batchFromJson(
      { run_id: "ignored", metrics: [{ key: "loss", value: 0.5 }, { key: "acc", value: "NaN", timestamp: 7, step: "3" }], params: [{ key: "a", value: 1 }], tags: [{ key: "t", value: "v" }] },
      1234,
    )
    expect(batch.metrics[0]).toEqual({ key: "loss", value: 0.5, timestamp: 1234, step: 0 })
    expect(batch.metrics[1]).toMatchObject({ key: "acc", timestamp: 7, step: 3 })
    expect(batch.metrics[1]?.value).toBeNaN()
    expect(batch.params).toEqual([{ key: "a", value: "1" }])
    expect(batch.tags).toEqual([{ key: "t", value: "v" }])
  })

  test.each([
    [[1, 2], "must be a JSON object"],
    [{ metrics: {} }, "'metrics' must be a list"],
    [{ metrics: [{ key: "x", value: "high" }] }, 'numeric "value"'],
    [{ metrics: [{ value: 1 }] }, 'needs a "key"'],
    [{ params: [{ key: "p" }] }, 'needs a "value"'],
    [{ metrics: [{ key: "x", value: 1, step: 1.5 }] }, "whole number"],
  ])("%j is refused: %s", (json, message) => {
    try {
      batchFromJson(json, 0)
      throw new Error("expected a refusal")
    } catch (error) {
      expect(isToolError(error) && error.code).toBe("log.batch.invalid")
      expect((error as Error).message).toContain(message)
    }
  })
})

test("without MLFLOW_RUN_ID there is no run to log to", () => {
  try {
    activeRun({}, "/tmp")
    throw new Error("expected a refusal")
  } catch (error) {
    expect(isToolError(error) && error.code).toBe("log.no_run")
    expect((error as Error & { hint: string }).hint).toContain("run this inside `mlproject run`, or set MLFLOW_RUN_ID")
  }
  expect(activeRun({ MLFLOW_RUN_ID: "abc", MLFLOW_TRACKING_URI: "http://h" }, "/tmp")).toEqual({ runId: "abc", trackingUri: "http://h" })
  // No store named and no ./mlruns with experiments: MLflow 3.7's sqlite default.
  expect(activeRun({ MLFLOW_RUN_ID: "abc" }, "/work")).toEqual({ runId: "abc", trackingUri: "sqlite:////work/mlflow.db" })
})

/** Every kind of write, then the run as the store reads it back. */
const logEverything = async (target: LogTarget, env: Record<string, string>, dir: string) => {
  const file = join(dir, "report.txt")
  await Bun.write(file, "accuracy 0.9\n")
  await Bun.write(join(dir, "plots", "a.csv"), "x,y\n")
  await logToRun(target, { kind: "param", key: "alpha", value: "0.5" }, env)
  await logToRun(target, { kind: "tag", key: "stage", value: "dev" }, env)
  await logToRun(target, { kind: "metric", key: "loss", value: 0.25, step: 2, timestamp: 1000 }, env)
  const metrics = Array.from({ length: 1500 }, (_, i) => ({ key: "curve", value: i / 10, timestamp: 2000 + i, step: i }))
  const batch = await logToRun(target, { kind: "batch", batch: { metrics, params: [{ key: "beta", value: "2" }], tags: [] } }, env)
  expect(batch).toMatchObject({ metrics: 1500, params: 1, tags: 0 })
  expect((await logToRun(target, { kind: "artifact", localPath: file, artifactPath: "reports/v1" }, env)).artifacts).toEqual(["reports/v1/report.txt"])
  expect((await logToRun(target, { kind: "artifact", localPath: join(dir, "plots") }, env)).artifacts).toEqual(["plots/a.csv"])
  const run = await storeFor(target.trackingUri, env).getRun(target.runId)
  expect(run.data.params).toMatchObject({ alpha: "0.5", beta: "2" })
  expect(run.data.tags.stage).toBe("dev")
  expect(run.data.metrics.loss).toEqual({ key: "loss", value: 0.25, timestamp: 1000, step: 2 })
  expect(run.data.metrics.curve).toEqual({ key: "curve", value: 149.9, timestamp: 3499, step: 1499 })
  return run
}

describe("logToRun", () => {
  test("writes every kind into a file store run, artifacts copied into its artifacts/ folder", async () => {
    await using dir = tmpdirFor()
    const trackingUri = pathToFileUri(join(dir.path, "mlruns"))
    const info = await storeFor(trackingUri).createRun({ experiment_id: "0", user_id: "u", start_time: 1, run_name: "r", tags: [] })
    const run = await logEverything({ runId: info.run_id, trackingUri }, {}, dir.path)
    const artifacts = join(dir.path, "mlruns", "0", info.run_id, "artifacts")
    expect(readFileSync(join(artifacts, "reports", "v1", "report.txt"), "utf8")).toBe("accuracy 0.9\n")
    expect(existsSync(join(artifacts, "plots", "a.csv"))).toBe(true)
    expect(readFileSync(join(dir.path, "mlruns", "0", info.run_id, "metrics", "curve"), "utf8").split("\n").length).toBe(1501)
    expect(run.info.artifact_uri).toBe(pathToFileUri(artifacts))
  })

  test("writes every kind to a tracking server, artifacts through its mlflow-artifacts proxy with the same credentials", async () => {
    await using dir = tmpdirFor()
    await using server = mlflowServer({ auth: "Bearer tok", prefix: "/mlflow" })
    const env = { ...fast, MLFLOW_TRACKING_TOKEN: "tok" }
    const info = await storeFor(server.url, env).createRun({ experiment_id: "0", user_id: "u", start_time: 1, run_name: "r", tags: [] })
    await logEverything({ runId: info.run_id, trackingUri: server.url }, env, dir.path)
    expect(server.artifacts.get(`0/${info.run_id}/artifacts/reports/v1/report.txt`)).toBe("accuracy 0.9\n")
    expect(server.artifacts.get(`0/${info.run_id}/artifacts/plots/a.csv`)).toBe("x,y\n")
    expect(server.calls("runs/log-batch").map((c) => (c.json.metrics as unknown[]).length)).toEqual([0, 999, 501])
  })

  test("artifact paths must stay inside the run's artifacts", async () => {
    await using dir = tmpdirFor()
    const trackingUri = pathToFileUri(join(dir.path, "mlruns"))
    const info = await storeFor(trackingUri).createRun({ experiment_id: "0", user_id: "u", start_time: 1, run_name: "r", tags: [] })
    const file = dir.write("f.txt", "x")
    for (const artifactPath of ["../escape", "/etc", "a/../../b"]) {
      try {
        await logToRun({ runId: info.run_id, trackingUri }, { kind: "artifact", localPath: file, artifactPath }, {})
        throw new Error(`${artifactPath} was accepted`)
      } catch (error) {
        expect(isToolError(error) && error.code).toBe("log.artifact.invalid")
      }
    }
  })
})
