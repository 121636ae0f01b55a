// The HTTP helper's limits: sane defaults, the variables that change them, and each body rule against a loopback server.
import { describe, expect, test } from "bun:test"
import { HttpTimeout, HttpTooLarge, HttpUnreachable, exchange, request } from "../../src/util/http.ts"
import { defaultLimits, formatBytes, formatSeconds, httpLimits, type HttpLimits } from "../../src/util/http-limits.ts"
import { caught, thrown } from "../lib/caught.ts"
import { endless, patientServer, stalled, trickle } from "../lib/stall.ts"

const noRetry = { retries: 0, retryStatus: () => false, backoffMs: () => 0 }
const limits = (overrides: Partial<HttpLimits>): HttpLimits => ({ ...defaultLimits, ...overrides })

describe("defaults", () => {
  test.each([
    ["connect timeout", defaultLimits.connectTimeoutMs, 5_000, 120_000],
    ["idle timeout", defaultLimits.idleTimeoutMs, 10_000, 300_000],
    ["low-speed limit (bytes/s)", defaultLimits.lowSpeedBytes, 2, 64 * 1024],
    ["low-speed window", defaultLimits.lowSpeedTimeMs, 10_000, 300_000],
    ["answer read into memory", defaultLimits.maxResponseBytes, 1024 ** 2, 512 * 1024 ** 2],
  ])("%s is sane: %d", (_, value, low, high) => {
    expect(value).toBeGreaterThanOrEqual(low)
    expect(value).toBeLessThanOrEqual(high)
  })

  test("exactly: 30 s to an answer, 60 s of silence, 1 KiB/s over 60 s, 64 MiB in memory, downloads bounded by the disk", () => {
    expect(httpLimits({})).toEqual({
      connectTimeoutMs: 30_000,
      idleTimeoutMs: 60_000,
      lowSpeedBytes: 1024,
      lowSpeedTimeMs: 60_000,
      maxResponseBytes: 64 * 1024 ** 2,
      maxDownloadBytes: null,
    })
  })
})

describe("variables", () => {
  test.each([
    [{ MLPROJECT_HTTP_CONNECT_TIMEOUT: "2.5" }, { connectTimeoutMs: 2500 }],
    [{ MLPROJECT_HTTP_IDLE_TIMEOUT: "0.2" }, { idleTimeoutMs: 200 }],
    [{ MLPROJECT_HTTP_LOW_SPEED_LIMIT: "0" }, { lowSpeedBytes: 0 }],
    [{ MLPROJECT_HTTP_LOW_SPEED_TIME: "5" }, { lowSpeedTimeMs: 5000 }],
    [{ MLPROJECT_HTTP_MAX_RESPONSE_BYTES: "1048576" }, { maxResponseBytes: 1048576 }],
    [{ MLPROJECT_HTTP_MAX_DOWNLOAD_BYTES: "1000" }, { maxDownloadBytes: 1000 }],
    [{ MLPROJECT_HTTP_IDLE_TIMEOUT: " " }, {}],
  ])("%j", (env, expected) => {
    expect(httpLimits(env)).toEqual({ ...defaultLimits, ...expected })
  })

  test.each([
    ["MLPROJECT_HTTP_CONNECT_TIMEOUT", "0"],
    ["MLPROJECT_HTTP_IDLE_TIMEOUT", "soon"],
    ["MLPROJECT_HTTP_LOW_SPEED_LIMIT", "-1"],
    ["MLPROJECT_HTTP_MAX_RESPONSE_BYTES", "1.5"],
    ["MLPROJECT_HTTP_MAX_DOWNLOAD_BYTES", "64MiB"],
  ])("%s=%s is refused, naming the variable (exit 2)", (name, value) => {
    const error = thrown(() => httpLimits({ [name]: value }))
    expect(error.code).toBe("http.config.invalid")
    expect(error.exitCode).toBe(2)
    expect(error.message).toStartWith(`${name}=${value}: expected`)
  })

  test.each([
    [1500, "1500 bytes"],
    [64 * 1024 ** 2, "64 MiB"],
    [1536, "1.5 KiB"],
    [2 * 1024 ** 3, "2 GiB"],
    [2 * 1024 ** 3 + 1, "2147483649 bytes"],
  ])("formatBytes(%d) = %s", (n, text) => expect(formatBytes(n)).toBe(text))

  test("formatBytes(n, about) rounds: free disk space", () => expect(formatBytes(84_473_290_752, true)).toBe("78.7 GiB"))

  test.each([
    [60_000, "60 s"],
    [200, "0.2 s"],
  ])("formatSeconds(%d) = %s", (ms, text) => expect(formatSeconds(ms)).toBe(text))
})

describe("body rules", () => {
  test("a body that stops after its headers ends after the idle timeout, naming the URL, the limit and its variable", async () => {
    await using server = patientServer(() => new Response(stalled("{")))
    const response = await request(`${server.url}/api`, { limits: limits({ idleTimeoutMs: 200 }), retry: noRetry })
    const started = performance.now()
    const error = await caught(response.text())
    expect(performance.now() - started).toBeLessThan(1500)
    expect(error).toBeInstanceOf(HttpTimeout)
    expect(error.code).toBe("http.timeout")
    expect(error.exitCode).toBe(1)
    expect(error.message).toBe(`GET ${server.url}/api: no data for 0.2 s while reading the answer`)
    expect(error.hint).toContain("MLPROJECT_HTTP_IDLE_TIMEOUT")
  })

  test("a trickle that keeps the idle timer alive still ends: the low-speed rule", async () => {
    await using server = patientServer(() => new Response(trickle("x".repeat(1000), 50)))
    // 20 bytes/s, never silent for the 1 s idle timeout, below 1000 bytes/s over 0.5 s.
    const rules = limits({ idleTimeoutMs: 1000, lowSpeedBytes: 1000, lowSpeedTimeMs: 500 })
    const response = await request(`${server.url}/slow?token=s3cr3t`, { limits: rules, retry: noRetry })
    const error = await caught(response.text())
    expect(error.code).toBe("http.timeout")
    expect(error.message).toMatch(new RegExp(`^GET ${server.url}/slow\\?token=\\*\\*\\*: the answer arrives at [0-9.]+ bytes/s, less than 1000 bytes/s for 0.5 s$`))
    expect(error.hint).toContain("MLPROJECT_HTTP_LOW_SPEED_LIMIT")
  })

  test("an endless answer with no length stops at the limit for answers read into memory, and no further is read", async () => {
    const counter = { sent: 0 }
    await using server = patientServer(() => new Response(endless(64 * 1024, counter)))
    const response = await request(`${server.url}/huge`, { limits: limits({ maxResponseBytes: 1024 ** 2 }), retry: noRetry })
    const error = await caught(response.text())
    expect(error).toBeInstanceOf(HttpTooLarge)
    expect(error.message).toBe(`GET ${server.url}/huge: the answer is more than 1 MiB`)
    expect(error.hint).toContain("MLPROJECT_HTTP_MAX_RESPONSE_BYTES")
    await Bun.sleep(200)
    // What sits in socket buffers at most: the reading stopped, the server is no longer drained.
    expect(counter.sent).toBeLessThan(16 * 1024 ** 2)
  })

  test("a declared length over the limit fails before the body is read: the request itself rejects", async () => {
    await using server = patientServer(() => new Response(new Uint8Array(3 * 1024 ** 2)))
    const error = await caught(request(`${server.url}/big`, { limits: limits({ maxResponseBytes: 1024 }), retry: noRetry }))
    expect(error.code).toBe("http.too_large")
    expect(error.message).toBe(`GET ${server.url}/big: the answer is 3 MiB, more than the 1 KiB allowed`)
  })

  test("maxBytes: null (a download the caller bounds) lets a large body through", async () => {
    await using server = patientServer(() => new Response(new Uint8Array(3 * 1024 ** 2)))
    const response = await request(server.url, { limits: limits({ maxResponseBytes: 1024 }), maxBytes: null, retry: noRetry })
    expect((await response.arrayBuffer()).byteLength).toBe(3 * 1024 ** 2)
  })

  test("a slow reader is not taken for a slow server: only time spent waiting for the network counts", async () => {
    await using server = patientServer(() => new Response(new Uint8Array(8 * 64 * 1024)))
    const rules = limits({ idleTimeoutMs: 150, lowSpeedBytes: 10 * 1024 ** 2, lowSpeedTimeMs: 100 })
    const response = await request(server.url, { limits: rules, retry: noRetry })
    let bytes = 0
    for await (const chunk of response.body ?? []) {
      bytes += chunk.length
      await Bun.sleep(60)
    }
    expect(bytes).toBe(8 * 64 * 1024)
  })

  test("inside exchange a stalled body is a lost attempt: retried, then http.timeout", async () => {
    await using server = patientServer(() => new Response(stalled("{")))
    const error = await caught(
      exchange(server.url, { limits: limits({ idleTimeoutMs: 100 }), retry: { ...noRetry, retries: 2 }, read: (response) => response.text() }),
    )
    expect(error).toBeInstanceOf(HttpUnreachable)
    expect(error.code).toBe("http.timeout")
    expect((error as HttpUnreachable).attempts).toBe(3)
    expect(error.message).toBe(`GET ${server.url}: no data for 0.1 s while reading the answer`)
    expect(server.requests.length).toBe(3)
  })

  test("an abort ends a body read at once with the signal's reason", async () => {
    await using server = patientServer(() => new Response(stalled("{")))
    const abort = new AbortController()
    const response = await request(server.url, { signal: abort.signal, retry: noRetry })
    setTimeout(() => abort.abort("SIGINT"), 50)
    const started = performance.now()
    expect(await response.text().catch((reason) => reason)).toBeDefined()
    expect(performance.now() - started).toBeLessThan(1000)
  })
})
