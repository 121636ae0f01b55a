// Benchmark: 10,000 metrics piped as JSON lines into `mlproject log batch -` against the file store's own append of them.
// Usage: bun scripts/bench/log.ts [--rounds N] [--lines N] [--keys N]   (needs dist/mlproject: bun run build)
// Each round, interleaved, into a fresh file-store run:
//  (a) the floor: this process calls the file store (createFileStore, the module `log` uses) to log the same metrics
//      as MLflow's limit lets one request hold them: log-batch calls of 1,000, each checked and appended one write per key;
//  (b) the binary started with a real pipe on its stdin, the lines written into it, timed from spawn to exit
//      (process start included); the run's metric files are then checked line by line;
//  (d) the same command given one empty line, to tell the process start from the work;
//  (e) the floor once in a bun process of its own, timed inside it after its start: the store's cost without a warm JIT;
//  (f) the same metrics as one pretty-printed log-batch document, the one way to send many at once before JSON lines;
//  (c) for scale, LINES/100 separate `mlproject log metric` calls, one after another.
// `--before BINARY` adds (b0): (b) with another build (the one before a change), timed in the same rounds.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { createFileStore } from "../../src/tracking/file-store.ts"
import { pathToFileUri } from "../../src/tracking/tracking-uri.ts"
import type { Metric } from "../../src/tracking/types.ts"
import { tmpdirFor } from "../../test/lib/tmp.ts"
import { builtBinary, median, numberOption, useOwnHome } from "./lib.ts"

const binary = builtBinary()
const option = numberOption
const rounds = option("rounds", 15)
const count = option("lines", 10_000)
const keys = option("keys", 10)
const singleCalls = Math.max(1, Math.round(count / 100))
const beforeAt = process.argv.indexOf("--before")
const beforeBinary = beforeAt === -1 ? undefined : process.argv[beforeAt + 1]

// `--cold-floor MLRUNS`: be (e), the floor once in a process of its own that has just started; print its ms.
const coldRoot = process.argv.indexOf("--cold-floor")
await using dir = tmpdirFor("mlproject-bench-log-")
useOwnHome(dir.path)
const mlruns = coldRoot === -1 ? join(dir.path, "mlruns") : (process.argv[coldRoot + 1] as string)
const trackingUri = pathToFileUri(mlruns)
const store = createFileStore(mlruns, { sweepStamps: join(dir.path, "sweeps") })
const newRun = async () => (await store.createRun({ experiment_id: "0", user_id: "bench", start_time: Date.now(), run_name: "bench", tags: [] })).run_id

// What a training loop would print: `seq`-like steps, values with full float digits, keys loss0..loss9.
const metricAt = (i: number, timestamp: number): Metric => ({ key: `loss${i % keys}`, value: 1 / (i + 1), step: Math.floor(i / keys), timestamp })
const lines = Array.from({ length: count }, (_, i) => {
  const m = metricAt(i, 0)
  return `{"key":"${m.key}","value":${m.value},"step":${m.step}}\n`
}).join("")

// What was there before JSON lines: the same metrics as one log-batch document, logged only once all of it is read.
const documentText = JSON.stringify({ metrics: Array.from({ length: count }, (_, i) => metricAt(i, 0)).map(({ key, value, step }) => ({ key, value, step })) }, null, 1)

const floor = async (): Promise<number> => {
  const runId = await newRun()
  const now = Date.now()
  const metrics = Array.from({ length: count }, (_, i) => metricAt(i, now))
  const started = performance.now()
  for (let at = 0; at < count; at += 1000) await store.logBatch(runId, { metrics: metrics.slice(at, at + 1000) })
  return performance.now() - started
}

if (coldRoot !== -1) {
  console.log(await floor())
  process.exit(0)
}

const coldFloor = async (): Promise<number> => {
  const child = Bun.spawn([process.execPath, import.meta.path, "--cold-floor", mlruns, "--lines", String(count), "--keys", String(keys)], { stdout: "pipe", stderr: "inherit" })
  const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited])
  if (code !== 0) throw new Error(`the cold floor failed (${code})`)
  return Number(out.trim())
}

const env = (runId: string) => ({ ...process.env, MLFLOW_TRACKING_URI: trackingUri, MLFLOW_RUN_ID: runId })

const checkRun = (runId: string): void => {
  const folder = join(mlruns, "0", runId, "metrics")
  const files = readdirSync(folder)
  const total = files.reduce((sum, key) => sum + readFileSync(join(folder, key), "utf8").split("\n").length - 1, 0)
  if (files.length !== Math.min(keys, count) || total !== count) throw new Error(`run ${runId}: ${files.length} metric files, ${total} lines; expected ${keys} and ${count}`)
}

const piped = async (input: string, command = binary): Promise<number> => {
  const runId = await newRun()
  const started = performance.now()
  const child = Bun.spawn([command, "log", "batch", "-"], { env: env(runId), stdin: "pipe", stdout: "ignore", stderr: "pipe" })
  child.stdin.write(input)
  await child.stdin.end()
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()])
  const ms = performance.now() - started
  if (code !== 0) throw new Error(`log batch - failed (${code}): ${stderr}`)
  if (input === lines || input === documentText) checkRun(runId)
  return ms
}

const separate = async (): Promise<number> => {
  const runId = await newRun()
  const started = performance.now()
  for (let i = 0; i < singleCalls; i++) {
    const m = metricAt(i, 0)
    const child = Bun.spawn([binary, "log", "metric", m.key, String(m.value), "--step", String(m.step)], { env: env(runId), stdout: "ignore", stderr: "inherit" })
    if ((await child.exited) !== 0) throw new Error("log metric failed")
  }
  return performance.now() - started
}

const samples = { floor: [] as number[], piped: [] as number[], start: [] as number[], cold: [] as number[], document: [] as number[], separate: [] as number[], before: [] as number[] }
// Warm-up: page cache, the binary's first start, the store's first calls.
await floor()
await piped(lines)
for (let round = 0; round < rounds; round++) {
  samples.floor.push(await floor())
  samples.piped.push(await piped(lines))
  if (beforeBinary) samples.before.push(await piped(lines, beforeBinary))
  // Where (b)'s time goes: the same command given one empty line, `{}` (start, reading, no request).
  samples.start.push(await piped("{}\n"))
  samples.cold.push(await coldFloor())
  samples.document.push(await piped(documentText))
  samples.separate.push(await separate())
}

const a = median(samples.floor)
const b = median(samples.piped)
const c = median(samples.separate)
const d = median(samples.start)
const e = median(samples.cold)
const f = median(samples.document)
const ratio = b / a
console.log(`log: ${count} metrics for ${keys} keys into a fresh file-store run, median of ${rounds} interleaved rounds`)
console.log(`  (a) floor: file store logBatch in-process, ${Math.ceil(count / 1000)} calls  ${a.toFixed(1).padStart(8)} ms`)
console.log(`  (b) ${count} JSON lines | dist/mlproject log batch -  ${b.toFixed(1).padStart(8)} ms  (${ratio.toFixed(2)}x the floor, process start included)`)
if (beforeBinary) console.log(`  (b0) the same into ${beforeBinary}  ${median(samples.before).toFixed(1).padStart(8)} ms  (${(median(samples.before) / a).toFixed(2)}x the floor)`)
console.log(`  (d) {} | dist/mlproject log batch - (its start)   ${d.toFixed(1).padStart(8)} ms  ((b) less this: ${(b - d).toFixed(1)} ms for the lines, ${((b - d) / a).toFixed(2)}x the floor)`)
console.log(`  (e) floor in a process just started (cold JIT)  ${e.toFixed(1).padStart(8)} ms  ((b) - (d) - (e) = ${(b - d - e).toFixed(1)} ms: reading, parsing and checking the lines; (b) is ${(b / e).toFixed(2)}x this)`)
console.log(`  (f) the same as one log-batch document (before)   ${f.toFixed(1).padStart(8)} ms  (${(f / a).toFixed(2)}x the floor; nothing is logged until the input ends)`)
console.log(`  (c) ${singleCalls} x dist/mlproject log metric        ${c.toFixed(1).padStart(8)} ms  (${(c / singleCalls).toFixed(1)} ms a call; ${count} calls would take ~${((c / singleCalls) * count / 1000).toFixed(1)} s)`)
console.log(`goal: ≤ 2× the floor for ${count} metrics: ${ratio.toFixed(2)}× ${ratio <= 2 ? "met" : "NOT met"}`)
