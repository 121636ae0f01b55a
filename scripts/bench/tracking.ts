// Benchmark: `mlproject log metric` 1,000 times from a bash loop and one `log batch` of 1,000 metrics into the file, REST,
// sqlite and PostgreSQL stores; then `run` of a trivial entry point with 10 params, sqlite against the file store.
// Usage: bun scripts/bench/tracking.ts [--rounds N] [--calls N] [--run-rounds N]   (needs dist/mlproject: bun run build)
// The baseline is the same bash loop running `mlproject --version`: what remains is the cost of logging.
// The REST store is the loopback MLflow server of test/lib in a process of its own, so the figures are our
// client's cost plus loopback HTTP, not a real server's database.
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { storeFor } from "../../src/tracking/store-for.ts"
import { pathToFileUri } from "../../src/tracking/tracking-uri.ts"
import { mlflowServer } from "../../test/lib/mlflow-server.ts"
import { tmpdirFor } from "../../test/lib/tmp.ts"
import { builtBinary, measure, median, numberOption, report, useOwnHome } from "./lib.ts"
import { startPostgres } from "../../test/lib/databases.ts"

// `--serve`: be the loopback server, print its URL, and stay up until killed.
if (process.argv.includes("--serve")) {
  const server = mlflowServer()
  console.log(server.url)
  // Requests are recorded for tests; a benchmark only needs the latest few.
  setInterval(() => server.requests.splice(0, server.requests.length - 100), 1000)
  await new Promise(() => {})
}

const binary = builtBinary()
const option = numberOption
const rounds = option("rounds", 3)
const calls = option("calls", 1000)

const timed = async (script: string, env: Record<string, string>): Promise<number> => {
  const started = performance.now()
  const child = Bun.spawn(["bash", "-c", script], { env: { ...process.env, ...env, BIN: binary, CALLS: String(calls) }, stdout: "ignore", stderr: "pipe" })
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()])
  if (code !== 0) throw new Error(`bench script failed (${code}): ${stderr}`)
  return performance.now() - started
}

const loop = (command: string) => `for ((i = 1; i <= CALLS; i++)); do "$BIN" ${command} || exit 1; done`

await using dir = tmpdirFor("mlproject-bench-")
useOwnHome(dir.path)
const serverProcess = Bun.spawn([process.execPath, import.meta.path, "--serve"], { stdout: "pipe", stderr: "inherit" })
const serverUrl = (await serverProcess.stdout.getReader().read()).value
const server = { url: new TextDecoder().decode(serverUrl).trim() }
process.on("exit", () => serverProcess.kill())
const batchFile = join(dir.path, "batch.json")
writeFileSync(batchFile, JSON.stringify({ metrics: Array.from({ length: calls }, (_, i) => ({ key: "curve", value: i / 7, step: i })) }))

// PostgreSQL is a throwaway server of the test helpers (left out, with a note, where its binaries are missing).
const postgres = await startPostgres()
process.on("exit", () => void postgres?.stop())
const stores = [
  { name: "file store", trackingUri: pathToFileUri(join(dir.path, "mlruns")) },
  { name: "REST store", trackingUri: server.url },
  { name: "sqlite", trackingUri: `sqlite:///${join(dir.path, "bench.db")}` },
  ...(postgres ? [{ name: "PostgreSQL", trackingUri: postgres.uri }] : []),
]
const cases: Array<{ name: string; script: string; env: () => Promise<Record<string, string>> }> = [
  { name: `${calls} x mlproject --version (baseline)`, script: loop("--version"), env: async () => ({}) },
]
for (const store of stores) {
  // A fresh run per round, so metric files and server lists do not grow across rounds.
  const env = async () => {
    const info = await storeFor(store.trackingUri).createRun({ experiment_id: "0", user_id: "bench", start_time: Date.now(), run_name: "bench", tags: [] })
    return { MLFLOW_TRACKING_URI: store.trackingUri, MLFLOW_RUN_ID: info.run_id }
  }
  cases.push({ name: `${store.name}: ${calls} x log metric`, script: loop('log metric loss "$i" --step "$i"'), env })
  cases.push({ name: `${store.name}: log batch of ${calls}`, script: `"$BIN" log batch ${JSON.stringify(batchFile)}`, env })
}

const samples = new Map(cases.map((c) => [c.name, [] as number[]]))
for (let round = 0; round < rounds; round++) {
  for (const c of cases) samples.get(c.name)?.push(await timed(c.script, await c.env()))
}

const baseline = median(samples.get(cases[0]?.name ?? "") ?? [])
console.log(`tracking: median of ${rounds} rounds, ${calls} metrics each (dist/mlproject)`)
for (const [name, values] of samples) {
  const ms = median(values)
  const perMetric = ms / calls
  const over = name.includes("x log metric") ? `, ${((ms - baseline) / calls).toFixed(3)} ms over startup` : ""
  console.log(`  ${name.padEnd(40)} ${ms.toFixed(0).padStart(7)} ms  ${perMetric.toFixed(3).padStart(8)} ms/metric${over}`)
}

// `run` of a trivial entry point with 10 parameters: the whole record (experiment, run, 10 params, tags, status)
// into sqlite against the same into the file store, interleaved.
const runRounds = option("run-rounds", 30)
const project = join(dir.path, "project")
const params = Array.from({ length: 10 }, (_, i) => `      p${i}: {type: string, default: "v${i}"}`).join("\n")
await Bun.write(join(project, "MLproject"), `name: bench\nentry_points:\n  main:\n    parameters:\n${params}\n    command: "true"\n`)
const runArgs = [binary, "run", project, ...Array.from({ length: 10 }, (_, i) => ["-P", `p${i}=x${i}`]).flat()]
const runMedians = measure(
  [
    { name: "run, 10 params, file store", argv: runArgs, env: { MLFLOW_TRACKING_URI: pathToFileUri(join(dir.path, "run-mlruns")) } },
    { name: "run, 10 params, sqlite", argv: runArgs, env: { MLFLOW_TRACKING_URI: `sqlite:///${join(dir.path, "run.db")}` } },
    ...(postgres ? [{ name: "run, 10 params, PostgreSQL", argv: runArgs, env: { MLFLOW_TRACKING_URI: postgres.uri } }] : []),
  ],
  runRounds,
)
report(`run into a database store, median of ${runRounds} interleaved runs`, runMedians, "run, 10 params, file store", { "run, 10 params, sqlite": "<= 1.2x the file store" })
serverProcess.kill()
await postgres?.stop()
