// `mlproject log batch -` fed JSON lines through a real pipe, as a training loop feeds it: every store, flushes, bad lines, signals.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { storeFor } from "../../src/tracking/store-for.ts"
import { closeDbStores } from "../../src/tracking/sql/db-store.ts"
import { openDb } from "../../src/tracking/sql/db-client.ts"
import { parseDbUri } from "../../src/tracking/sql/db-uri.ts"
import { pathToFileUri } from "../../src/tracking/tracking-uri.ts"
import { requireBinary } from "../lib/cli.ts"
import { mariadbSkipReason, postgresSkipReason, startMariadb, startPostgres } from "../lib/databases.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "5" }

const newRun = async (trackingUri: string, env: Record<string, string> = {}) =>
  (await storeFor(trackingUri, env).createRun({ experiment_id: "0", user_id: "u", start_time: 1, run_name: "r", tags: [] })).run_id

/** The binary with a pipe on its stdin that the test writes into line by line, and the pipe's far end kept open until `end`. */
const streaming = (args: string[], env: Record<string, string>) => {
  const child = Bun.spawn([requireBinary(), "log", "batch", ...args], { env: { ...process.env, ...env }, stdin: "pipe", stdout: "pipe", stderr: "pipe" })
  const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  return {
    child,
    write: async (text: string) => {
      child.stdin.write(text)
      await child.stdin.flush()
    },
    end: async () => {
      await child.stdin.end()
      const [stdout, stderr, code] = await output
      return { stdout, stderr, code }
    },
    exited: async () => {
      const [stdout, stderr, code] = await output
      return { stdout, stderr, code }
    },
  }
}

const metricLines = (key: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${JSON.stringify({ key, value: (from + i) / 4, step: from + i })}\n`).join("")

/** The metric file's lines as [value, step]; empty when the file is not there yet. */
const fileMetrics = (runDir: string, key: string): Array<[string, string]> => {
  const file = join(runDir, "metrics", key)
  if (!existsSync(file)) return []
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => line.split(" ").slice(1) as [string, string])
}

const waitFor = async (what: string, check: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(20)
  }
}

const fileRun = async () => {
  const dir = tmpdirFor()
  const trackingUri = pathToFileUri(join(dir.path, "mlruns"))
  const runId = await newRun(trackingUri)
  return { dir, runId, env: { MLFLOW_TRACKING_URI: trackingUri, MLFLOW_RUN_ID: runId }, runDir: join(dir.path, "mlruns", "0", runId) }
}

describe("log batch - with JSON lines into the file store", () => {
  test("metrics, params, tags and batch lines as they come; blank lines skipped; timestamps default to when the line was read", async () => {
    const { dir, env, runDir, runId } = await fileRun()
    await using _ = dir
    const before = Date.now()
    const log = streaming(["-", "--json"], env)
    // Python's json.dumps writes NaN and -Infinity bare; the first line decides the input is JSON lines.
    await log.write('{"key":"py","value":NaN,"step":1}\n{"key":"py","value":-Infinity,"step":2}\n')
    await log.write(metricLines("loss", 0, 3))
    await log.write('\n{"key":"acc","value":"nan","step":2,"timestamp":1700000000000}\r\n')
    await log.write('{"kind":"param","key":"alpha","value":0.5}\n{"kind":"tag","key":"stage","value":"dev"}\n')
    await log.write(`${JSON.stringify({ metrics: [{ key: "loss", value: -1e-7, step: 3 }], params: [{ key: "beta", value: "2" }], tags: [{ key: "stage", value: "prod" }] })}\n`)
    await log.write('{"kind":"param","key":"alpha","value":"0.5"}\n{"key":"loss","value":"inf","step":4}')
    const result = await log.end()
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ type: "run.logged", run_id: runId, metrics: 8, params: 3, tags: 2, artifacts: [] })
    expect(fileMetrics(runDir, "loss")).toEqual([["0.0", "0"], ["0.25", "1"], ["0.5", "2"], ["-1e-07", "3"], ["inf", "4"]])
    expect(readFileSync(join(runDir, "metrics", "acc"), "utf8")).toBe("1700000000000 nan 2\n")
    expect(fileMetrics(runDir, "py")).toEqual([["nan", "1"], ["-inf", "2"]])
    const stamps = readFileSync(join(runDir, "metrics", "loss"), "utf8").split("\n").filter(Boolean).map((l) => Number(l.split(" ")[0]))
    for (const stamp of stamps) expect(stamp).toBeGreaterThanOrEqual(before)
    expect(readFileSync(join(runDir, "params", "alpha"), "utf8")).toBe("0.5")
    expect(readFileSync(join(runDir, "params", "beta"), "utf8")).toBe("2")
    expect(readFileSync(join(runDir, "tags", "stage"), "utf8")).toBe("prod")
  })

  test("lines that waited --flush-interval are flushed before the input ends", async () => {
    const { dir, env, runDir } = await fileRun()
    await using _ = dir
    const log = streaming(["-", "--flush-interval", "300ms"], env)
    const started = Date.now()
    await log.write(metricLines("loss", 0, 2))
    await waitFor("the first two lines", () => fileMetrics(runDir, "loss").length === 2)
    // Not before the interval: two lines are far fewer than --flush-lines (1000).
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
    await log.write(metricLines("loss", 2, 3))
    await waitFor("the third line", () => fileMetrics(runDir, "loss").length === 3)
    const result = await log.end()
    expect(result.code, result.stderr).toBe(0)
    expect(fileMetrics(runDir, "loss").map(([, step]) => step)).toEqual(["0", "1", "2"])
  })

  test("every --flush-lines lines are flushed before the input ends, the rest at its end", async () => {
    const { dir, env, runDir } = await fileRun()
    await using _ = dir
    const log = streaming(["-", "--flush-lines", "5", "--flush-interval", "1h"], env)
    await log.write(metricLines("acc", 0, 7))
    await waitFor("five lines", () => fileMetrics(runDir, "acc").length === 5)
    await Bun.sleep(300)
    expect(fileMetrics(runDir, "acc")).toHaveLength(5)
    const result = await log.end()
    expect(result.code, result.stderr).toBe(0)
    expect(fileMetrics(runDir, "acc").map(([, step]) => step)).toEqual(["0", "1", "2", "3", "4", "5", "6"])
  })

  test("a bad line in the middle: the lines before it are logged, the rest are not, exit 2 naming the line", async () => {
    const { dir, env, runDir } = await fileRun()
    await using _ = dir
    const log = streaming(["-"], env)
    await log.write(`${metricLines("loss", 0, 3)}\n{"key":"loss","value":"high","step":3}\n${metricLines("loss", 4, 6)}`)
    const result = await log.end()
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`line 5: metric ('loss') needs a numeric "value", got "high"`)
    expect(result.stderr).toContain("the lines before it were logged (3 metrics, 0 params, 0 tags)")
    expect(fileMetrics(runDir, "loss").map(([, step]) => step)).toEqual(["0", "1", "2"])
  })

  test.each([
    ["line 2: Invalid metric name: '../escape'", '{"key":"../escape","value":1}'],
    ['line 2: a metric line takes "kind", "key", "value", "step", "timestamp"; unknown field "stpe"', '{"key":"loss","value":1,"stpe":2}'],
    ['unknown field "step"', '{"kind":"param","key":"p","value":"v","step":1}'],
    ['line 2: "kind" must be "metric", "param" or "tag", got "metrics"', '{"kind":"metrics","key":"p","value":1}'],
    ["line 2: metric.step must be a whole number, got 1.5", '{"key":"loss","value":1,"step":1.5}'],
    ["line 2: Metric 'loss': timestamp -1 must be a nonnegative integer", '{"key":"loss","value":1,"timestamp":-1}'],
    ["line 2: not valid JSON", '{"key":"loss","value":1'],
    ["line 2: expected a JSON object, got [1]", "[1]"],
    ["line 2: 'metrics' must be a list of objects", '{"metrics":{}}'],
    ["line 2: Tag 't' has a value of 8001 characters", `{"kind":"tag","key":"t","value":"${"x".repeat(8001)}"}`],
  ])("refused with %j; the line before it is logged", async (message, bad) => {
    const { dir, env, runDir } = await fileRun()
    await using _ = dir
    const log = streaming(["-"], env)
    await log.write(`{"key":"first","value":1}\n${bad}\n{"key":"first","value":2}\n`)
    const result = await log.end()
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
    expect(fileMetrics(runDir, "first")).toEqual([["1.0", "0"]])
  })

  test("SIGTERM mid-stream logs the complete lines read and exits 130; a line without its newline is not a line", async () => {
    const { dir, env, runDir } = await fileRun()
    await using _ = dir
    const log = streaming(["-", "--flush-lines", "4", "--flush-interval", "1h"], env)
    await log.write(metricLines("loss", 0, 4))
    await waitFor("the first four lines", () => fileMetrics(runDir, "loss").length === 4)
    await log.write(`${metricLines("loss", 4, 6)}{"key":"loss","value":9`)
    await Bun.sleep(800)
    expect(fileMetrics(runDir, "loss")).toHaveLength(4)
    log.child.kill("SIGTERM")
    const result = await log.exited()
    expect(result.code).toBe(130)
    expect(result.stderr).toContain("interrupted by SIGTERM: stopped reading standard input; the lines read before it were logged (6 metrics, 0 params, 0 tags)")
    expect(fileMetrics(runDir, "loss").map(([, step]) => step)).toEqual(["0", "1", "2", "3", "4", "5"])
  })

  test("a FIFO given by path; a pretty-printed log-batch document is still one document", async () => {
    const { dir, env, runDir } = await fileRun()
    await using _ = dir
    const fifo = join(dir.path, "metrics.fifo")
    expect(await Bun.spawn(["mkfifo", fifo]).exited).toBe(0)
    const reader = Bun.spawn([requireBinary(), "log", "batch", fifo, "--json"], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" })
    const writer = Bun.spawn(["sh", "-c", `printf '%s\\n' '{"key":"fifo","value":1,"step":1}' '{"key":"fifo","value":2,"step":2}' > "$0"`, fifo])
    expect(await writer.exited).toBe(0)
    expect(await reader.exited, await new Response(reader.stderr).text()).toBe(0)
    expect(JSON.parse(await new Response(reader.stdout).text())).toMatchObject({ metrics: 2 })
    expect(fileMetrics(runDir, "fifo")).toEqual([["1.0", "1"], ["2.0", "2"]])

    const pretty = streaming(["-", "--json"], env)
    await pretty.write(JSON.stringify({ metrics: [{ key: "doc", value: 3, step: 7 }], params: [{ key: "gamma", value: "1" }] }, null, 2))
    const result = await pretty.end()
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ metrics: 1, params: 1, tags: 0 })
    expect(fileMetrics(runDir, "doc")).toEqual([["3.0", "7"]])
  })
})

test("log batch - to a tracking server: requests within MLflow's log-batch limits, a refused param stops with what was logged", async () => {
  await using server = mlflowServer()
  const runId = await newRun(server.url, fast)
  const env = { ...fast, MLFLOW_TRACKING_URI: server.url, MLFLOW_RUN_ID: runId }
  const params = Array.from({ length: 150 }, (_, i) => `{"kind":"param","key":"p${i}","value":"${i}"}\n`).join("")
  const log = streaming(["-", "--flush-lines", "5000", "--json"], env)
  await log.write(metricLines("curve", 0, 2500))
  await log.write(`${params}{"kind":"tag","key":"stage","value":"rest"}\n`)
  const result = await log.end()
  expect(result.code, result.stderr).toBe(0)
  expect(JSON.parse(result.stdout)).toMatchObject({ metrics: 2500, params: 150, tags: 1 })
  const run = server.runs.get(runId)
  expect(run?.metrics.filter((m) => m.key === "curve").map((m) => m.step)).toEqual(Array.from({ length: 2500 }, (_, i) => i))
  expect(run?.params.size).toBe(150)
  expect(run?.tags.get("stage")).toBe("rest")
  for (const call of server.calls("runs/log-batch")) {
    expect((call.json.metrics as unknown[]).length).toBeLessThanOrEqual(1000)
    expect((call.json.params as unknown[]).length).toBeLessThanOrEqual(100)
    expect((call.json.metrics as unknown[]).length + (call.json.params as unknown[]).length + (call.json.tags as unknown[]).length).toBeLessThanOrEqual(1000)
  }

  // The server refuses a changed param: the lines sent before are kept and the message says which lines were not.
  const again = streaming(["-", "--flush-lines", "2"], env)
  await again.write(`${metricLines("late", 0, 2)}{"kind":"param","key":"p1","value":"changed"}\n{"key":"late","value":5}\n`)
  const refused = await again.end()
  expect(refused.code).toBe(2)
  expect(refused.stderr).toContain("Changing param values is not allowed")
  expect(refused.stderr).toContain("lines 3-4 were not logged; 2 metrics, 0 params, 0 tags were logged")
  expect(server.runs.get(runId)?.metrics.filter((m) => m.key === "late")).toHaveLength(2)
})

const [pg, maria] = await Promise.all([startPostgres(), startMariadb()])
afterAll(async () => {
  await closeDbStores()
  await Promise.all([pg?.stop(), maria?.stop()])
})

const databases = [
  { name: "sqlite", skip: null, fresh: async (dir: string) => `sqlite:///${join(dir, "stream.db")}` },
  { name: "postgresql", skip: pg ? null : postgresSkipReason, fresh: async () => pg!.newDatabase("stream") },
  { name: "mariadb", skip: maria ? null : mariadbSkipReason, fresh: async () => maria!.newDatabase("stream") },
]

for (const database of databases) {
  test.skipIf(database.skip !== null)(`log batch - into ${database.name}${database.skip ? ` (${database.skip})` : ""}: every line, a bad line after a flush`, async () => {
    await using dir = tmpdirFor()
    const uri = await database.fresh(dir.path)
    const runId = await newRun(uri)
    const env = { MLFLOW_TRACKING_URI: uri, MLFLOW_RUN_ID: runId }
    const log = streaming(["-", "--flush-lines", "100"], env)
    await log.write(`${metricLines("loss", 0, 250)}{"kind":"param","key":"alpha","value":"0.5"}\n{"kind":"tag","key":"stage","value":"db"}\n`)
    await log.write('{"key":"loss","value":[1]}\n')
    const result = await log.end()
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("line 253: metric ('loss') needs a numeric \"value\", got [1]; the lines before it were logged (250 metrics, 1 param, 1 tag)")
    const run = await storeFor(uri).getRun(runId)
    expect(run.data.params).toEqual({ alpha: "0.5" })
    expect(run.data.tags.stage).toBe("db")
    expect(run.data.metrics.loss).toMatchObject({ value: 249 / 4, step: 249 })
    const db = await openDb(parseDbUri(uri, dir.path))
    try {
      const rows = await db.all("SELECT step FROM metrics WHERE run_uuid = ? ORDER BY step", [runId])
      expect(rows.map((row) => Number(row.step))).toEqual(Array.from({ length: 250 }, (_, i) => i))
    } finally {
      await db.close()
    }
  })
}
