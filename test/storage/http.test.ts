// http(s) downloads against a loopback object server: ranges, parallel parts, retries, resume, errors, progress.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync, readdirSync } from "node:fs"
import { join } from "node:path"
import type { Event } from "../../src/events/event.ts"
import { download, downloadUri } from "../../src/storage/index.ts"
import { pseudoRandom, sha256 } from "../lib/bytes.ts"
import { caught } from "../lib/caught.ts"
import { objectServer } from "../lib/object-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const MiB = 1024 * 1024

describe("http downloads", () => {
  test("downloads an object with a ranged GET, asking for raw bytes", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(MiB + 17)
    await using server = objectServer({ "/data/train.csv": bytes })
    const env = { MLPROJECT_HOME: join(tmp.path, "home") }
    const result = await download(`${server.url}/data/train.csv`, join(tmp.path, "out", "train.csv"), { env })
    expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
    expect(result).toMatchObject({ bytes: bytes.length, cached: false, files: 1 })
    const gets = server.requests.filter((r) => r.headers.get("range") !== "bytes=0-0")
    expect(gets).toHaveLength(1)
    expect(gets[0]?.headers.get("range")).toBe(`bytes=0-${bytes.length - 1}`)
    expect(gets[0]?.headers.get("if-range")).toBe(`"${new Bun.CryptoHasher("md5").update(bytes).digest("hex")}"`)
    expect(gets[0]?.headers.get("accept-encoding")).toBe("identity")
    expect(readdirSync(join(tmp.path, "out"))).toEqual(["train.csv"])
  })

  test("large objects come in parallel ranged parts and are reassembled exactly", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(3 * MiB + 5, 3)
    await using server = objectServer({ "/big.bin": bytes })
    const tuning = { parallelThreshold: MiB, partSize: 256 * 1024, concurrency: 4, adaptive: false }
    const result = await download(`${server.url}/big.bin`, join(tmp.path, "big.bin"), { env: { MLPROJECT_HOME: tmp.path }, noCache: true, tuning })
    expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
    const ranges = server.requests.map((r) => r.headers.get("range")).filter((r) => r !== "bytes=0-0")
    expect(ranges).toHaveLength(13)
    expect(ranges).toContain(`bytes=${12 * 256 * 1024}-${bytes.length - 1}`)
    expect(existsSync(`${result.path}.part`) || existsSync(`${result.path}.part.json`)).toBe(false)
  })

  test("adaptive mode adds streams while they raise the throughput (a per-connection limit)", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(8 * MiB, 4)
    // Each response trickles at about 3 MiB/s, like one TCP stream over a long link.
    await using server = objectServer({ "/far.bin": bytes }, { slow: { chunk: 64 * 1024, delayMs: 20 } })
    const tuning = { parallelThreshold: MiB, partSize: 256 * 1024, concurrency: 4, probeMs: 300 }
    const result = await download(`${server.url}/far.bin`, join(tmp.path, "far.bin"), { env: { MLPROJECT_HOME: tmp.path }, noCache: true, tuning })
    expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
    const ranges = server.requests.map((r) => r.headers.get("range")).filter((r) => r !== "bytes=0-0")
    expect(ranges[0]).toBe(`bytes=0-${bytes.length - 1}`)
    // The first probe always adds a stream, which takes the second half of the first one's range.
    expect(ranges.length).toBeGreaterThanOrEqual(2)
    expect(ranges.some((range) => !range?.startsWith("bytes=0-"))).toBe(true)
  })

  test("adaptive mode stays with one stream when more do not help (a fast local server)", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(8 * MiB, 4)
    await using server = objectServer({ "/near.bin": bytes })
    const tuning = { parallelThreshold: MiB, partSize: 256 * 1024, concurrency: 4, probeMs: 2000 }
    await download(`${server.url}/near.bin`, join(tmp.path, "near.bin"), { env: { MLPROJECT_HOME: tmp.path }, noCache: true, tuning })
    expect(server.requests.map((r) => r.headers.get("range")).filter((r) => r !== "bytes=0-0")).toEqual([`bytes=0-${bytes.length - 1}`])
  })

  test("503 with Retry-After is retried after the delay the server asked for", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(1000)
    await using server = objectServer({ "/x": bytes }, { fail: { count: 1, status: 503, retryAfter: "1" } })
    const started = performance.now()
    const result = await download(`${server.url}/x`, join(tmp.path, "x"), { env: { MLPROJECT_HOME: tmp.path } })
    expect(performance.now() - started).toBeGreaterThanOrEqual(950)
    expect(readFileSync(result.path)).toEqual(Buffer.from(bytes))
    expect(server.requests.length).toBe(3)
  })

  test("a connection cut mid-way resumes from the last byte written", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(4 * MiB, 5)
    await using server = objectServer({ "/cut.bin": bytes }, { cut: { afterBytes: MiB, times: 1 } })
    const result = await download(`${server.url}/cut.bin`, join(tmp.path, "cut.bin"), { env: { MLPROJECT_HOME: tmp.path } })
    expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
    const resumed = server.requests.map((r) => r.headers.get("range")).at(-1) ?? ""
    expect(Number(resumed.match(/^bytes=(\d+)-/)?.[1])).toBeGreaterThanOrEqual(MiB / 2)
    expect(server.bytesSent).toBeLessThan(bytes.length + MiB / 2)
  })

  test("without range support a cut download starts over and still completes", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(2 * MiB, 6)
    await using server = objectServer({ "/n": bytes }, { ranges: false, cut: { afterBytes: MiB, times: 1 } })
    const result = await download(`${server.url}/n`, join(tmp.path, "n"), { env: { MLPROJECT_HOME: tmp.path } })
    expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
    expect(server.requests.every((r) => r.headers.get("range") === null || r.headers.get("range") === "bytes=0-0")).toBe(true)
  })

  test("an interrupted download leaves only a .part file and the next call continues it", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(4 * MiB, 8)
    await using server = objectServer({ "/slow.bin": bytes }, { slow: { chunk: 64 * 1024, delayMs: 5 } })
    const dest = join(tmp.path, "slow.bin")
    const abort = new AbortController()
    const options = { env: { MLPROJECT_HOME: tmp.path }, noCache: true }
    const first = download(`${server.url}/slow.bin`, dest, { ...options, signal: abort.signal })
    setTimeout(() => abort.abort(), 150)
    expect((await caught(first)).code).toBe("interrupted")
    expect(existsSync(dest)).toBe(false)
    expect(existsSync(`${dest}.part`) && existsSync(`${dest}.part.json`)).toBe(true)
    const second = await download(`${server.url}/slow.bin`, dest, options)
    expect(second.fetched).toBeGreaterThan(0)
    expect(second.fetched).toBeLessThan(bytes.length)
    expect(sha256(readFileSync(dest))).toBe(sha256(bytes))
  })

  test("an object replaced between parts is downloaded again as its new version", async () => {
    await using tmp = tmpdirFor()
    const before = pseudoRandom(2 * MiB, 9)
    const after = pseudoRandom(2 * MiB, 10)
    await using server = objectServer({ "/v": before }, { slow: { chunk: 128 * 1024, delayMs: 5 } })
    const tuning = { parallelThreshold: MiB, partSize: 512 * 1024, concurrency: 1, adaptive: false }
    const pending = download(`${server.url}/v`, join(tmp.path, "v"), { env: { MLPROJECT_HOME: tmp.path }, tuning })
    setTimeout(() => server.put("/v", after), 30)
    const result = await pending
    expect(sha256(readFileSync(result.path))).toBe(sha256(after))
  })

  test("errors name the URI without credentials and say why", async () => {
    await using tmp = tmpdirFor()
    await using server = objectServer({})
    const env = { MLPROJECT_HOME: tmp.path }
    const secretUrl = `${server.url.replace("http://", "http://alice:hunter2@")}/missing.csv?X-Amz-Signature=topsecret`
    const missing = await caught(download(secretUrl, join(tmp.path, "m"), { env }))
    expect(missing.code).toBe("storage.not_found")
    expect(missing.exitCode).toBe(2)
    expect(missing.message).toContain(`${server.url}/missing.csv`)
    expect(missing.message).not.toMatch(/hunter2|topsecret|alice/)
    const refused = await caught(download("http://127.0.0.1:9/x.bin", join(tmp.path, "r"), { env }))
    expect(refused.code).toBe("storage.unreachable")
    expect(refused.exitCode).toBe(1)
    expect(refused.message).toContain("http://127.0.0.1:9")
  }, 30_000)

  test("progress events are rate-limited and end at the total", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(2 * MiB, 11)
    await using server = objectServer({ "/p": bytes }, { slow: { chunk: 32 * 1024, delayMs: 10 } })
    const events: Event[] = []
    const started = performance.now()
    await downloadUri(`${server.url}/p`, join(tmp.path, "p"), { env: { MLPROJECT_HOME: tmp.path }, emit: (e) => events.push(e) })
    const seconds = (performance.now() - started) / 1000
    const progress = events.filter((e) => e.type === "progress")
    expect(events[0]).toMatchObject({ type: "download.started", bytes: bytes.length })
    expect(events.at(-1)).toMatchObject({ type: "download.done", bytes: bytes.length, cached: false })
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(seconds * 5) + 2)
    expect(progress.at(-1)).toMatchObject({ done: bytes.length, total: bytes.length })
    expect(progress.some((e) => e.type === "progress" && e.rate !== null && e.eta_s !== null)).toBe(true)
  })
})
