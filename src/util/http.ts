// The one HTTP helper: timeouts, body limits, retries with backoff honouring Retry-After, checked redirects, TLS, errors that name no secret.
import { ToolError } from "../errors.ts"
import { guardResponse, HttpTimeout, type BodyRules } from "./http-body.ts"
import { formatSeconds, httpLimits, limitVariables, type HttpLimits } from "./http-limits.ts"
import { followRedirects } from "./http-redirect.ts"
import { defaultRetry, retryDelayMs, sleep, type RetryPolicy } from "./http-retry.ts"
import { headerSecrets, redactText, secretsOf, splitCredentials } from "./redact.ts"

export { HttpTimeout, HttpTooLarge } from "./http-body.ts"

/**
 * Bun's fetch `tls`: a CA bundle to trust, a client certificate and key (PEM text), or no verification at all;
 * `serverName` verifies the certificate against another name than the URL's host (kubeconfig's tls-server-name).
 */
export type TlsOptions = { rejectUnauthorized?: boolean; ca?: string; cert?: string; key?: string; serverName?: string }

export type HttpOptions = {
  method?: string
  headers?: Record<string, string>
  /** Only bodies that can be sent twice (string, bytes, Blob/Bun.file) are retried; a stream is sent once. */
  body?: string | Uint8Array | Blob | ReadableStream<Uint8Array> | null
  signal?: AbortSignal
  /** The limits of this call; by default read from the process environment (MLPROJECT_HTTP_*). */
  limits?: HttpLimits
  /** Time one attempt may take until the response headers arrive (default: the connect timeout); null: no limit. */
  timeoutMs?: number | null
  /** The variable that sets `timeoutMs`, for the hint of a timeout (default MLPROJECT_HTTP_CONNECT_TIMEOUT). */
  timeoutVariable?: string
  /** Time one attempt may take in all, its body read by `read` included (a small API answer); none by default. */
  deadlineMs?: number
  /** Silence allowed while the body is read (default: the idle timeout); null: none, for streams that may rest (logs). */
  idleMs?: number | null
  /** Apply the low-speed rule to the body (default true). */
  lowSpeed?: boolean
  /**
   * Most bytes the body may have. Default: the limit for answers read into memory (MLPROJECT_HTTP_MAX_RESPONSE_BYTES).
   * A caller that streams to disk gives its own limit, or null when it bounds the size itself.
   */
  maxBytes?: { bytes: number; variable: string } | null
  /** Defaults to `defaultRetry`: four retries of 408/429/5xx and of lost connections. */
  retry?: RetryPolicy
  /** Resend a non-idempotent method (POST) too; only when the caller knows a repeat is harmless. */
  idempotent?: boolean
  /** Bun's fetch decompresses by default; byte-exact downloads need the raw bytes. */
  decompress?: boolean
  tls?: TlsOptions
  /** A unix socket to send the request through (the Docker daemon's). */
  unix?: string
  /**
   * "follow" (the default) follows redirects here, hop by hop: only to http(s), never with Authorization to another
   * origin; "manual" returns a 3xx as it is.
   */
  redirect?: "follow" | "manual"
  /** Strings no error may show, besides the URL's userinfo and the Authorization header, which are always hidden. */
  secrets?: string[]
  /** Called before each retry with the retry number (1-based), the delay and the reason. */
  onRetry?: (retry: number, delayMs: number, reason: string) => void
}

export type ExchangeOptions<T> = HttpOptions & {
  /** Consumes the final answer inside its attempt; a ToolError it throws is the verdict, any other error a failed attempt. */
  read: (response: Response) => Promise<T>
  /**
   * For a request that must not take effect twice: after an attempt whose effect is unknown (a timeout, a dropped
   * connection, a 5xx), even the last, look for that effect; a non-null result ends the call, null allows a resend.
   * With it a non-idempotent request is retried; without it, never.
   */
  recover?: () => Promise<T | null>
}

/**
 * Every attempt failed without an answer, or its body stopped or crawled (`http.timeout` then, else
 * `http.unreachable`); `reason` is already free of secrets.
 */
export class HttpUnreachable extends ToolError {
  readonly reason: string
  readonly timedOut: boolean
  readonly attempts: number
  constructor(message: string, details: { reason: string; timedOut: boolean; attempts: number; cause: unknown; hint?: string }) {
    super(details.timedOut ? "http.timeout" : "http.unreachable", message, {
      exitCode: 1,
      hint: details.hint ?? "check the address and your network connection, then try again",
      cause: details.cause,
    })
    this.reason = details.reason
    this.timedOut = details.timedOut
    this.attempts = details.attempts
  }
}

export const isAbort = (error: unknown): boolean => (error as Error)?.name === "AbortError"

const idempotentMethods = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])

const resendable = (body: HttpOptions["body"]): boolean => !(body instanceof ReadableStream)

/** "ConnectionRefused: Unable to connect…" (a code said once), and whether the request surely never reached the server. */
const failureOf = (error: unknown): { reason: string; unsent: boolean } => {
  const e = error as { code?: string; message?: string; name?: string }
  if (e?.name === "TimeoutError") return { reason: "timed out", unsent: false }
  const code = e?.code ?? ""
  const message = e?.message?.startsWith(code) ? e.message.slice(code.length).replace(/^:\s*/, "") : e?.message
  return { reason: [code, message].filter(Boolean).join(": ") || String(error), unsent: code === "ConnectionRefused" || code === "ECONNREFUSED" }
}

/** The secrets an error could echo: the caller's, and the credential in an Authorization header. */
const secretsIn = (options: HttpOptions): string[] => [...secretsOf(...(options.secrets ?? [])), ...headerSecrets(options.headers)]

// The secrets of the request an answer came from, so that `errorText` hides them whoever reads the body.
const answerSecrets = new WeakMap<Response, string[]>()

/**
 * Credentials in the URL travel as a Basic header (unless the caller gave one): fetch would send them anyway, and
 * as a header they are hidden in errors and dropped at a redirect to another origin like any other.
 */
const withoutUserinfo = (url: string, headers: Record<string, string> | undefined): { url: string; headers: Record<string, string> } => {
  const { url: bare, credentials } = splitCredentials(url)
  const given = { ...headers }
  if (!credentials) return { url, headers: given }
  const hasAuth = Object.keys(given).some((name) => name.toLowerCase() === "authorization")
  if (!hasAuth) given.authorization = `Basic ${Buffer.from(`${credentials.user}:${credentials.password ?? ""}`).toString("base64")}`
  return { url: bare, headers: given }
}

/** Why an attempt was lost, and which variable would change that, for the message and its hint. */
type Lost = { error: unknown; timedOut: boolean; reason: string; hint?: string }

/**
 * How one attempt ended. `uncertain`: the server may have acted on it (anything but a 429 or a refused connection).
 * `retry`: a retryable status with retries left, its body already discarded. `read`: the answer as `read` returned
 * it (`failed` when its status was retryable but no retry was left). `lost`: no answer, or its body broke.
 */
type Outcome<T> =
  | { kind: "retry"; answer: Response; uncertain: boolean }
  | { kind: "read"; value: T; failed: boolean; uncertain: boolean }
  | ({ kind: "lost"; uncertain: boolean } & Lost)

type Plan = { method: string; policy: RetryPolicy; last: boolean; what: string; secrets: string[]; limits: HttpLimits }

const bodyRules = (options: HttpOptions, limits: HttpLimits): BodyRules => ({
  idleMs: options.idleMs === undefined ? limits.idleTimeoutMs : options.idleMs,
  lowSpeed: options.lowSpeed === false || limits.lowSpeedBytes === 0 ? null : { bytes: limits.lowSpeedBytes, windowMs: limits.lowSpeedTimeMs },
  maxBytes: options.maxBytes === undefined ? { bytes: limits.maxResponseBytes, variable: limitVariables.maxResponseBytes } : options.maxBytes,
})

const attempt = async <T>(url: string, options: ExchangeOptions<T>, plan: Plan): Promise<Outcome<T>> => {
  const { method, policy, last, what, limits } = plan
  const timeoutMs = options.timeoutMs === undefined ? limits.connectTimeoutMs : options.timeoutMs
  const timeout = new AbortController()
  let expired: Lost | null = null
  const variable = options.timeoutVariable ?? limitVariables.connectTimeoutMs
  let answered = false
  const expire = (ms: number) => () => {
    const reason = answered ? `no complete answer within ${formatSeconds(ms)}` : `no response within ${formatSeconds(ms)}`
    expired = { reason, hint: `the server is slow or stuck; raise ${variable} (seconds) to wait longer`, error: new DOMException(reason, "TimeoutError"), timedOut: true }
    timeout.abort(expired.error)
  }
  const headersTimer = timeoutMs === null ? undefined : setTimeout(expire(timeoutMs), timeoutMs)
  const deadlineTimer = options.deadlineMs === undefined ? undefined : setTimeout(expire(options.deadlineMs), options.deadlineMs)
  const init = {
    method,
    headers: options.headers ?? {},
    body: options.body ?? undefined,
    signal: options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal,
    decompress: options.decompress ?? true,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.unix ? { unix: options.unix, proxy: false } : {}),
    ...(options.redirect === "manual" ? { redirect: "manual" as const } : {}),
  }
  try {
    const raw = options.redirect === "manual" ? await fetch(url, init) : await followRedirects(url, init, what)
    answered = true
    clearTimeout(headersTimer)
    const failed = policy.retryStatus(raw.status)
    const uncertain = raw.status !== 429
    if (failed && !last) {
      await raw.body?.cancel().catch(() => {})
      return { kind: "retry", answer: raw, uncertain }
    }
    const response = guardResponse(raw, bodyRules(options, limits), what)
    answerSecrets.set(response, plan.secrets)
    return { kind: "read", value: await options.read(response), failed, uncertain }
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    const lost: Lost | null = expired ?? (error instanceof HttpTimeout ? { error, timedOut: true, reason: error.reason, hint: error.hint } : null)
    if (lost) return { kind: "lost", uncertain: true, ...lost }
    if (error instanceof ToolError) throw error
    const failure = failureOf(error)
    return { kind: "lost", error, timedOut: false, reason: redactText(failure.reason, plan.secrets), uncertain: !failure.unsent }
  } finally {
    clearTimeout(headersTimer)
    clearTimeout(deadlineTimer)
  }
}

/**
 * Sends a request and returns what `read` made of the final answer, retrying transient failures as the policy says.
 * An answer of any status reaches `read` (after retries for the policy's statuses) with its body watched by the
 * idle, low-speed and size rules; when no answer arrives, or its body stalls on every attempt, it throws
 * `HttpUnreachable`. An abort through `signal` rethrows the signal's reason untouched.
 */
export const exchange = async <T>(given: string, call: ExchangeOptions<T>): Promise<T> => {
  const { url, headers } = withoutUserinfo(given, call.headers)
  const options = { ...call, headers, secrets: [...(call.secrets ?? []), ...secretsOf(splitCredentials(given).credentials)] }
  const method = (options.method ?? "GET").toUpperCase()
  const policy = options.retry ?? defaultRetry
  const repeatable = (options.idempotent ?? idempotentMethods.has(method)) || options.recover !== undefined
  const retries = repeatable && resendable(options.body) ? policy.retries : 0
  const secrets = secretsIn(options)
  const limits = options.limits ?? httpLimits(process.env)
  const what = `${method} ${redactText(url, secrets)}`
  for (let retry = 0; ; retry++) {
    if (options.signal?.aborted) throw options.signal.reason
    const outcome = await attempt(url, options, { method, policy, last: retry >= retries, what, secrets, limits })
    if (outcome.kind === "read" && !outcome.failed) return outcome.value
    if (outcome.uncertain && options.recover) {
      const found = await options.recover()
      if (found !== null) return found
    }
    if (outcome.kind === "read") return outcome.value
    const reason = outcome.kind === "retry" ? `HTTP ${outcome.answer.status}` : outcome.reason
    if (outcome.kind === "lost" && retry >= retries) {
      throw new HttpUnreachable(`${what}: ${reason}`, {
        reason,
        timedOut: outcome.timedOut,
        attempts: retry + 1,
        cause: outcome.error,
        hint: outcome.hint,
      })
    }
    const delayMs = retryDelayMs(policy, retry + 1, outcome.kind === "retry" ? outcome.answer : undefined)
    options.onRetry?.(retry + 1, delayMs, reason)
    await sleep(delayMs, options.signal)
  }
}

/** Sends a request and returns the response with its body unread; the body is still watched while the caller reads it. */
export const request = (url: string, options: Omit<ExchangeOptions<Response>, "read"> = {}): Promise<Response> =>
  exchange(url, { ...options, read: async (response) => response })

/**
 * The first `limit` bytes of an error body (S3 XML, JSON), for a message; the rest is never read. A server that
 * echoes the request (its headers, its URL) shows no credential of it: those of the request are hidden.
 */
export const errorText = async (response: Response, limit = 4096): Promise<string> => {
  const reader = response.body?.getReader()
  if (!reader) return ""
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    // Read past the limit: a secret that straddles it must be whole to be found and hidden.
    while (size < limit + 4096) {
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
  const text = redactText(new TextDecoder().decode(Buffer.concat(chunks).subarray(0, limit + 4096)), answerSecrets.get(response))
  return text.slice(0, limit)
}
