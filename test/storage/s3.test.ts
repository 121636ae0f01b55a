// s3:// through the real @aws-sdk/client-s3 against s3rver on 127.0.0.1 (behind a signature-checking proxy).
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { downloadPathParameter, downloadUri, stat, upload } from "../../src/storage/index.ts"
import { pseudoRandom, sha256, sha256File } from "../lib/bytes.ts"
import { caught } from "../lib/caught.ts"
import { s3Proxy, type S3Proxy } from "../lib/s3-proxy.ts"
import { startS3rver, type S3rver } from "../lib/s3rver.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const MiB = 1024 * 1024
let server: S3rver
let proxy: S3Proxy
let env: Record<string, string>


beforeAll(async () => {
  server = await startS3rver(["data", "big"])
  proxy = s3Proxy(server.url, { S3RVER: "S3RVER" })
  env = { ...server.credentials, MLFLOW_S3_ENDPOINT_URL: proxy.url, AWS_EC2_METADATA_DISABLED: "true" }
})

afterAll(async () => {
  await proxy?.[Symbol.asyncDispose]()
  await server?.[Symbol.asyncDispose]()
})

describe("s3", () => {
  test("uploads and downloads a single object, path-style, with plain (unframed) bodies", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(300_000, 31)
    writeFileSync(join(tmp.path, "train.csv"), bytes)
    await upload(join(tmp.path, "train.csv"), "s3://data/sets/train.csv", { env })
    const put = proxy.requests.find((r) => r.method === "PUT" && r.path === "/data/sets/train.csv")
    expect(put?.headers.get("content-encoding")).toBeNull()
    expect(put?.headers.get("x-amz-decoded-content-length")).toBeNull()
    expect(put?.body.length).toBe(bytes.length)
    const local = await downloadPathParameter("s3://data/sets/train.csv", { env: { ...env, MLPROJECT_HOME: join(tmp.path, "home") }, storageDir: join(tmp.path, "run"), index: 2 })
    expect(local).toBe(join(tmp.path, "run", "param_2", "train.csv"))
    expect(sha256(readFileSync(local))).toBe(sha256(bytes))
    const info = await stat("s3://data/sets/train.csv", { env })
    expect(info.checksums?.md5).toBe(new Bun.CryptoHasher("md5").update(bytes).digest("hex"))
  })

  test("an object stored gzip-encoded arrives as its stored bytes, not decompressed", async () => {
    await using tmp = tmpdirFor()
    const { S3Client, PutObjectCommand } = await import("@aws-sdk/client-s3")
    const client = new S3Client({ region: "us-east-1", endpoint: proxy.url, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } })
    const gz = Bun.gzipSync(new TextEncoder().encode("a,b\n1,2\n".repeat(1000)))
    await client.send(new PutObjectCommand({ Bucket: "data", Key: "logs.csv.gz", Body: gz, ContentEncoding: "gzip" }))
    const result = await downloadUri("s3://data/logs.csv.gz", join(tmp.path, "logs.csv.gz"), { env: { ...env, MLPROJECT_HOME: join(tmp.path, "home") } })
    expect(new Uint8Array(readFileSync(result.path))).toEqual(gz)
  })

  test("a prefix downloads recursively, with or without the trailing slash, skipping folder markers", async () => {
    await using tmp = tmpdirFor()
    server.writeObject("data", "tree/a.txt", 10, 1)
    server.writeObject("data", "tree/sub/b.txt", 2000, 2)
    server.writeObject("data", "tree/sub/", 0, 3)
    const options = { env: { ...env, MLPROJECT_HOME: join(tmp.path, "home") }, storageDir: tmp.path }
    const withSlash = await downloadPathParameter("s3://data/tree/", { ...options, index: 0 })
    const without = await downloadPathParameter("s3://data/tree", { ...options, index: 1 })
    expect(withSlash).toBe(join(tmp.path, "param_0", "tree"))
    expect(without).toBe(join(tmp.path, "param_1", "tree"))
    for (const dir of [withSlash, without]) {
      expect(readdirSync(dir, { recursive: true }).map(String).sort()).toEqual(["a.txt", "sub", join("sub", "b.txt")])
      expect(readFileSync(join(dir, "sub", "b.txt"))).toEqual(Buffer.from(pseudoRandom(2000, 2 * 1_000_003)))
    }
  })

  test("a missing object, a missing bucket and bad credentials are named clearly", async () => {
    await using tmp = tmpdirFor()
    const dest = join(tmp.path, "x")
    const missing = await caught(downloadUri("s3://data/nope/none.csv", dest, { env }))
    expect(missing.code).toBe("storage.not_found")
    expect(missing.exitCode).toBe(2)
    expect(missing.message).toContain("s3://data/nope/none.csv")
    const bucket = await caught(downloadUri("s3://no-such-bucket/x.csv", dest, { env }))
    expect(bucket.message).toContain("no-such-bucket")
    const wrongKey = await caught(downloadUri("s3://data/sets/train.csv", dest, { env: { ...env, AWS_ACCESS_KEY_ID: "NOBODY" } }))
    expect(wrongKey).toMatchObject({ code: "storage.denied", exitCode: 2 })
    expect(wrongKey.message).toContain("InvalidAccessKeyId")
    const wrongSecret = await caught(downloadUri("s3://data/sets/train.csv", dest, { env: { ...env, AWS_SECRET_ACCESS_KEY: "wrong" } }))
    expect(wrongSecret.code).toBe("storage.denied")
    expect(wrongSecret.hint).toContain("AWS_SECRET_ACCESS_KEY")
    expect(existsSync(dest)).toBe(false)
  })

  test("no credentials at all says which variables or files would provide them", async () => {
    const bare = { MLFLOW_S3_ENDPOINT_URL: proxy.url, AWS_EC2_METADATA_DISABLED: "true", HOME: "/nonexistent" }
    process.env.AWS_EC2_METADATA_DISABLED = "true"
    const error = await caught(stat("s3://data/sets/train.csv", { env: bare }))
    delete process.env.AWS_EC2_METADATA_DISABLED
    expect(error.code).toBe("storage.credentials")
    expect(error.hint).toContain("AWS_ACCESS_KEY_ID")
    expect(error.hint).toContain("~/.aws/credentials")
  })

  test("an unreachable endpoint is reported with its address", async () => {
    const error = await caught(stat("s3://data/x", { env: { ...env, MLFLOW_S3_ENDPOINT_URL: "http://127.0.0.1:9" } }))
    expect(error).toMatchObject({ code: "storage.unreachable", exitCode: 1 })
    expect(error.message).toContain("http://127.0.0.1:9")
  }, 30_000)

  test("TLS endpoints: an untrusted certificate is explained; MLFLOW_S3_IGNORE_TLS or AWS_CA_BUNDLE make it work", async () => {
    await using tmp = tmpdirFor()
    const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(tmp.path, "key.pem"), "-out", join(tmp.path, "cert.pem")], { stderr: "pipe" })
    expect(made.exitCode).toBe(0)
    const tls = { cert: readFileSync(join(tmp.path, "cert.pem"), "utf8"), key: readFileSync(join(tmp.path, "key.pem"), "utf8") }
    await using secure = s3Proxy(server.url, { S3RVER: "S3RVER" }, tls)
    const tlsEnv = { ...env, MLFLOW_S3_ENDPOINT_URL: secure.url }
    const refused = await caught(stat("s3://data/sets/train.csv", { env: tlsEnv }))
    expect(refused.code).toBe("storage.unreachable")
    expect(refused.hint).toContain("MLFLOW_S3_IGNORE_TLS")
    expect((await stat("s3://data/sets/train.csv", { env: { ...tlsEnv, MLFLOW_S3_IGNORE_TLS: "true" } })).size).toBe(300_000)
    expect((await stat("s3://data/sets/train.csv", { env: { ...tlsEnv, AWS_CA_BUNDLE: join(tmp.path, "cert.pem") } })).size).toBe(300_000)
  }, 30_000)

  test("a 200 MB object arrives intact (SHA-256), verified against its ETag", async () => {
    await using tmp = tmpdirFor()
    const sums = server.writeObject("big", "200mb.bin", 200 * 1000 * 1000, 11)
    const before = proxy.bytesSent
    const result = await downloadUri("s3://big/200mb.bin", join(tmp.path, "200mb.bin"), { env: { ...env, MLPROJECT_HOME: join(tmp.path, "home") } })
    expect(await sha256File(result.path)).toBe(sums.sha256)
    // A stream whose tail was handed to a second stream may have a little more in flight when it stops.
    expect(proxy.bytesSent - before).toBeGreaterThanOrEqual(200 * 1000 * 1000)
    expect(proxy.bytesSent - before).toBeLessThan(210 * 1000 * 1000)
    const gets = proxy.requests.filter((r) => r.path === "/big/200mb.bin" && r.method === "GET")
    expect(gets[0]?.headers.get("range")).toBe(`bytes=0-${200 * 1000 * 1000 - 1}`)
  }, 60_000)

  test("a download killed mid-way resumes: the next one fetches only what is missing", async () => {
    await using tmp = tmpdirFor()
    const home = join(tmp.path, "home")
    const childEnv = { ...process.env, ...env, MLPROJECT_HOME: home }
    // Slow enough that a loaded machine still sees progress on record long before the end.
    proxy.bytesPerSecond = 40 * 1000 * 1000
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "lib", "download-main.ts"), "s3://big/200mb.bin", join(tmp.path, "first.bin")], {
      env: childEnv,
      stdout: "pipe",
      stderr: "inherit",
    })
    const decoder = new TextDecoder()
    let pending = ""
    for await (const chunk of child.stdout) {
      pending += decoder.decode(chunk)
      const done = [...pending.matchAll(/"done":(\d+)/g)].map((m) => Number(m[1])).at(-1) ?? 0
      const saved = existsSync(join(home, "downloads")) && readdirSync(join(home, "downloads")).some((name) => name.endsWith(".part.json"))
      // Once half is through (several parts complete and on record), and well short of the end.
      if (done >= 100 * MiB && saved) {
        child.kill("SIGKILL")
        break
      }
    }
    await child.exited
    proxy.bytesPerSecond = null
    expect(readdirSync(join(home, "downloads")).some((name) => name.endsWith(".part"))).toBe(true)
    expect(existsSync(join(tmp.path, "first.bin"))).toBe(false)
    const before = proxy.bytesSent
    const result = await downloadUri("s3://big/200mb.bin", join(tmp.path, "second.bin"), { env: { ...env, MLPROJECT_HOME: home } })
    const fetched = proxy.bytesSent - before
    expect(fetched).toBeLessThan(200 * 1000 * 1000 - 40 * MiB)
    expect(result.fetched).toBeLessThanOrEqual(fetched)
    expect(await sha256File(result.path)).toBe(new Bun.CryptoHasher("sha256").update(await Bun.file(join(server.directory, "big", "200mb.bin._S3rver_object")).bytes()).digest("hex"))
    rmSync(join(server.directory, "big", "200mb.bin._S3rver_object"))
  }, 90_000)

  test("a large upload goes in multipart parts", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(65 * MiB, 41)
    writeFileSync(join(tmp.path, "up.bin"), bytes)
    await upload(join(tmp.path, "up.bin"), "s3://data/up.bin", { env })
    expect(proxy.requests.filter((r) => r.path === "/data/up.bin" && r.query.has("partNumber")).length).toBe(5)
    const result = await downloadUri("s3://data/up.bin", join(tmp.path, "down.bin"), { env: { ...env, MLPROJECT_HOME: join(tmp.path, "home") } })
    expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
  }, 60_000)
})
