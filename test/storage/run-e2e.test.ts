// `mlproject run -P data=s3://…` through the compiled binary: the program gets a local file, the run logs the URI.
import { afterAll, beforeAll, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Crc64NvmeJs } from "@aws-sdk/checksums/crc"
import { cli } from "../lib/cli.ts"
import { readRun } from "../lib/mlruns.ts"
import { startS3rver, type S3rver } from "../lib/s3rver.ts"
import { tmpdirFor } from "../lib/tmp.ts"

let s3: S3rver
beforeAll(async () => {
  s3 = await startS3rver(["data"])
})
afterAll(async () => {
  await s3[Symbol.asyncDispose]()
})

const s3Env = () => ({ ...s3.credentials, MLFLOW_S3_ENDPOINT_URL: s3.url, AWS_EC2_METADATA_DISABLED: "true", AWS_REGION: "us-east-1" })
const project = "entry_points:\n  main:\n    parameters:\n      data: path\n    command: 'sha256sum {data}'\n"

test("a remote path parameter arrives as a local file under param_0, downloaded once across runs", async () => {
  await using dir = tmpdirFor()
  dir.write("project/MLproject", project)
  const { sha256 } = s3.writeObject("data", "train/train.csv", 300_000, 7)
  const storage = join(dir.path, "storage")
  const run = (extra: string[] = []) =>
    cli(["run", "project", "-P", "data=s3://data/train/train.csv", "--storage-dir", storage, "--json", ...extra], { cwd: dir.path, env: s3Env() })
  const first = await run()
  expect(first.code, first.stdout + first.stderr).toBe(0)
  const [line] = first.events.filter((e) => e.type === "log" && e.stream === "stdout").map((e) => e.line as string)
  const [hash, path] = (line ?? "").split(/\s+/)
  expect(hash).toBe(sha256)
  expect(path?.startsWith(storage)).toBe(true)
  expect(path?.endsWith("/param_0/train.csv")).toBe(true)
  // s3rver's ETag is the MD5 of a single-part object; the object has no x-amz-checksum-*.
  expect(first.events.find((e) => e.type === "download.done")).toMatchObject({ cached: false, bytes: 300_000, checksum: "md5" })
  const done = first.events.at(-1) as Record<string, unknown>
  expect(readRun(join(dir.path, "mlruns"), "0", done.run_id as string).params.data).toBe("s3://data/train/train.csv")

  const second = await run()
  expect(second.code).toBe(0)
  // A cache hit names the check made when the cache was filled.
  expect(second.events.find((e) => e.type === "download.done")).toMatchObject({ cached: true, checksum: "md5" })
  const fresh = await run(["--no-cache"])
  expect(fresh.events.find((e) => e.type === "download.done")).toMatchObject({ cached: false })
})

test("the human output says which checksum the download was checked against", async () => {
  await using dir = tmpdirFor()
  dir.write("project/MLproject", project)
  const crc = new Crc64NvmeJs()
  s3.writeObject("data", "sums/train.csv", 200_000, 8, (bytes) => crc.update(bytes))
  s3.setHeaders("data", "sums/train.csv", { "x-amz-checksum-crc64nvme": Buffer.from(await crc.digest()).toString("base64") })
  const result = await cli(["run", "project", "-P", "data=s3://data/sums/train.csv", "--storage-dir", join(dir.path, "storage")], { cwd: dir.path, env: s3Env() })
  expect(result.code, result.stderr).toBe(0)
  expect(result.stderr).toMatch(/downloaded s3:\/\/data\/sums\/train\.csv \(.*\) → .* in .*, verified by crc64nvme/)
})

test("a missing object fails before any run exists, naming the URI without credentials", async () => {
  await using dir = tmpdirFor()
  dir.write("project/MLproject", project)
  const result = await cli(["run", "project", "-P", "data=s3://data/nope.csv"], { cwd: dir.path, env: s3Env() })
  expect(result.code).toBe(2)
  expect(result.stderr).toContain("s3://data/nope.csv")
  expect(result.stderr).not.toContain(s3.credentials.AWS_SECRET_ACCESS_KEY)
  expect(() => readFileSync(join(dir.path, "mlruns", "0", "meta.yaml"))).toThrow()
})

test("--dry-run shows where the download would land and downloads nothing", async () => {
  await using dir = tmpdirFor()
  dir.write("project/MLproject", project)
  const result = await cli(["run", "project", "-P", "data=s3://data/x/y.csv", "--dry-run", "--json"], { cwd: dir.path, env: s3Env() })
  expect(result.code).toBe(0)
  const planned = result.events.find((e) => e.type === "run.planned") as Record<string, unknown>
  expect(planned.command).toContain("param_0/y.csv")
  expect(result.events.some((e) => e.type === "download.started")).toBe(false)
})
