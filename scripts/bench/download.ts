// Benchmark: a 1 GiB object from s3rver, our S3 download against curl of the same object, same run: throughput and peak RSS.
// Usage: bun scripts/bench/download.ts [--size-mib N] [--rounds N] [--no-compile] [--out-dir DIR]
// (--out-dir /dev/shm takes disk writeback, a large source of noise on shared machines, out of the comparison)
// By default our side is a standalone executable compiled like dist/mlproject (bytecode, minified, the hash
// worker as a second entrypoint) that only downloads; --no-compile runs the same code through `bun` instead.
import { cpSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { median } from "./lib.ts"

const MiB = 1024 * 1024
const root = join(import.meta.dir, "..", "..")

/** The downloading process: one download, then its own timing and peak RSS (VmHWM) as a JSON line. */
const childSource = (storageModule: string) => `
const [uri, dest, mode] = process.argv.slice(2)
const { downloadUri } = await import(${JSON.stringify(storageModule)})
const started = performance.now()
const result = await downloadUri(uri, dest, { noCache: true, verify: mode !== "no-verify" })
const hwm = Number((await Bun.file("/proc/self/status").text()).match(/VmHWM:\\s+(\\d+)/)?.[1] ?? 0)
console.log(JSON.stringify({ bytes: result.bytes, ms: performance.now() - started, rssMb: hwm / 1024 }))
`

/** Compiles the child with src/ laid out as in the real build (src/bin.ts + src/storage/hash-worker.ts → root src/). */
const compileChild = async (dir: string): Promise<string[]> => {
  cpSync(join(root, "src"), join(dir, "src"), { recursive: true })
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"))
  writeFileSync(join(dir, "src", "bench-download.ts"), childSource("./storage/index.ts"))
  const outfile = join(dir, "bench-download")
  const result = await Bun.build({
    entrypoints: [join(dir, "src", "bench-download.ts"), join(dir, "src", "storage", "hash-worker.ts")],
    compile: { outfile, autoloadTsconfig: false, autoloadPackageJson: false, autoloadDotenv: false, autoloadBunfig: false },
    bytecode: true,
    format: "esm",
    minify: true,
  })
  if (!result.success) throw new Error(result.logs.map(String).join("\n"))
  return [outfile]
}

const argv = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const at = argv.indexOf(name)
  return at === -1 ? fallback : Number(argv[at + 1])
}
const size = option("--size-mib", 1024) * MiB
const rounds = option("--rounds", 3)
const compiled = !argv.includes("--no-compile")

const { startS3rver } = await import("../../test/lib/s3rver.ts")
const { tmpdirFor } = await import("../../test/lib/tmp.ts")
await using tmp = tmpdirFor("mlproject-bench-")
mkdirSync(join(tmp.path, "build"))
const downloader = compiled
  ? await compileChild(join(tmp.path, "build"))
  : (writeFileSync(join(tmp.path, "child.ts"), childSource(join(root, "src", "storage", "index.ts"))), [process.execPath, join(tmp.path, "child.ts")])
await using server = await startS3rver(["bench"])
server.writeObject("bench", "1g.bin", size, 3)
const env = { ...process.env, ...server.credentials, MLFLOW_S3_ENDPOINT_URL: server.url, AWS_EC2_METADATA_DISABLED: "true", MLPROJECT_HOME: join(tmp.path, "home") }
const outAt = argv.indexOf("--out-dir")
const out = join(outAt === -1 ? tmp.path : (argv[outAt + 1] as string), `mlproject-bench-${process.pid}.bin`)

/** Wall time of the whole process; for ours also the download alone (after start-up, SDK loading included). */
type Sample = { seconds: number; transferSeconds: number | null; rssMb: number | null }

const runCurl = (): Sample => {
  const started = performance.now()
  // s3rver serves anonymous GETs, so curl needs no signature.
  const result = Bun.spawnSync(["curl", "-sSf", "-o", out, `${server.url}/bench/1g.bin`], { stderr: "pipe" })
  const seconds = (performance.now() - started) / 1000
  if (result.exitCode !== 0) throw new Error(`curl failed: ${result.stderr.toString()}`)
  if (statSync(out).size !== size) throw new Error("curl: wrong size")
  rmSync(out, { force: true })
  return { seconds, transferSeconds: null, rssMb: null }
}

const runOurs = (verify: boolean): Sample => {
  const started = performance.now()
  const result = Bun.spawnSync([...downloader, "s3://bench/1g.bin", out, verify ? "verify" : "no-verify"], { env, stderr: "pipe" })
  const seconds = (performance.now() - started) / 1000
  if (result.exitCode !== 0) throw new Error(`download failed: ${result.stderr.toString()}`)
  const report = JSON.parse(result.stdout.toString().trim().split("\n").at(-1) ?? "{}") as { bytes: number; ms: number; rssMb: number }
  if (report.bytes !== size || statSync(out).size !== size) throw new Error("mlproject: wrong size")
  rmSync(out, { force: true })
  return { seconds, transferSeconds: report.ms / 1000, rssMb: report.rssMb }
}

const cases: Record<string, () => Sample> = {
  curl: runCurl,
  "mlproject (MD5 verified)": () => runOurs(true),
  "mlproject (no verification)": () => runOurs(false),
}
const samples = new Map(Object.keys(cases).map((name) => [name, [] as Sample[]]))
runCurl()
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(cases)) samples.get(name)?.push(run())
}

const throughput = (name: string) => size / MiB / median((samples.get(name) ?? []).map((s) => s.seconds))
const base = throughput("curl")
const how = compiled ? "a compiled standalone downloader (bun build --compile --bytecode --minify)" : "bun running the storage module"
console.log(`download of a ${size / MiB} MiB object from s3rver on 127.0.0.1; ours is ${how}`)
console.log(`median of ${rounds} interleaved rounds, process start included`)
for (const name of Object.keys(cases)) {
  const mibs = throughput(name)
  const list = samples.get(name) ?? []
  const rss = list.map((s) => s.rssMb).filter((v): v is number => v !== null)
  const ratio = name === "curl" ? "baseline" : `${(mibs / base).toFixed(2)}x curl (goal >= 0.90x)`
  const memory = rss.length ? `  peak RSS ${Math.max(...rss).toFixed(0)} MB (goal <= 150 MB)` : ""
  const transfers = list.map((s) => s.transferSeconds).filter((v): v is number => v !== null)
  const alone = transfers.length ? `  [download call alone ${(size / MiB / median(transfers)).toFixed(0)} MiB/s]` : ""
  console.log(`  ${name.padEnd(28)} ${mibs.toFixed(0).padStart(6)} MiB/s  ${ratio}${memory}${alone}`)
  console.log(`  ${"".padEnd(28)} rounds (s): ${list.map((s) => s.seconds.toFixed(2)).join(" ")}`)
}
