// Benchmark: a 1 GiB object from s3rver, our S3 download against curl of the same object, same run: throughput and peak RSS.
// Usage: bun scripts/bench/download.ts [--size-mib N] [--rounds N] [--no-compile] [--out-dir DIR] [--checksum ALG]
// (--out-dir /dev/shm takes disk writeback, a large source of noise on shared machines, out of the comparison)
// By default our side is a standalone executable compiled like dist/mlproject (bytecode, minified, the hash
// worker as a second entrypoint) that only downloads; --no-compile runs the same code through `bun` instead.
// The object carries x-amz-checksum-crc64nvme as S3 gives new uploads by default (--checksum crc32c|crc32|sha256|md5
// for another; md5: only the ETag). Each round also times the single-core rate of the checksum the verified download
// used, hashing 1 GiB in memory with the same code (16 passes over 64 MiB in 4 MiB steps, as the hash worker reads).
import { cpSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Crc32, Crc32c, Crc64NvmeJs } from "@aws-sdk/checksums/crc"
import { median } from "./lib.ts"
import { startupJitPolicy } from "../bytecode-profile.ts"

const MiB = 1024 * 1024
const root = join(import.meta.dir, "..", "..")

/** The child process: one download, then its own timing, check and peak RSS (VmHWM) as a JSON line; or a hash-rate run. */
const childSource = (storageDir: string) => `
// As src/bin.ts does: the startup JIT policy of the build lasts only the first moment.
setTimeout(() => Bun.unsafe.setJITPolicy(1), 25).unref()
const [uri, dest, mode] = process.argv.slice(2)
const started = performance.now()
if (mode === "hash") {
  const { digestOf } = await import(${JSON.stringify(`${storageDir}/checksum.ts`)})
  const block = new Uint8Array(64 * 1024 * 1024)
  for (let i = 0; i < block.length; i += 4096) block[i] = i >>> 12
  const digest = digestOf(uri)
  const begun = performance.now()
  for (let pass = 0; pass < Number(dest) / 64; pass++) for (let at = 0; at < block.length; at += 4 * 1024 * 1024) digest.update(block.subarray(at, at + 4 * 1024 * 1024))
  digest.digest()
  console.log(JSON.stringify({ ms: performance.now() - begun }))
  process.exit(0)
}
const { downloadUri } = await import(${JSON.stringify(`${storageDir}/index.ts`)})
const result = await downloadUri(uri, dest, { noCache: true, verify: mode !== "no-verify" })
const hwm = Number((await Bun.file("/proc/self/status").text()).match(/VmHWM:\\s+(\\d+)/)?.[1] ?? 0)
console.log(JSON.stringify({ bytes: result.bytes, ms: performance.now() - started, rssMb: hwm / 1024, checksum: result.checksum }))
`

/** Compiles the child with src/ laid out as in the real build (src/bin.ts + src/storage/hash-worker.ts → root src/). */
const compileChild = async (dir: string): Promise<string[]> => {
  cpSync(join(root, "src"), join(dir, "src"), { recursive: true })
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"))
  writeFileSync(join(dir, "src", "bench-download.ts"), childSource("./storage"))
  const outfile = join(dir, "bench-download")
  const result = await Bun.build({
    entrypoints: [join(dir, "src", "bench-download.ts"), join(dir, "src", "storage", "hash-worker.ts")],
    compile: { outfile, autoloadTsconfig: false, autoloadPackageJson: false, autoloadDotenv: false, autoloadBunfig: false, jitPolicy: startupJitPolicy },
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
const checksumAt = argv.indexOf("--checksum")
const checksum = checksumAt === -1 ? "crc64nvme" : (argv[checksumAt + 1] as string)

const { startS3rver } = await import("../../test/lib/s3rver.ts")
const { tmpdirFor } = await import("../../test/lib/tmp.ts")
await using tmp = tmpdirFor("mlproject-bench-")
mkdirSync(join(tmp.path, "build"))
const downloader = compiled
  ? await compileChild(join(tmp.path, "build"))
  : (writeFileSync(join(tmp.path, "child.ts"), childSource(join(root, "src", "storage"))), [process.execPath, join(tmp.path, "child.ts")])
await using server = await startS3rver(["bench"])
// The AWS SDK's own implementations give the served value: it must not come from the code under test.
type SdkHash = { update(bytes: Uint8Array): void; digest(): Promise<Uint8Array> }
const sdkHash: Record<string, () => SdkHash> = { crc64nvme: () => new Crc64NvmeJs(), crc32c: () => new Crc32c(), crc32: () => new Crc32() }
const served = checksum === "md5" ? null : checksum === "sha256" ? new Bun.CryptoHasher("sha256") : (sdkHash[checksum]?.() ?? null)
if (checksum !== "md5" && served === null) throw new Error(`--checksum: one of crc64nvme, crc32c, crc32, sha256, md5`)
server.writeObject("bench", "1g.bin", size, 3, (bytes) => void served?.update(bytes))
if (served !== null) {
  const value = served instanceof Bun.CryptoHasher ? served.digest("base64") : Buffer.from(await served.digest()).toString("base64")
  server.setHeaders("bench", "1g.bin", { [`x-amz-checksum-${checksum}`]: value, "x-amz-checksum-type": "FULL_OBJECT" })
}
const env = { ...process.env, ...server.credentials, MLFLOW_S3_ENDPOINT_URL: server.url, AWS_EC2_METADATA_DISABLED: "true", MLPROJECT_HOME: join(tmp.path, "home") }
const outAt = argv.indexOf("--out-dir")
const out = join(outAt === -1 ? tmp.path : (argv[outAt + 1] as string), `mlproject-bench-${process.pid}.bin`)

/** Wall time of the whole process; for ours also the download alone (after start-up, SDK loading included). */
type Sample = { seconds: number; transferSeconds: number | null; rssMb: number | null; checksum?: string }

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
  const report = JSON.parse(result.stdout.toString().trim().split("\n").at(-1) ?? "{}") as { bytes: number; ms: number; rssMb: number; checksum: string }
  if (report.bytes !== size || statSync(out).size !== size) throw new Error("mlproject: wrong size")
  rmSync(out, { force: true })
  return { seconds, transferSeconds: report.ms / 1000, rssMb: report.rssMb, checksum: report.checksum }
}

/** One core hashing `size` bytes in memory with the algorithm the verified download used (the worker's loop, minus the reads). */
const runHash = (algorithm: string): Sample => {
  const result = Bun.spawnSync([...downloader, algorithm, String(size / MiB), "hash"], { stderr: "pipe" })
  if (result.exitCode !== 0) throw new Error(`hash failed: ${result.stderr.toString()}`)
  const report = JSON.parse(result.stdout.toString().trim().split("\n").at(-1) ?? "{}") as { ms: number }
  return { seconds: report.ms / 1000, transferSeconds: null, rssMb: null }
}

runCurl()
const used = runOurs(true).checksum ?? "none"
const hashName = `hash ${used} (1 core, memory)`
const cases: Record<string, () => Sample> = {
  curl: runCurl,
  [`mlproject (verified, ${used})`]: () => runOurs(true),
  "mlproject (no verification)": () => runOurs(false),
  ...(used === "none" ? {} : { [hashName]: () => runHash(used) }),
}
const samples = new Map(Object.keys(cases).map((name) => [name, [] as Sample[]]))
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(cases)) samples.get(name)?.push(run())
}

const throughput = (name: string) => size / MiB / median((samples.get(name) ?? []).map((s) => s.seconds))
const curl = throughput("curl")
const hashRate = used === "none" ? Infinity : throughput(hashName)
const floor = Math.min(curl, hashRate)
const how = compiled ? "a compiled standalone downloader (bun build --compile --bytecode --minify)" : "bun running the storage module"
console.log(`download of a ${size / MiB} MiB object from s3rver on 127.0.0.1 carrying ${checksum === "md5" ? "only its ETag (MD5)" : `x-amz-checksum-${checksum}`}; ours is ${how}`)
console.log(`median of ${rounds} interleaved rounds, process start included; out: ${outAt === -1 ? "the temp dir" : argv[outAt + 1]}`)
for (const name of Object.keys(cases)) {
  const mibs = throughput(name)
  const list = samples.get(name) ?? []
  const rss = list.map((s) => s.rssMb).filter((v): v is number => v !== null)
  const ratio = name === "curl" || name === hashName ? "" : `${(mibs / curl).toFixed(2)}x curl, ${(mibs / floor).toFixed(2)}x min(curl, hash)`
  const memory = rss.length ? `  peak RSS ${Math.max(...rss).toFixed(0)} MB` : ""
  const transfers = list.map((s) => s.transferSeconds).filter((v): v is number => v !== null)
  const alone = transfers.length ? `  [download call alone ${(size / MiB / median(transfers)).toFixed(0)} MiB/s]` : ""
  console.log(`  ${name.padEnd(34)} ${mibs.toFixed(0).padStart(6)} MiB/s  ${ratio}${memory}${alone}`)
  console.log(`  ${"".padEnd(34)} rounds (s): ${list.map((s) => s.seconds.toFixed(2)).join(" ")}`)
}
const verified = throughput(`mlproject (verified, ${used})`)
const unverified = throughput("mlproject (no verification)")
const peak = Math.max(...[...samples.values()].flat().map((s) => s.rssMb ?? 0))
const verdict = (ok: boolean) => (ok ? "met" : "NOT met")
console.log(`floor min(curl, hash ${used}) = ${floor.toFixed(0)} MiB/s (${floor === curl ? "curl" : "the hash"}), ${(size / MiB / floor).toFixed(2)} s`)
console.log(`goal: verified >= 0.9x min(curl, hash): ${(verified / floor).toFixed(2)}x ${verdict(verified >= 0.9 * floor)}`)
console.log(`goal: unverified >= 0.95x curl: ${(unverified / curl).toFixed(2)}x ${verdict(unverified >= 0.95 * curl)}`)
console.log(`goal: peak RSS <= 150 MB at ${size / MiB} MiB: ${peak.toFixed(0)} MB ${verdict(peak <= 150)}`)
