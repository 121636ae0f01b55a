// `mlproject log` through the compiled binary, into file-store and tracking-server runs.
import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { storeFor } from "../../src/tracking/store-for.ts"
import { pathToFileUri } from "../../src/tracking/tracking-uri.ts"
import { cli } from "../lib/cli.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "5" }

const newRun = async (trackingUri: string, env: Record<string, string> = {}) =>
  (await storeFor(trackingUri, env).createRun({ experiment_id: "0", user_id: "u", start_time: 1, run_name: "r", tags: [] })).run_id

describe("mlproject log", () => {
  test("writes a metric, param, tag, batch and artifact into a file-store run, silently", async () => {
    await using dir = tmpdirFor()
    const trackingUri = pathToFileUri(join(dir.path, "mlruns"))
    const runId = await newRun(trackingUri)
    const env = { MLFLOW_RUN_ID: runId, MLFLOW_TRACKING_URI: trackingUri }
    const metric = await cli(["log", "metric", "loss", "0.5", "--step", "3", "--timestamp", "1700000000000"], { env, cwd: dir.path })
    expect([metric.code, metric.stdout, metric.stderr]).toEqual([0, "", ""])
    expect((await cli(["log", "metric", "delta", "--", "-1.5"], { env })).code).toBe(0)
    expect((await cli(["log", "param", "alpha", "0.1"], { env })).code).toBe(0)
    expect((await cli(["log", "tag", "stage", "dev"], { env })).code).toBe(0)
    const batch = await cli(["log", "batch", "-", "--json"], { env, stdin: JSON.stringify({ metrics: [{ key: "acc", value: 0.9, step: 1 }], params: [{ key: "beta", value: "2" }] }) })
    expect(batch.events).toEqual([expect.objectContaining({ type: "run.logged", run_id: runId, tracking_uri: trackingUri, metrics: 1, params: 1, tags: 0, artifacts: [] })])
    const report = dir.write("out/report.txt", "done\n")
    const artifact = await cli(["log", "artifact", report, "--path", "reports", "--json"], { env })
    expect(artifact.events[0]).toMatchObject({ type: "run.logged", artifacts: ["reports/report.txt"] })

    const runDir = join(dir.path, "mlruns", "0", runId)
    expect(readFileSync(join(runDir, "metrics", "loss"), "utf8")).toBe("1700000000000 0.5 3\n")
    expect(readFileSync(join(runDir, "metrics", "delta"), "utf8")).toMatch(/^\d+ -1\.5 0\n$/)
    expect(readFileSync(join(runDir, "params", "alpha"), "utf8")).toBe("0.1")
    expect(readFileSync(join(runDir, "tags", "stage"), "utf8")).toBe("dev")
    expect(readFileSync(join(runDir, "metrics", "acc"), "utf8")).toMatch(/^\d+ 0\.9 1\n$/)
    expect(readFileSync(join(runDir, "artifacts", "reports", "report.txt"), "utf8")).toBe("done\n")
  })

  test("writes to a tracking server run, artifacts through its proxy", async () => {
    await using dir = tmpdirFor()
    await using server = mlflowServer({ auth: "Bearer tok" })
    const env = { ...fast, MLFLOW_TRACKING_TOKEN: "tok", MLFLOW_TRACKING_URI: server.url }
    const runId = await newRun(server.url, env)
    const run = { ...env, MLFLOW_RUN_ID: runId }
    expect((await cli(["log", "metric", "loss", "nan", "--step", "1"], { env: run })).code).toBe(0)
    expect((await cli(["log", "param", "alpha", "0.1"], { env: run })).code).toBe(0)
    const batchFile = dir.write("batch.json", JSON.stringify({ metrics: Array.from({ length: 1200 }, (_, i) => ({ key: "curve", value: i, step: i, timestamp: 5 })) }))
    expect((await cli(["log", "batch", "--json", batchFile], { env: run })).events[0]).toMatchObject({ metrics: 1200 })
    expect((await cli(["log", "artifact", dir.write("model.txt", "weights")], { env: run })).code).toBe(0)
    const stored = server.runs.get(runId)
    expect(stored?.metrics.find((m) => m.key === "loss")?.value).toBeNaN()
    expect(stored?.metrics.filter((m) => m.key === "curve").length).toBe(1200)
    expect(stored?.params.get("alpha")).toBe("0.1")
    expect(server.artifacts.get(`0/${runId}/artifacts/model.txt`)).toBe("weights")
    expect(server.calls("runs/log-batch").map((c) => (c.json.metrics as unknown[]).length)).toEqual([0, 1000, 200])
  })

  test("outside a run it says how to get one", async () => {
    const result = await cli(["log", "metric", "loss", "1"], { env: { MLFLOW_RUN_ID: undefined } })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("MLFLOW_RUN_ID is not set")
    expect(result.stderr).toContain("run this inside `mlproject run`, or set MLFLOW_RUN_ID")
  })

  test.each([
    [["log"], "say what to log"],
    [["log", "metric", "loss", "high"], "'high' is not a number"],
    [["log", "metric", "loss"], "expected 'mlproject log metric KEY VALUE"],
    [["log", "metric", "loss", "1", "--step", "1.5"], "--step 1.5: expected a whole number"],
    [["log", "param", "a", "b", "c"], "unexpected argument 'c'"],
    [["log", "secret", "a"], "unknown kind 'secret'"],
  ])("%j is a usage error", async (args, message) => {
    const result = await cli(args, { env: { MLFLOW_RUN_ID: "0".repeat(32) } })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
  })

  test("a server's refusal reaches the caller with its error code", async () => {
    await using server = mlflowServer()
    const runId = await newRun(server.url, fast)
    const env = { ...fast, MLFLOW_TRACKING_URI: server.url, MLFLOW_RUN_ID: runId }
    expect((await cli(["log", "param", "alpha", "1"], { env })).code).toBe(0)
    const changed = await cli(["log", "param", "alpha", "2", "--json"], { env })
    expect(changed.code).toBe(2)
    expect(changed.events.at(-1)).toMatchObject({ type: "error", code: "tracking.server" })
    expect(changed.events.at(-1)?.message).toContain("INVALID_PARAMETER_VALUE: Changing param values is not allowed")
  })
})
