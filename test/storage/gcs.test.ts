// gs:// through the real @google-cloud/storage against a loopback GCS JSON API server: requests, auth, bytes, checksums.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../../src/errors.ts"
import type { Event } from "../../src/events/event.ts"
import { downloadObject, downloadPathParameter, downloadUri, stat, upload } from "../../src/storage/index.ts"
import { pseudoRandom, sha256 } from "../lib/bytes.ts"
import { gcsServer, type GcsServer } from "../lib/gcs-server.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const MiB = 1024 * 1024

/** Workload-identity credentials whose token exchange goes to the loopback server, so the SDK sends a bearer token. */
const credentials = (tmp: TmpDir, server: GcsServer) => {
  tmp.write("subject-token", "subject")
  return tmp.write(
    "credentials.json",
    JSON.stringify({
      type: "external_account",
      audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/test",
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      token_url: `${server.url}/token`,
      credential_source: { file: join(tmp.path, "subject-token") },
    }),
  )
}

const envFor = (tmp: TmpDir, server: GcsServer) => ({
  MLPROJECT_GCS_ENDPOINT: server.url,
  GOOGLE_APPLICATION_CREDENTIALS: credentials(tmp, server),
  GOOGLE_CLOUD_PROJECT: "test",
  MLPROJECT_HOME: join(tmp.path, "home"),
})

describe("gcs", () => {
  test("stat and download send the JSON API requests with the bearer token; the bytes match", async () => {
    await using tmp = tmpdirFor()
    await using server = gcsServer({ requireToken: true })
    const bytes = pseudoRandom(300_000, 61)
    const generation = server.put("bkt", "data/train.csv", bytes)
    const env = envFor(tmp, server)
    const info = await stat("gs://bkt/data/train.csv", { env })
    expect(info).toMatchObject({ size: bytes.length, version: String(generation), checksums: { md5: new Bun.CryptoHasher("md5").update(bytes).digest("hex") } })
    const local = await downloadPathParameter("gs://bkt/data/train.csv", { env, storageDir: tmp.path, index: 1 })
    expect(local).toBe(join(tmp.path, "param_1", "train.csv"))
    expect(sha256(readFileSync(local))).toBe(sha256(bytes))
    const api = server.requests.filter((r) => r.path !== "/token")
    expect(api.every((r) => r.headers.get("authorization") === `Bearer ${server.token}`)).toBe(true)
    expect(api.some((r) => r.path === "/storage/v1/b/bkt/o/data%2Ftrain.csv" && !r.query.has("alt"))).toBe(true)
    const media = api.filter((r) => r.query.get("alt") === "media")
    expect(media).toHaveLength(1)
    expect(media[0]?.query.get("generation")).toBe(String(generation))
    expect(media[0]?.headers.get("range")).toBe(`bytes=0-${bytes.length - 1}`)
  })

  test("large objects come in parallel ranged parts pinned to one generation", async () => {
    await using tmp = tmpdirFor()
    await using server = gcsServer()
    const bytes = pseudoRandom(3 * MiB, 62)
    server.put("bkt", "big.bin", bytes)
    const tuning = { parallelThreshold: MiB, partSize: MiB, concurrency: 3, adaptive: false }
    const result = await downloadUri("gs://bkt/big.bin", join(tmp.path, "big.bin"), { env: envFor(tmp, server), tuning })
    expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
    const ranges = server.requests.filter((r) => r.query.get("alt") === "media").map((r) => r.headers.get("range")).sort()
    expect(ranges).toEqual([`bytes=0-${MiB - 1}`, `bytes=${MiB}-${2 * MiB - 1}`, `bytes=${2 * MiB}-${3 * MiB - 1}`])
  })

  test("a prefix is listed page by page and downloaded recursively", async () => {
    await using tmp = tmpdirFor()
    await using server = gcsServer({ pageSize: 2 })
    for (const [i, name] of ["ds/a.txt", "ds/b.txt", "ds/sub/c.txt", "other/d.txt"].entries()) server.put("bkt", name, pseudoRandom(100 + i, i))
    server.put("bkt", "ds/sub/", new Uint8Array())
    const local = await downloadPathParameter("gs://bkt/ds/", { env: envFor(tmp, server), storageDir: tmp.path, index: 0 })
    expect(readdirSync(local, { recursive: true }).map(String).sort()).toEqual(["a.txt", "b.txt", "sub", join("sub", "c.txt")])
    const listings = server.requests.filter((r) => r.path === "/storage/v1/b/bkt/o")
    expect(listings.map((r) => [r.query.get("prefix"), r.query.get("pageToken")])).toEqual([
      ["ds/", null],
      ["ds/", "2"],
    ])
  })

  test("a checksum that does not match is refused and nothing appears under the final name", async () => {
    await using tmp = tmpdirFor()
    await using server = gcsServer()
    server.put("bkt", "x.bin", pseudoRandom(1000, 63))
    server.corruptChecksums = true
    const dest = join(tmp.path, "x.bin")
    const error = await downloadUri("gs://bkt/x.bin", dest, { env: envFor(tmp, server), noCache: true }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ToolError)
    expect(error).toMatchObject({ code: "storage.checksum", exitCode: 1 })
    expect(existsSync(dest) || existsSync(`${dest}.part`)).toBe(false)
    // A mismatch is retried once from scratch before giving up.
    expect(server.requests.filter((r) => r.query.get("alt") === "media")).toHaveLength(2)
  })

  test("large objects are hashed by the worker while they download, and a mismatch is still caught", async () => {
    await using tmp = tmpdirFor()
    await using server = gcsServer()
    const bytes = pseudoRandom(9 * MiB, 65)
    server.put("bkt", "large.bin", bytes)
    const tuning = { parallelThreshold: MiB, partSize: MiB, concurrency: 3, adaptive: false }
    const ok = await downloadUri("gs://bkt/large.bin", join(tmp.path, "ok.bin"), { env: envFor(tmp, server), tuning, noCache: true })
    expect(sha256(readFileSync(ok.path))).toBe(sha256(bytes))
    server.corruptChecksums = true
    const bad = await downloadUri("gs://bkt/large.bin", join(tmp.path, "bad.bin"), { env: envFor(tmp, server), tuning, noCache: true }).catch((e: unknown) => e)
    expect(bad).toMatchObject({ code: "storage.checksum" })
    expect(existsSync(join(tmp.path, "bad.bin"))).toBe(false)
  })

  test("CRC32C is preferred to MD5, checked also when there is no MD5 (composite objects), and named in download.done", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(5000, 64)
    await using server = gcsServer()
    server.put("bkt", "c.bin", bytes)
    const info = await stat("gs://bkt/c.bin", { env: envFor(tmp, server) })
    const events: Event[] = []
    const both = await downloadObject(info, join(tmp.path, "both.bin"), { env: envFor(tmp, server), noCache: true, emit: (e) => void events.push(e) })
    expect(both.checksum).toBe("crc32c")
    expect(events.find((e) => e.type === "download.done")).toMatchObject({ checksum: "crc32c" })
    // A right MD5 does not save a wrong CRC32C: the CRC32C is what is checked.
    const wrongCrc = await downloadObject({ ...info, checksums: { ...info.checksums, crc32c: "AAAAAA==" } }, join(tmp.path, "w.bin"), { env: envFor(tmp, server), noCache: true }).catch((e: unknown) => e)
    expect(wrongCrc).toMatchObject({ code: "storage.checksum" })
    const withoutMd5 = { ...info, checksums: { crc32c: info.checksums?.crc32c as string } }
    const ok = await downloadObject(withoutMd5, join(tmp.path, "ok.bin"), { env: envFor(tmp, server), noCache: true })
    expect(ok.bytes).toBe(5000)
    const wrong = await downloadObject({ ...withoutMd5, checksums: { crc32c: "AAAAAA==" } }, join(tmp.path, "bad.bin"), { env: envFor(tmp, server), noCache: true }).catch((e: unknown) => e)
    expect(wrong).toMatchObject({ code: "storage.checksum" })
    expect((wrong as ToolError).message).toContain("crc32c")
    const md5Only = await downloadObject({ ...info, checksums: { md5: info.checksums?.md5 as string } }, join(tmp.path, "m.bin"), { env: envFor(tmp, server), noCache: true })
    expect(md5Only.checksum).toBe("md5")
  })

  test("uploads with a multipart request; a missing object and a refused token are explained", async () => {
    await using tmp = tmpdirFor()
    await using server = gcsServer({ requireToken: true })
    const env = envFor(tmp, server)
    writeFileSync(join(tmp.path, "up.txt"), "uploaded bytes")
    await upload(join(tmp.path, "up.txt"), "gs://bkt/code/up.txt", { env })
    expect(server.requests.some((r) => r.path === "/upload/storage/v1/b/bkt/o" && r.query.get("uploadType") === "multipart")).toBe(true)
    expect(await stat("gs://bkt/code/up.txt", { env })).toMatchObject({ size: 14 })
    const missing = await downloadUri("gs://bkt/none.csv", join(tmp.path, "n"), { env }).catch((e: unknown) => e)
    expect(missing).toMatchObject({ code: "storage.not_found", exitCode: 2 })
    expect((missing as ToolError).message).toContain("gs://bkt/none.csv")
    server.token = "rotated"
    const refused = await stat("gs://bkt/code/up.txt", { env }).catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: "storage.denied", exitCode: 2 })
    expect((refused as ToolError).hint).toContain("GOOGLE_APPLICATION_CREDENTIALS")
  })
})
