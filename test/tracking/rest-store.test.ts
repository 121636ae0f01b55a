// The REST store against a loopback MLflow server: the run lifecycle, JSON shapes, auth, retries, faults and errors.
import { describe, expect, test } from "bun:test"
import { isToolError } from "../../src/errors.ts"
import { storeFor } from "../../src/tracking/store-for.ts"
import type { Metric } from "../../src/tracking/types.ts"
import { caught as failure } from "../lib/caught.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"

/** No backoff, short timeout: faults cost milliseconds, not MLflow's minutes. */
const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "0.5" }

const newRun = { user_id: "ada", start_time: 1_700_000_000_000, run_name: "brave-owl-7", tags: [{ key: "mlflow.source.type", value: "PROJECT" }] }

/** What lifecycle.ts does for one run, through the Store API only. */
const lifecycle = async (store: ReturnType<typeof storeFor>) => {
  const { experiment_id } = await store.getOrCreateExperiment("team-a")
  const info = await store.createRun({ experiment_id, ...newRun })
  await store.logBatch(info.run_id, { params: [{ key: "alpha", value: "0.5" }, { key: "epochs", value: "3" }] })
  await store.setTag(info.run_id, "mlflow.project.backend", "local")
  await store.logMetric(info.run_id, { key: "loss", value: 0.25, timestamp: 1_700_000_000_500, step: 1 })
  await store.updateRun(info.run_id, { status: "FINISHED", end_time: 1_700_000_001_000 })
  return { experiment_id, runId: info.run_id }
}

describe("REST store", () => {
  test("records a whole run with MLflow's JSON shapes", async () => {
    await using server = mlflowServer()
    const store = storeFor(server.url, fast)
    expect(store.location).toBe(server.url)
    expect(await store.getExperiment("0")).toMatchObject({ experiment_id: "0", name: "Default", lifecycle_stage: "active" })
    expect(await store.getExperiment("42")).toBeNull()
    expect(await store.getExperimentByName("team-a")).toBeNull()

    const { experiment_id, runId } = await lifecycle(store)
    expect(await store.getOrCreateExperiment("team-a")).toEqual({ experiment_id, created: false })

    const run = await store.getRun(runId)
    expect(run.info).toEqual({
      run_id: runId,
      experiment_id,
      run_name: "brave-owl-7",
      user_id: "ada",
      status: "FINISHED",
      start_time: 1_700_000_000_000,
      end_time: 1_700_000_001_000,
      artifact_uri: `mlflow-artifacts:/${experiment_id}/${runId}/artifacts`,
      lifecycle_stage: "active",
    })
    expect(run.data.params).toEqual({ alpha: "0.5", epochs: "3" })
    expect(run.data.tags).toEqual({ "mlflow.source.type": "PROJECT", "mlflow.runName": "brave-owl-7", "mlflow.project.backend": "local" })
    expect(run.data.metrics).toEqual({ loss: { key: "loss", value: 0.25, timestamp: 1_700_000_000_500, step: 1 } })

    expect(server.calls("experiments/get-by-name")[0]?.query.get("experiment_name")).toBe("team-a")
    expect(server.calls("experiments/create")[0]?.json).toEqual({ name: "team-a" })
    expect(server.calls("runs/create")[0]?.json).toEqual({ experiment_id, ...newRun })
    expect(server.calls("runs/log-batch")[0]?.json).toEqual({ run_id: runId, metrics: [], params: [{ key: "alpha", value: "0.5" }, { key: "epochs", value: "3" }], tags: [] })
    expect(server.calls("runs/set-tag")[0]?.json).toEqual({ run_id: runId, run_uuid: runId, key: "mlflow.project.backend", value: "local" })
    expect(server.calls("runs/log-metric")[0]?.json).toEqual({ run_id: runId, run_uuid: runId, key: "loss", value: 0.25, timestamp: 1_700_000_000_500, step: 1 })
    expect(server.calls("runs/update")[0]?.json).toEqual({ run_id: runId, run_uuid: runId, status: "FINISHED", end_time: 1_700_000_001_000 })
    for (const request of server.requests) expect(request.headers.get("user-agent")).toStartWith("mlproject/")
  })

  test("sends NaN and infinities as protobuf's strings and reads them back", async () => {
    await using server = mlflowServer()
    const store = storeFor(server.url, fast)
    const info = await store.createRun({ experiment_id: "0", ...newRun })
    const metrics: Metric[] = [NaN, Infinity, -Infinity].map((value, step) => ({ key: `m${step}`, value, timestamp: 1, step }))
    await store.logBatch(info.run_id, { metrics })
    expect(server.calls("runs/log-batch")[0]?.text).toContain('"value":"NaN"')
    const run = await store.getRun(info.run_id)
    expect([run.data.metrics.m0?.value, run.data.metrics.m1?.value, run.data.metrics.m2?.value]).toEqual([NaN, Infinity, -Infinity])
  })

  test("an experiment created by someone else between read and create is read back", async () => {
    await using server = mlflowServer()
    const store = storeFor(server.url, fast)
    const { experiment_id } = await store.getOrCreateExperiment("shared")
    // The next read misses it, as if it did not exist yet; the create then finds it taken.
    server.fail({ endpoint: "experiments/get-by-name", status: 404, body: { error_code: "RESOURCE_DOES_NOT_EXIST", message: "not yet" } })
    expect(await store.getOrCreateExperiment("shared")).toEqual({ experiment_id, created: false })
    expect(server.calls("experiments/create").length).toBe(2)
    expect(server.experiments.size).toBe(2)
  })

  test("a deleted experiment of that name is an error, not a new experiment", async () => {
    await using server = mlflowServer()
    const store = storeFor(server.url, fast)
    const { experiment_id } = await store.getOrCreateExperiment("old")
    ;(server.experiments.get(experiment_id) as { lifecycle_stage: string }).lifecycle_stage = "deleted"
    expect(await store.getExperimentByName("old")).toBeNull()
    expect((await failure(store.getOrCreateExperiment("old"))).code).toBe("tracking.experiment.deleted")
  })

  test.each([
    ["basic auth from MLFLOW_TRACKING_USERNAME/PASSWORD", { MLFLOW_TRACKING_USERNAME: "ada", MLFLOW_TRACKING_PASSWORD: "s3cret" }, `Basic ${btoa("ada:s3cret")}`, ""],
    ["bearer from MLFLOW_TRACKING_TOKEN", { MLFLOW_TRACKING_TOKEN: "tok-123" }, "Bearer tok-123", ""],
    ["basic before bearer when both are set", { MLFLOW_TRACKING_USERNAME: "ada", MLFLOW_TRACKING_PASSWORD: "pw", MLFLOW_TRACKING_TOKEN: "tok" }, `Basic ${btoa("ada:pw")}`, ""],
    ["basic from user:password@ in the URI", {}, `Basic ${btoa("bob:p@ss")}`, "bob:p%40ss@"],
  ])("%s", async (_name, env, header, userinfo) => {
    await using server = mlflowServer({ auth: header })
    const store = storeFor(server.url.replace("http://", `http://${userinfo}`), { ...fast, ...env })
    expect(store.location).toBe(server.url)
    await lifecycle(store)
    for (const request of server.requests) expect(request.headers.get("authorization")).toBe(header)
  })

  test("a 401 says which variables to set and never shows the secret", async () => {
    await using server = mlflowServer({ auth: "Bearer right-token" })
    const none = await failure(storeFor(server.url, fast).getExperiment("0"))
    expect(none.code).toBe("tracking.auth")
    expect(none.exitCode).toBe(2)
    expect(none.message).toContain("HTTP 401 Unauthorized")
    expect(none.message).toContain("requires credentials and none were sent")
    expect(none.hint).toContain("MLFLOW_TRACKING_TOKEN")
    expect(none.hint).toContain("MLFLOW_TRACKING_USERNAME")
    const wrong = await failure(storeFor(server.url.replace("http://", "http://ada:hunter2@"), { ...fast, MLFLOW_TRACKING_TOKEN: "wrong-token" }).getExperiment("0"))
    expect(wrong.message).toContain("refused the credentials")
    for (const text of [wrong.message, wrong.hint ?? ""]) {
      expect(text).not.toContain("wrong-token")
      expect(text).not.toContain("hunter2")
    }
    // A 401 is an answer, not a hiccup: it is not retried.
    expect(server.requests.length).toBe(2)
  })

  test("500s, 429s and timeouts on every call still record the run completely and exactly once", async () => {
    await using server = mlflowServer()
    const store = storeFor(server.url, fast)
    // "after": the server did the work and the answer was lost, the worst case for a retry.
    server.fail({ endpoint: "experiments/create", when: "after", status: 500 })
    server.fail({ endpoint: "runs/create", when: "after", status: 503 })
    server.fail({ endpoint: "runs/log-batch", when: "after", status: 502 })
    server.fail({ endpoint: "runs/set-tag", status: 429, retryAfter: "1" })
    server.fail({ endpoint: "runs/log-metric", when: "after", delayMs: 800 })
    server.fail({ endpoint: "runs/update", when: "after", delayMs: 800 })
    const started = performance.now()
    const { experiment_id, runId } = await lifecycle(store)
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000) // Retry-After: 1 was honoured

    expect(server.experiments.size).toBe(2)
    expect([...server.runs.values()].filter((r) => r.info.experiment_id === experiment_id).map((r) => r.info.run_id)).toEqual([runId])
    const run = server.runs.get(runId)
    expect(run?.info.status).toBe("FINISHED")
    expect(Object.fromEntries(run?.params ?? [])).toEqual({ alpha: "0.5", epochs: "3" })
    expect(run?.tags.get("mlflow.project.backend")).toBe("local")
    expect(run?.metrics).toEqual([{ key: "loss", value: 0.25, timestamp: 1_700_000_000_500, step: 1 }])
    // runs/create was not blindly re-sent: the first (unanswered) attempt was found by searching.
    expect(server.calls("runs/create").length).toBe(1)
    expect(server.calls("runs/search")[0]?.json).toMatchObject({ experiment_ids: [experiment_id], filter: "tags.`mlflow.runName` = 'brave-owl-7'" })
  })

  test("runs/create lost before the server saw it is simply sent again", async () => {
    await using server = mlflowServer()
    const store = storeFor(server.url, fast)
    server.fail({ endpoint: "runs/create", status: 500 })
    const info = await store.createRun({ experiment_id: "0", ...newRun })
    expect([...server.runs.keys()]).toEqual([info.run_id])
    expect(server.calls("runs/create").length).toBe(2)
  })

  test("gives up after MLFLOW_HTTP_REQUEST_MAX_RETRIES with the server's error code and message", async () => {
    await using server = mlflowServer()
    server.fail({ endpoint: "experiments/get", status: 503, times: 10, body: { error_code: "TEMPORARILY_UNAVAILABLE", message: "database is busy" } })
    const error = await failure(storeFor(server.url, { ...fast, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "2" }).getExperiment("0"))
    expect(server.calls("experiments/get").length).toBe(3)
    expect(error.code).toBe("tracking.server")
    expect(error.exitCode).toBe(1)
    expect(error.message).toBe(`MLflow tracking server ${server.url}: GET /api/2.0/mlflow/experiments/get?experiment_id=0 failed: HTTP 503: TEMPORARILY_UNAVAILABLE: database is busy`)
  })

  test("a server that never answers in time names MLFLOW_HTTP_REQUEST_TIMEOUT", async () => {
    await using server = mlflowServer()
    server.fail({ endpoint: "runs/get", delayMs: 1500, times: 5 })
    const error = await failure(storeFor(server.url, { ...fast, MLFLOW_HTTP_REQUEST_TIMEOUT: "0.2", MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1" }).getRun("abc"))
    expect(error.code).toBe("tracking.unreachable")
    expect(error.message).toContain("no response within 0.2 s")
    expect(error.hint).toContain("MLFLOW_HTTP_REQUEST_TIMEOUT")
  })

  test("an unreachable server is retried, then reported", async () => {
    await using server = mlflowServer()
    const url = server.url
    await server[Symbol.asyncDispose]()
    const error = await failure(storeFor(url, { ...fast, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1" }).getExperiment("0"))
    expect(error.code).toBe("tracking.unreachable")
    expect(error.message).toContain("after 2 attempts")
  })

  test("a rejected write shows the server's error_code and message", async () => {
    await using server = mlflowServer()
    const store = storeFor(server.url, fast)
    const info = await store.createRun({ experiment_id: "0", ...newRun })
    await store.logBatch(info.run_id, { params: [{ key: "alpha", value: "1" }] })
    const error = await failure(store.logBatch(info.run_id, { params: [{ key: "alpha", value: "2" }] }))
    expect(error.code).toBe("tracking.server")
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain("HTTP 400: INVALID_PARAMETER_VALUE: Changing param values is not allowed")
    expect((await failure(store.getRun("f".repeat(32)))).code).toBe("tracking.run.not_found")
  })

  test("big batches are split within log-batch's limits, in order", async () => {
    await using server = mlflowServer()
    const store = storeFor(server.url, fast)
    const info = await store.createRun({ experiment_id: "0", ...newRun })
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: "m", value: i, timestamp: 1, step: i }))
    const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: String(i) }))
    const tags = Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: String(i) }))
    await store.logBatch(info.run_id, { metrics, params, tags })
    const sizes = server.calls("runs/log-batch").map(({ json }) => [json.metrics, json.params, json.tags].map((l) => (l as unknown[]).length))
    expect(sizes).toEqual([[800, 100, 100], [850, 100, 50], [850, 50, 0]])
    const run = server.runs.get(info.run_id)
    expect(run?.metrics.map((m) => m.step)).toEqual(metrics.map((m) => m.step))
    expect(run?.params.size).toBe(250)
    expect(run?.tags.size).toBe(150 + 2)
  })

  test("storeFor routes http(s) and databricks URIs to it, credentials kept out of its location", () => {
    expect(storeFor("https://user:secret@tracking.example/mlflow/").location).toBe("https://tracking.example/mlflow")
    const databricks = storeFor("databricks", { HOME: "/nonexistent", DATABRICKS_HOST: "adb-1.azuredatabricks.net", DATABRICKS_TOKEN: "dapi" })
    expect(databricks.location).toBe("https://adb-1.azuredatabricks.net")
  })

  test.each([
    [{ MLFLOW_HTTP_REQUEST_MAX_RETRIES: "10" }, "MLFLOW_HTTP_REQUEST_MAX_RETRIES=10"],
    [{ MLFLOW_HTTP_REQUEST_TIMEOUT: "soon" }, "MLFLOW_HTTP_REQUEST_TIMEOUT=soon"],
    [{ MLFLOW_TRACKING_INSECURE_TLS: "yes" }, "expected one of true, false, 1, 0"],
    [{ MLFLOW_TRACKING_INSECURE_TLS: "true", MLFLOW_TRACKING_SERVER_CERT_PATH: "/ca.pem" }, "contradict"],
    [{ MLFLOW_TRACKING_SERVER_CERT_PATH: "/nonexistent/ca.pem" }, "cannot read the file (ENOENT)"],
  ])("settings %j are refused up front", (env, message) => {
    let error: unknown
    try {
      storeFor("https://tracking.example", env)
    } catch (caught) {
      error = caught
    }
    expect(isToolError(error) && error.code).toBe("tracking.config.invalid")
    expect((error as Error).message).toContain(message)
  })
})
