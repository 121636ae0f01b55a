// Calls to an MLflow REST API: MLflow's retry policy (urllib3 backoff, Retry-After), timeouts, and errors that name no secret.
//
// This sits on `fetch` rather than src/storage/http.ts because a tracking server needs what that helper
// does not offer: a CA bundle and a client certificate, MLflow's backoff formula and variables, and a
// way to check whether an unanswered POST took effect before sending it again (see `recover`).
import { ToolError } from "../errors.ts"
import { retryAfterMs } from "../storage/http.ts"
import type { RestConfig } from "./rest-config.ts"

export type Payload = Record<string, unknown>

/** A failure the server reported; `errorCode` is MLflow's (RESOURCE_DOES_NOT_EXIST, …) when the body had one. */
export class RestError extends ToolError {
  readonly errorCode: string | null
  readonly status: number
  constructor(code: string, message: string, errorCode: string | null, status: number, options: { hint?: string; exitCode: number }) {
    super(code, message, options)
    this.errorCode = errorCode
    this.status = status
  }
}

export const isRestError = (error: unknown, errorCode?: string): error is RestError =>
  error instanceof RestError && (errorCode === undefined || error.errorCode === errorCode)

// urllib3's Retry as MLflow configures it: these statuses are retried, these honour Retry-After.
const retryStatus = new Set([408, 429, 500, 502, 503, 504])
const retryAfterStatus = new Set([413, 429, 503])
// urllib3's DEFAULT_BACKOFF_MAX.
const maxBackoffMs = 120_000

/** urllib3's get_backoff_time: none before the first retry, then factor·2^(n-1) plus jitter, capped. */
export const backoffDelayMs = (config: Pick<RestConfig, "backoffFactorMs" | "jitterMs">, failures: number): number => {
  if (failures <= 1) return 0
  return Math.min(maxBackoffMs, config.backoffFactorMs * 2 ** (failures - 1) + Math.random() * config.jitterMs)
}

type Answer = { status: number; headers: Headers; text: string }
/** `unsent`: the request never reached the server (connection refused), so sending again is always safe. */
type Outcome = { answer: Answer } | { failure: string; unsent: boolean }

const reasonOf = (error: unknown): { reason: string; unsent: boolean } => {
  const e = error as { code?: string; message?: string }
  const code = e?.code ?? ""
  const message = e?.message?.startsWith(code) ? e.message.slice(code.length).replace(/^:\s*/, "") : e?.message
  return { reason: [code, message].filter(Boolean).join(": ") || String(error), unsent: code === "ConnectionRefused" || code === "ECONNREFUSED" }
}

/** One attempt; the timeout covers the whole exchange, body included, like requests' read timeout in practice. */
const attempt = async (config: RestConfig, request: RequestShape): Promise<Outcome> => {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), config.timeoutMs)
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: { ...config.headers, ...request.headers },
      body: request.body,
      signal: controller.signal,
      ...(config.tls ? { tls: config.tls } : {}),
    })
    return { answer: { status: response.status, headers: response.headers, text: await response.text() } }
  } catch (error) {
    if (controller.signal.aborted) return { failure: `no response within ${config.timeoutMs / 1000} s`, unsent: false }
    const { reason, unsent } = reasonOf(error)
    return { failure: reason, unsent }
  } finally {
    clearTimeout(timer)
  }
}

export type RequestShape = { method: string; url: string; headers?: Record<string, string>; body?: string | Blob }

export type SendOptions<T> = {
  /**
   * For calls that must not happen twice (runs/create): after an attempt whose effect is unknown (a timeout,
   * a dropped connection, a 5xx), look for that effect before sending again; a non-null result ends the call.
   */
  recover?: () => Promise<T | null>
}

const describe = (request: RequestShape, config: RestConfig): string => `${request.method} ${request.url.slice(config.baseUrl.length) || "/"}`

/** Sends with MLflow's retries; returns the final answer of any status, or a recovered result. */
export const send = async <T>(config: RestConfig, request: RequestShape, options: SendOptions<T> = {}): Promise<{ answer: Answer } | { recovered: T }> => {
  for (let failures = 1; ; failures++) {
    const outcome = await attempt(config, request)
    const retriable = "answer" in outcome ? retryStatus.has(outcome.answer.status) : true
    if ("answer" in outcome && !retriable) return outcome
    // 429 and refused connections are never processed; anything else may have been, even on the last try.
    const processed = "answer" in outcome ? outcome.answer.status !== 429 : !outcome.unsent
    if (processed && options.recover) {
      const recovered = await options.recover()
      if (recovered !== null) return { recovered }
    }
    if (failures > config.maxRetries) {
      if ("answer" in outcome) return outcome
      throw unreachable(config, request, outcome.failure)
    }
    const retryAfter = "answer" in outcome && config.respectRetryAfter && retryAfterStatus.has(outcome.answer.status)
      ? retryAfterMs(outcome.answer.headers.get("retry-after"))
      : null
    await Bun.sleep(retryAfter ?? backoffDelayMs(config, failures))
  }
}

const unreachable = (config: RestConfig, request: RequestShape, failure: string): ToolError => {
  const timedOut = failure.startsWith("no response within")
  return new ToolError("tracking.unreachable", `${config.label}: ${describe(request, config)} failed after ${config.maxRetries + 1} attempts: ${failure}`, {
    hint: timedOut
      ? "the server is slow or stuck; raise MLFLOW_HTTP_REQUEST_TIMEOUT (seconds) to wait longer"
      : "check MLFLOW_TRACKING_URI and that the server is running; MLFLOW_HTTP_REQUEST_MAX_RETRIES sets how often to retry",
    exitCode: 1,
  })
}

const statusText: Record<number, string> = { 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" }

/** The server's `{error_code, message}` (or its raw text) as a RestError; credentials never appear in it. */
export const answerError = (config: RestConfig, request: RequestShape, answer: Answer): RestError => {
  let body: { error_code?: unknown; message?: unknown } = {}
  try {
    body = JSON.parse(answer.text) ?? {}
  } catch {
    // Not JSON: a proxy's HTML page, say; its first line is still worth showing.
  }
  const errorCode = typeof body.error_code === "string" ? body.error_code : null
  const serverMessage = typeof body.message === "string" ? body.message : answer.text.trim().split("\n")[0]?.slice(0, 300) ?? ""
  const what = `${config.label}: ${describe(request, config)}`
  const status = `HTTP ${answer.status}${statusText[answer.status] ? ` ${statusText[answer.status]}` : ""}`
  const detail = [errorCode, serverMessage].filter(Boolean).join(": ")
  if (answer.status === 401 || answer.status === 403) {
    const refused = config.authenticated ? "refused the credentials it was sent" : "requires credentials and none were sent"
    return new RestError("tracking.auth", `${what}: ${status}: the server ${refused}${detail ? ` (${detail})` : ""}`, errorCode, answer.status, {
      hint: config.authenticated && answer.status === 403 ? `these credentials may not write here; ${config.authHint}` : config.authHint,
      exitCode: 2,
    })
  }
  return new RestError("tracking.server", `${what} failed: ${status}${detail ? `: ${detail}` : ""}`, errorCode, answer.status, {
    exitCode: answer.status >= 400 && answer.status < 500 ? 2 : 1,
  })
}

// Protobuf's JSON mapping writes non-finite doubles as strings; JSON itself has no NaN.
const encodeNumber = (_key: string, value: unknown): unknown =>
  typeof value === "number" && !Number.isFinite(value) ? (Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity") : value

export const encodeJson = (payload: Payload): string => JSON.stringify(payload, encodeNumber)

/** One `/api/2.0/mlflow/...` call: GET with a query, POST with a JSON body; the parsed JSON reply. */
export const callApi = async (
  config: RestConfig,
  method: "GET" | "POST",
  endpoint: string,
  payload: Payload,
  options: SendOptions<Payload> = {},
): Promise<Payload> => {
  const query = method === "GET" ? new URLSearchParams(Object.entries(payload).map(([k, v]): [string, string] => [k, String(v)])).toString() : ""
  const request: RequestShape = {
    method,
    url: `${config.baseUrl}/api/2.0/mlflow/${endpoint}${query ? `?${query}` : ""}`,
    ...(method === "POST" ? { headers: { "content-type": "application/json" }, body: encodeJson(payload) } : {}),
  }
  const result = await send(config, request, options)
  if ("recovered" in result) return result.recovered
  const { answer } = result
  if (answer.status !== 200) throw answerError(config, request, answer)
  try {
    const parsed: unknown = JSON.parse(answer.text)
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Payload
  } catch {
    // Reported below.
  }
  throw new RestError("tracking.server", `${config.label}: ${describe(request, config)} answered 200 with a body that is not a JSON object: '${answer.text.slice(0, 200)}'`, null, 200, {
    hint: "is MLFLOW_TRACKING_URI the MLflow server itself, not a web page or proxy login in front of it?",
    exitCode: 1,
  })
}
