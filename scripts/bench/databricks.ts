// Databricks benchmark on the loopback workspace, one run: (1) a 200 MB project archive uploaded by our code, to a volume
// (Files API) and to DBFS (one streamed multipart put), against `curl -T` of the same bytes to the Files API: goal ≥ 0.8× throughput,
// peak RSS ≤ 150 MB; the DBFS upload also against `curl -F` of the same multipart put (the workspace's form parsing is
// in both); (2) an unchanged project's second run, `mlproject run --detach` until runs/submit arrives, against a
// bare `curl` runs/submit of the same payload: goal no upload and ≤ 1.5×.
// Usage: [TMPDIR=/dev/shm] bun scripts/bench/databricks.ts [--size-mib N] [--rounds N] (the workspace stores uploads in
// the temporary folder: on a slow disk its writeback, not the upload, is timed otherwise)
import { randomBytes } from "node:crypto"
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs"
import { join } from "node:path"
import { median } from "./lib.ts"

const root = join(import.meta.dir, "..", "..")
const binary = join(root, "dist", "mlproject")
const argv = process.argv.slice(2)
const option = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback)
const sizeMib = option("--size-mib", 200)
const rounds = option("--rounds", 5)

const { startWorkspace } = await import("../../test/lib/databricks-workspace.ts")
const { mlflowServer } = await import("../../test/lib/mlflow-server.ts")
const { tmpdirFor } = await import("../../test/lib/tmp.ts")
await using dir = tmpdirFor("mlproject-bench-databricks-")
await using workspace = await startWorkspace({ clusters: { bench: {} }, volumes: ["main/bench/code"] })
await using tracking = mlflowServer()

// Random bytes: what a project of data and weights looks like to gzip, and what curl must send as well.
const file = join(dir.path, "project.tar.gz")
const fd = openSync(file, "w")
for (let i = 0; i < sizeMib; i++) writeSync(fd, randomBytes(1024 * 1024))
closeSync(fd)

/** Our upload in its own process: its wall time for the upload and its peak RSS (VmHWM). */
const child = join(dir.path, "upload.ts")
writeFileSync(
  child,
  `const [target] = process.argv.slice(2)
const { resolveWorkspace } = await import(${JSON.stringify(join(root, "src", "databricks", "auth.ts"))})
const { uploadFile } = await import(${JSON.stringify(join(root, "src", "databricks", "upload.ts"))})
const workspace = resolveWorkspace({ profile: null, subject: "bench" }, process.env)
const started = performance.now()
const result = await uploadFile(workspace, ${JSON.stringify(file)}, target)
const hwm = Number((await Bun.file("/proc/self/status").text()).match(/VmHWM:\\s+(\\d+)/)?.[1] ?? 0)
console.log(JSON.stringify({ ms: performance.now() - started, uploaded: result.uploaded, rssMb: hwm / 1024 }))
`,
)
const env = { ...process.env, DATABRICKS_HOST: workspace.url, DATABRICKS_TOKEN: workspace.token, MLFLOW_TRACKING_URI: tracking.url, MLPROJECT_HOME: join(dir.path, "home") }

// Async spawns only: the workspace answers from this process.
const spawn = async (command: string[], extraEnv: Record<string, string> = {}) => {
  const started = performance.now()
  const proc = Bun.spawn(command, { env: { ...env, ...extraEnv }, stdout: "pipe", stderr: "pipe" })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  if (code !== 0) throw new Error(`${command.slice(0, 3).join(" ")} failed (${code}): ${stderr}`)
  return { ms: performance.now() - started, stdout }
}

const ours = async (target: string) => JSON.parse((await spawn([process.execPath, child, target])).stdout.trim().split("\n").at(-1) as string) as { ms: number; uploaded: boolean; rssMb: number }
const curl = async (name: string) =>
  (await spawn(["curl", "-sS", "-f", "-o", "/dev/null", "-T", file, "-H", `Authorization: Bearer ${workspace.token}`, `${workspace.url}/api/2.0/fs/files/Volumes/main/bench/code/${name}?overwrite=true`])).ms

const curlPut = async (name: string) =>
  (await spawn(["curl", "-sS", "-f", "-o", "/dev/null", "-F", `path=/bench/${name}`, "-F", "overwrite=true", "-F", `file=@${file}`, "-H", `Authorization: Bearer ${workspace.token}`, `${workspace.url}/api/2.0/dbfs/put`])).ms

const samples = { curl: [] as number[], curlPut: [] as number[], volume: [] as number[], dbfs: [] as number[], rss: [] as number[] }
for (let i = 0; i < rounds; i++) {
  samples.curl.push(await curl(`curl-${i}.bin`))
  samples.curlPut.push(await curlPut(`curl-${i}.bin`))
  const volume = await ours(`/Volumes/main/bench/code/ours-${i}.bin`)
  const dbfs = await ours(`dbfs:/bench/ours-${i}.bin`)
  if (!volume.uploaded || !dbfs.uploaded) throw new Error("a fresh target was not uploaded")
  samples.volume.push(volume.ms)
  samples.dbfs.push(dbfs.ms)
  samples.rss.push(volume.rssMb, dbfs.rssMb)
  // Each round's 800 MB leaves: page-cache writeback of earlier rounds would otherwise slow the later ones.
  for (const name of [`curl-${i}.bin`, `ours-${i}.bin`]) {
    rmSync(join(workspace.volumesDir, "main", "bench", "code", name), { force: true })
    rmSync(join(workspace.dbfsDir, "bench", name), { force: true })
  }
}
const mbps = (ms: number) => (sizeMib / (ms / 1000)).toFixed(0)
const [c, cp, v, d] = [median(samples.curl), median(samples.curlPut), median(samples.volume), median(samples.dbfs)]
console.log(`databricks upload of ${sizeMib} MiB: ${rounds} rounds, medians`)
console.log(`  curl -T to the Files API (baseline)   ${c.toFixed(0).padStart(6)} ms  ${mbps(c)} MiB/s`)
console.log(`  ours to /Volumes (Files API PUT)      ${v.toFixed(0).padStart(6)} ms  ${mbps(v)} MiB/s  (${(c / v).toFixed(2)}x baseline throughput)  goal: ≥ 0.8x`)
console.log(`  ours to dbfs:/ (multipart put)        ${d.toFixed(0).padStart(6)} ms  ${mbps(d)} MiB/s  (${(c / d).toFixed(2)}x baseline throughput)  goal: ≥ 0.8x`)
console.log(`  curl -F to dbfs/put (same request)    ${cp.toFixed(0).padStart(6)} ms  ${mbps(cp)} MiB/s  (ours ${(cp / d).toFixed(2)}x its throughput)`)
console.log(`  peak RSS of our uploads               ${Math.max(...samples.rss).toFixed(0).padStart(6)} MB  goal: ≤ 150 MB`)

// (2) The submit of an unchanged project: the first run uploads, the measured ones find everything there.
dir.write("project/MLproject", "name: bench\nentry_points:\n  main:\n    command: \"true\"\n")
const config = JSON.stringify({ existing_cluster_id: "bench" })
const submits = () => workspace.calls("jobs/runs/submit").length
const uploads = () => workspace.calls("dbfs/add-block").length + workspace.calls("dbfs/put").length + workspace.requests.filter((r) => r.method === "PUT").length

/** Milliseconds from starting `mlproject run --detach` until the workspace has received its runs/submit. */
const runOnce = async (): Promise<number> => {
  const before = submits()
  const started = performance.now()
  const proc = Bun.spawn([binary, "run", join(dir.path, "project"), "-b", "databricks", "-c", config, "--detach", "--json"], { env, stdout: "pipe", stderr: "pipe" })
  while (submits() === before) {
    if (proc.exitCode !== null && proc.exitCode !== 0) throw new Error(`mlproject failed: ${await new Response(proc.stderr).text()}`)
    await Bun.sleep(1)
  }
  const ms = performance.now() - started
  await proc.exited
  // The run executes on the loopback "driver" (the launcher, our binary): let it end before the next measurement.
  const databricksRunId = Math.max(...workspace.runs.keys())
  await workspace.settled(databricksRunId)
  await Bun.sleep(300)
  return ms
}
const bareSubmit = async (payload: string): Promise<number> =>
  (await spawn(["curl", "-sS", "-f", "-o", "/dev/null", "-X", "POST", "-H", `Authorization: Bearer ${workspace.token}`, "-H", "content-type: application/json", "-d", payload, `${workspace.url}/api/2.1/jobs/runs/submit`])).ms

await runOnce()
const payload = workspace.calls("jobs/runs/submit").at(-1)?.text as string
const uploadsBefore = uploads()
const run: number[] = []
const bare: number[] = []
for (let i = 0; i < Math.max(rounds, 7); i++) {
  run.push(await runOnce())
  // The same payload, its python_file pointing nowhere (same length), so the run ends at once and runs nothing.
  bare.push(await bareSubmit(JSON.stringify({ ...JSON.parse(payload), idempotency_token: undefined }).replace(/mlproject-launcher-([0-9a-f]{16})\.py/, "mlproject-launcher-0000000000000000.py")))
}
const [r, b] = [median(run), median(bare)]
console.log(`databricks submit of an unchanged project: ${run.length} rounds, medians`)
console.log(`  curl runs/submit (baseline)                 ${b.toFixed(1).padStart(7)} ms`)
console.log(`  mlproject run --detach → runs/submit seen   ${r.toFixed(1).padStart(7)} ms  (${(r / b).toFixed(2)}x baseline)  goal: ≤ 1.5x`)
console.log(`  bytes uploaded by the measured runs: ${uploads() - uploadsBefore === 0 ? "none" : `${uploads() - uploadsBefore} upload calls`}  goal: none`)
// Let the detached supervisors see their trivial runs end before the workspace goes.
await Bun.sleep(4000)
