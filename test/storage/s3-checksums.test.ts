// s3:// downloads checked against the object's x-amz-checksum-* (values computed by the AWS SDK's own code), the
// fallback to the ETag's MD5 for composite checksums, and the check named in download.done.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Crc32, Crc32c, Crc64NvmeJs } from "@aws-sdk/checksums/crc"
import type { Event } from "../../src/events/event.ts"
import { downloadUri, stat } from "../../src/storage/index.ts"
import { pseudoRandom, sha256 } from "../lib/bytes.ts"
import { caught } from "../lib/caught.ts"
import { s3Proxy, type S3Proxy } from "../lib/s3-proxy.ts"
import { startS3rver, type S3rver } from "../lib/s3rver.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const MiB = 1024 * 1024
let server: S3rver
let proxy: S3Proxy
let env: Record<string, string>

beforeAll(async () => {
  server = await startS3rver(["sums"])
  proxy = s3Proxy(server.url, { S3RVER: "S3RVER" })
  env = { ...server.credentials, MLFLOW_S3_ENDPOINT_URL: proxy.url, AWS_EC2_METADATA_DISABLED: "true" }
})

afterAll(async () => {
  await proxy?.[Symbol.asyncDispose]()
  await server?.[Symbol.asyncDispose]()
})

type SdkHash = { update(bytes: Uint8Array): void; digest(): Promise<Uint8Array> }
const sdkBase64 = async (hash: SdkHash, bytes: Uint8Array) => {
  hash.update(bytes)
  return Buffer.from(await hash.digest()).toString("base64")
}

/** Puts `bytes` through the SDK with the given checksum headers (s3rver stores them as given). */
const put = async (key: string, bytes: Uint8Array, headers: Record<string, string>) => {
  const { S3Client, PutObjectCommand } = await import("@aws-sdk/client-s3")
  const client = new S3Client({ region: "us-east-1", endpoint: proxy.url, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } })
  const command = new PutObjectCommand({ Bucket: "sums", Key: key, Body: bytes })
  command.middlewareStack.add(
    (next) => async (args) => {
      Object.assign((args.request as { headers: Record<string, string> }).headers, headers)
      return next(args)
    },
    { step: "build", name: "checksumHeaders" },
  )
  await client.send(command)
}

const download = async (key: string, dest: string, tuning = {}) => {
  const events: Event[] = []
  const result = await downloadUri(`s3://sums/${key}`, dest, { env, noCache: true, emit: (e) => void events.push(e), tuning })
  return { result, done: events.find((e) => e.type === "download.done") }
}

describe("s3 checksums", () => {
  const bytes = pseudoRandom(3 * MiB + 5, 91)
  // Parallel ranged parts, so the check runs over parts that arrive out of order.
  const parallel = { parallelThreshold: MiB, partSize: MiB, concurrency: 3, adaptive: false }

  test.each([
    ["crc64nvme", () => sdkBase64(new Crc64NvmeJs(), bytes)],
    ["crc32c", () => sdkBase64(new Crc32c(), bytes)],
    ["crc32", () => sdkBase64(new Crc32(), bytes)],
    ["sha256", async () => new Bun.CryptoHasher("sha256").update(bytes).digest("base64")],
  ] as const)("an object with x-amz-checksum-%s is checked against it, and download.done says so", async (algorithm, value) => {
    await using tmp = tmpdirFor()
    const expected = await value()
    await put(`${algorithm}.bin`, bytes, { [`x-amz-checksum-${algorithm}`]: expected })
    const info = await stat(`s3://sums/${algorithm}.bin`, { env })
    expect(info.checksums).toMatchObject({ [algorithm]: expected, md5: new Bun.CryptoHasher("md5").update(bytes).digest("hex") })
    const head = proxy.requests.findLast((r) => r.method === "HEAD")
    expect(head?.headers.get("x-amz-checksum-mode")).toBe("ENABLED")
    const { result, done } = await download(`${algorithm}.bin`, join(tmp.path, "out.bin"), parallel)
    expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
    expect(done).toMatchObject({ type: "download.done", checksum: algorithm })
    expect(result.checksum).toBe(algorithm)
  })

  test("a wrong CRC-64/NVME is refused (not passed by the MD5 that would match) and nothing appears under the final name", async () => {
    await using tmp = tmpdirFor()
    const big = pseudoRandom(9 * MiB, 92)
    // The CRC of other bytes: well formed, wrong. 9 MiB: the hash worker follows the parts as they land.
    await put("wrong.bin", big, { "x-amz-checksum-crc64nvme": await sdkBase64(new Crc64NvmeJs(), big.subarray(1)) })
    const dest = join(tmp.path, "wrong.bin")
    const error = await caught(download("wrong.bin", dest, parallel))
    expect(error).toMatchObject({ code: "storage.checksum", exitCode: 1 })
    expect(error.message).toContain("crc64nvme")
    expect(existsSync(dest) || existsSync(`${dest}.part`)).toBe(false)
  })

  test("a composite checksum of a multipart upload is not used: the ETag's MD5 is, and the event says why", async () => {
    await using tmp = tmpdirFor()
    await put("composite.bin", bytes, { "x-amz-checksum-crc32c": "AAAAAA==-3", "x-amz-checksum-type": "COMPOSITE" })
    const info = await stat("s3://sums/composite.bin", { env })
    expect(info.checksums?.crc32c).toBeUndefined()
    const { done } = await download("composite.bin", join(tmp.path, "c.bin"))
    expect(done).toMatchObject({ checksum: "md5" })
    expect(done?.type === "download.done" && done.checksum_note).toContain("crc32c is a composite")
  })

  test("without verification nothing is checked, and download.done says none", async () => {
    await using tmp = tmpdirFor()
    await put("plain.bin", bytes, { "x-amz-checksum-crc64nvme": "AAAAAAAAAAA=" })
    const events: Event[] = []
    await downloadUri("s3://sums/plain.bin", join(tmp.path, "p.bin"), { env, noCache: true, verify: false, emit: (e) => void events.push(e) })
    expect(events.find((e) => e.type === "download.done")).toMatchObject({ checksum: "none" })
  })
})
