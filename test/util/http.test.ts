// The one HTTP helper against loopback servers: retries and Retry-After, POSTs, timeouts, redirects, redaction, TLS.
import { describe, expect, test } from "bun:test"
import { HttpUnreachable, errorText, exchange, request, type ExchangeOptions } from "../../src/util/http.ts"
import { transientStatus, type RetryPolicy } from "../../src/util/http-retry.ts"
import { caught } from "../lib/caught.ts"
import { loopback } from "../lib/loopback.ts"
import { tlsCerts } from "../lib/tls-certs.ts"

const fast: RetryPolicy = { retries: 2, retryStatus: transientStatus, backoffMs: () => 0 }

/** A server that gives the scripted answers in turn, then 200 "ok". */
const scripted = (...answers: Array<() => Response>) => {
  let next = 0
  return loopback(() => (answers[next++] ?? (() => new Response("ok")))())
}

const unavailable = (headers: Record<string, string> = {}) => () => new Response("busy", { status: 503, headers })

/** A port nothing listens on: a server's, after it stopped. */
const closedPort = async (): Promise<number> => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() })
  const port = server.port as number
  await server.stop(true)
  return port
}

const rejection = async (promise: Promise<unknown>): Promise<HttpUnreachable> => {
  const error = await caught(promise)
  expect(error).toBeInstanceOf(HttpUnreachable)
  return error as HttpUnreachable
}

describe("retries", () => {
  test.each([
    ["Retry-After obeyed", { ...fast, retryAfter: { statuses: () => true, maxMs: 30_000 } }, "1", 900, 5_000],
    ["Retry-After capped by the policy", { ...fast, retryAfter: { statuses: () => true, maxMs: 50 } }, "30", 0, 900],
    ["Retry-After ignored without retryAfter", fast, "30", 0, 900],
    ["Retry-After only for the policy's statuses", { ...fast, retryAfter: { statuses: (s: number) => s === 429, maxMs: 30_000 } }, "30", 0, 900],
  ] as const)("a 503 is retried: %s", async (_, policy, retryAfter, minMs, maxMs) => {
    await using server = scripted(unavailable({ "retry-after": retryAfter }))
    const started = performance.now()
    const response = await request(`${server.url}/x`, { retry: policy })
    const elapsed = performance.now() - started
    expect(response.status).toBe(200)
    expect(server.requests.length).toBe(2)
    expect(elapsed).toBeGreaterThanOrEqual(minMs)
    expect(elapsed).toBeLessThan(maxMs)
  })

  test("the last answer of a retried status is returned, not thrown, once the retries are spent", async () => {
    await using server = scripted(unavailable(), unavailable(), unavailable(), unavailable())
    const retries: number[] = []
    const response = await request(server.url, { retry: fast, onRetry: (retry) => retries.push(retry) })
    expect(response.status).toBe(503)
    expect(await response.text()).toBe("busy")
    expect(retries).toEqual([1, 2])
    expect(server.requests.length).toBe(3)
  })
})

describe("a POST is not sent again blindly", () => {
  type Case = [string, Array<() => Response>, Partial<ExchangeOptions<string>>, { requests: number; result: string; recovers: number }]
  const read = async (response: Response) => `${response.status} ${await response.text()}`
  test.each<Case>([
    ["no hook: the 503 is the answer", [unavailable()], {}, { requests: 1, result: "503 busy", recovers: 0 }],
    ["idempotent: true resends", [unavailable()], { idempotent: true }, { requests: 2, result: "200 ok", recovers: 0 }],
    ["a hook that finds nothing allows the resend", [unavailable()], { recover: async () => null }, { requests: 2, result: "200 ok", recovers: 1 }],
    ["a hook that finds the effect ends the call", [unavailable()], { recover: async () => "found" }, { requests: 1, result: "found", recovers: 1 }],
    ["a 429 was never processed: resent without asking", [() => new Response("slow down", { status: 429 })], { recover: async () => "found" }, { requests: 2, result: "200 ok", recovers: 0 }],
  ])("%s", async (_, answers, options, expected) => {
    await using server = scripted(...answers)
    let recovers = 0
    const recover = options.recover
    const result = await exchange(server.url, {
      method: "POST",
      body: "{}",
      retry: fast,
      read,
      ...options,
      ...(recover
        ? {
            recover: async () => {
              recovers++
              return recover()
            },
          }
        : {}),
    })
    expect(result).toBe(expected.result)
    expect(server.requests.length).toBe(expected.requests)
    expect(recovers).toBe(expected.recovers)
  })

  test("a lost connection is reported after one attempt, with no hook to say a resend is safe", async () => {
    const error = await rejection(request(`http://127.0.0.1:${await closedPort()}/x`, { method: "POST", body: "{}", retry: fast }))
    expect(error.attempts).toBe(1)
    expect(error.code).toBe("http.unreachable")
  })
})

describe("timeouts", () => {
  /** Five bytes, one every `pauseMs`. */
  const slowBody = (pauseMs: number) => () => {
    let sent = 0
    return new Response(
      new ReadableStream({
        async pull(controller) {
          await Bun.sleep(pauseMs)
          controller.enqueue(new TextEncoder().encode("x"))
          if (++sent === 5) controller.close()
        },
      }),
    )
  }

  test("no headers within timeoutMs: every attempt times out, and the error says so", async () => {
    await using server = loopback(async () => (await Bun.sleep(1_000), new Response("late")))
    const error = await rejection(request(`${server.url}/slow`, { timeoutMs: 100, retry: { ...fast, retries: 1 } }))
    expect(error.timedOut).toBe(true)
    expect(error.code).toBe("http.timeout")
    expect(error.attempts).toBe(2)
    expect(error.message).toBe(`GET ${server.url}/slow: no response within 0.1 s`)
    expect(error.hint).toContain("MLPROJECT_HTTP_CONNECT_TIMEOUT")
    expect(server.requests.length).toBe(2)
  })

  test.each([
    ["timeoutMs ends at the headers: a body that keeps arriving is read in full", {}, true],
    ["deadlineMs counts the body too", { deadlineMs: 150 }, false],
  ])("%s", async (_, options, succeeds) => {
    await using server = scripted(slowBody(60), slowBody(60), slowBody(60))
    const result = exchange(server.url, { timeoutMs: 150, retry: fast, read: (response) => response.text(), ...options })
    if (succeeds) expect(await result).toBe("xxxxx")
    else expect((await rejection(result)).message).toContain("no complete answer within 0.15 s")
  })
})

describe("redirects, followed hop by hop", () => {
  const redirectTo = (location: string, status = 302) => new Response(null, { status, headers: { location } })

  test.each([
    ["to the same origin keeps Authorization", true, "Bearer t0ken"],
    ["to another origin drops Authorization", false, null],
  ])("%s", async (_, sameOrigin, expected) => {
    await using target = loopback(() => new Response("there"))
    await using origin = loopback((_, url) => (url.pathname === "/start" ? redirectTo(sameOrigin ? "/end" : `${target.url}/end`) : new Response("here")))
    const response = await request(`${origin.url}/start`, { headers: { Authorization: "Bearer t0ken", "x-kept": "1" } })
    const landed = (sameOrigin ? origin : target).requests.at(-1)
    expect(response.status).toBe(200)
    expect(landed?.path).toBe("/end")
    expect(landed?.headers.get("authorization")).toBe(expected)
    expect(landed?.headers.get("x-kept")).toBe("1")
  })

  test("a 303 after a POST continues as a GET without the body", async () => {
    await using server = loopback((_, url) => (url.pathname === "/form" ? redirectTo("/done", 303) : new Response("done")))
    await request(`${server.url}/form`, { method: "POST", body: "a=1" })
    expect(server.requests.map((r) => `${r.method} ${r.path} ${r.text}`)).toEqual(["POST /form a=1", "GET /done "])
  })

  test.each([
    ["file:", "file:///etc/hostname"],
    ["data:", "data:text/plain,local"],
    ["ftp:", "ftp://127.0.0.1/x"],
  ])("to %s: refused at once (fetch would read a local file or inline data as the answer)", async (scheme, location) => {
    await using server = loopback(() => redirectTo(location))
    const error = await caught(request(server.url, { retry: fast }))
    expect(error).toMatchObject({ code: "http.redirect" })
    expect((error as Error).message).toContain(scheme)
    expect(server.requests.length).toBe(1)
  })

  test("credentials in the URL travel as a header: kept on the origin, dropped at another", async () => {
    await using target = loopback(() => new Response("there"))
    await using origin = loopback((_, url) => (url.pathname === "/a" ? redirectTo("/b") : redirectTo(`${target.url}/c`)))
    await request(`${origin.url.replace("http://", "http://u:p%40ss@")}/a`)
    expect(origin.requests.map((r) => r.headers.get("authorization"))).toEqual([`Basic ${btoa("u:p@ss")}`, `Basic ${btoa("u:p@ss")}`])
    expect(target.requests.map((r) => r.headers.get("authorization"))).toEqual([null])
  })

  test("a redirect loop fails like a lost connection, after the policy's retries", async () => {
    await using server = loopback(() => redirectTo("/again"))
    const error = await rejection(request(server.url, { retry: { ...fast, retries: 1 } }))
    expect(error.reason).toBe("too many redirects")
    expect(server.requests.length).toBe(20)
  })
})

describe("credentials never reach an error message", () => {
  const secrets = ["pa55word", "t0ken-in-header", "sig-value", "extra-secret"]
  test.each([
    ["a refused connection", false],
    ["a timeout", true],
  ])("%s", async (_, timesOut) => {
    await using slow = loopback(async () => (await Bun.sleep(1_000), new Response()))
    const port = timesOut ? slow.server.port : await closedPort()
    const reasons: string[] = []
    const error = await rejection(
      request(`http://user:pa55word@127.0.0.1:${port}/x?X-Amz-Signature=sig-value`, {
        headers: { authorization: "Bearer t0ken-in-header" },
        secrets: ["extra-secret"],
        timeoutMs: 100,
        retry: { ...fast, retries: 1 },
        onRetry: (_, __, reason) => reasons.push(reason),
      }),
    )
    expect(error.timedOut).toBe(timesOut)
    for (const text of [error.message, error.reason, error.hint ?? "", ...reasons]) {
      for (const secret of secrets) expect(text).not.toContain(secret)
    }
    expect(error.message).toContain("X-Amz-Signature=***")
  })
})

describe("an error body that echoes the request", () => {
  test("errorText hides the request's credentials, also one that straddles the length limit", async () => {
    await using server = loopback((request) => new Response(`${"x".repeat(292)} ${request.headers.get("authorization")} ${request.headers.get("x-key")}`, { status: 400 }))
    const get = () => request(`${server.url.replace("http://", "http://u:Str4ddl3-pw@")}/`, { headers: { "x-key": "extra-s3cret" }, secrets: ["extra-s3cret"] })
    // Cut at 300 characters, the base64 credential's first character the last of them: redacted before the cut, none of it shows.
    expect(await errorText(await get(), 300)).toBe(`${"x".repeat(292)} Basic *`)
    expect(await errorText(await get(), 4096)).toBe(`${"x".repeat(292)} Basic *** ***`)
  })
})

describe("TLS", () => {
  test.each([
    ["our CA trusted through tls.ca", (ca: string) => ({ ca }), true],
    ["verification off through tls.rejectUnauthorized", () => ({ rejectUnauthorized: false }), true],
    ["an unknown CA is refused", () => undefined, false],
  ])("%s", async (_, tls, succeeds) => {
    await using certs = tlsCerts()
    await using server = loopback(() => new Response("secure"), { tls: certs.server })
    const options = tls(certs.ca)
    const result = request(server.url, { retry: { ...fast, retries: 0 }, ...(options ? { tls: options } : {}) })
    if (succeeds) expect(await (await result).text()).toBe("secure")
    else expect((await rejection(result)).code).toBe("http.unreachable")
  })
})
