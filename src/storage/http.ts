// The one HTTP helper (to move to src/util/http.ts): timeouts, retries with backoff honouring Retry-After, redaction, ranges.
import { ToolError } from "../errors.ts"

export type HttpOptions = {
  method?: string
  headers?: Record<string, string>
  /** Only bodies that can be sent twice (string, bytes, Blob/Bun.file) are retried; a stream is sent once. */
  body?: string | Uint8Array | Blob | ReadableStream<Uint8Array> | null
  /** Time allowed per attempt until the response headers arrive; the body is the caller's to time. */
  timeoutMs?: number
  /** How many times a transient failure (connection error, timeout, 408/429/5xx) is retried. */
  retries?: number
  signal?: AbortSignal
  /** Retry non-idempotent methods (POST) too; only when the caller knows a repeat is harmless. */
  idempotent?: boolean
  /** Bun's fetch decompresses by default; byte-exact downloads need the raw bytes. */
  decompress?: boolean
  tls?: { rejectUnauthorized?: boolean }
  /** Called before each retry with the attempt number (1-based), the delay and the reason. */
  onRetry?: (attempt: number, delayMs: number, reason: string) => void
}

const retryableStatus = new Set([408, 429, 500, 502, 503, 504])
const idempotentMethods = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
const sensitiveParam = /sig|signature|token|key|secret|password|credential|auth|session/i
const maxDelayMs = 30_000

/** A URL safe to print: no userinfo, and the values of signature/token-like query parameters replaced. */
export const safeUrl = (url: string): string => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@\s]*@/, "$1")
  }
  parsed.username = ""
  parsed.password = ""
  for (const name of [...parsed.searchParams.keys()]) {
    if (sensitiveParam.test(name)) parsed.searchParams.set(name, "REDACTED")
  }
  return parsed.toString()
}

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or null. */
export const retryAfterMs = (header: string | null, now = Date.now()): number | null => {
  if (!header) return null
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}

/** Exponential backoff with jitter (250 ms, 500 ms, 1 s … capped), or what the server asked for. */
export const backoffMs = (attempt: number, retryAfter: number | null = null): number => {
  if (retryAfter !== null) return Math.min(retryAfter, maxDelayMs)
  const ceiling = Math.min(maxDelayMs, 250 * 2 ** attempt)
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort)
      resolve()
    }, ms)
    signal?.addEventListener("abort", onAbort, { once: true })
  })

/** `Range` header value for the bytes [start, end) (end exclusive, as everywhere in our code). */
export const byteRange = (start: number, end?: number | null): string =>
  end === undefined || end === null ? `bytes=${start}-` : `bytes=${start}-${end - 1}`

/** `Content-Range: bytes 0-9/100` → { start: 0, end: 10, total: 100 } (end exclusive; total null for `*`). */
export const parseContentRange = (header: string | null): { start: number; end: number; total: number | null } | null => {
  const match = header?.match(/^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i)
  if (!match) return null
  return { start: Number(match[1]), end: Number(match[2]) + 1, total: match[3] === "*" ? null : Number(match[3]) }
}

export const isAbort = (error: unknown): boolean => (error as Error)?.name === "AbortError"

const reasonOf = (error: unknown): string => {
  const e = error as { code?: string; message?: string; name?: string }
  if (e?.name === "TimeoutError") return "timed out"
  return [e?.code, e?.message].filter(Boolean).join(": ") || String(error)
}

const resendable = (body: HttpOptions["body"]): boolean => !(body instanceof ReadableStream)

/**
 * Sends a request and returns the response, retrying transient failures. A response with any status is
 * returned (after retries for 408/429/5xx); only when no response arrives does it throw `http.unreachable`.
 * An abort through `signal` rethrows the signal's reason untouched.
 */
export const request = async (url: string, options: HttpOptions = {}): Promise<Response> => {
  const method = (options.method ?? "GET").toUpperCase()
  const canRetry = (idempotentMethods.has(method) || options.idempotent === true) && resendable(options.body)
  const retries = canRetry ? (options.retries ?? 4) : 0
  const timeoutMs = options.timeoutMs ?? 30_000
  for (let attempt = 0; ; attempt++) {
    if (options.signal?.aborted) throw options.signal.reason
    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(new DOMException("timed out", "TimeoutError")), timeoutMs)
    const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal
    let failure: string
    let waitMs: number
    try {
      const response = await fetch(url, {
        method,
        headers: options.headers,
        body: options.body ?? undefined,
        signal,
        decompress: options.decompress ?? true,
        ...(options.tls ? { tls: options.tls } : {}),
      })
      clearTimeout(timer)
      if (!retryableStatus.has(response.status) || attempt >= retries) return response
      failure = `HTTP ${response.status}`
      waitMs = backoffMs(attempt, retryAfterMs(response.headers.get("retry-after")))
      await response.body?.cancel().catch(() => {})
    } catch (error) {
      clearTimeout(timer)
      if (options.signal?.aborted) throw options.signal.reason
      failure = timeout.signal.aborted ? `no response within ${timeoutMs} ms` : reasonOf(error)
      if (attempt >= retries) {
        throw new ToolError("http.unreachable", `${method} ${safeUrl(url)}: ${failure}`, {
          exitCode: 1,
          hint: "check the address and your network connection, then try again",
          cause: timeout.signal.aborted ? new DOMException(failure, "TimeoutError") : error,
        })
      }
      waitMs = backoffMs(attempt)
    }
    options.onRetry?.(attempt + 1, waitMs, failure)
    await sleep(waitMs, options.signal)
  }
}

/** The first `limit` bytes of an error body (S3 XML, JSON), for a message; the rest is never read. */
export const errorText = async (response: Response, limit = 4096): Promise<string> => {
  const reader = response.body?.getReader()
  if (!reader) return ""
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < limit) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.length
    }
  } catch {
    // A broken error body still leaves the status to report.
  } finally {
    await reader.cancel().catch(() => {})
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, limit))
}
