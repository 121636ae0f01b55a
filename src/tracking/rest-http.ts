// Calls to an MLflow REST API through the HTTP helper: MLflow's retry policy and variables, and errors that name no secret.
import type { ErrorCode } from "../error-codes.ts"
import { ToolError } from "../errors.ts"
import { HttpUnreachable, exchange } from "../util/http.ts"
import { transientStatus, urllib3Backoff, type RetryPolicy } from "../util/http-retry.ts"
import { headerSecrets, redactText } from "../util/redact.ts"
import type { RestConfig } from "./rest-config.ts"

export type Payload = Record<string, unknown>

/** A failure the server reported; `errorCode` is MLflow's (RESOURCE_DOES_NOT_EXIST, …) when the body had one. */
export class RestError extends ToolError {
  readonly errorCode: string | null
  readonly status: number
  constructor(code: ErrorCode, message: string, errorCode: string | null, status: number, options: { hint?: string; exitCode: number }) {
    super(code, message, options)
    this.errorCode = errorCode
    this.status = status
  }
}

export const isRestError = (error: unknown, errorCode?: string): error is RestError =>
  error instanceof RestError && (errorCode === undefined || error.errorCode === errorCode)

// urllib3's Retry as MLflow configures it: the statuses it retries are the helper's transient ones; these honour Retry-After.
const retryAfterStatus = new Set([413, 429, 503])

/** MLFLOW_HTTP_REQUEST_MAX_RETRIES, _BACKOFF_FACTOR, _BACKOFF_JITTER and _RESPECT_RETRY_AFTER_HEADER as a retry policy. */
const mlflowRetry = (config: RestConfig): RetryPolicy => ({
  retries: config.maxRetries,
  retryStatus: transientStatus,
  backoffMs: urllib3Backoff(config.backoffFactorMs, config.jitterMs),
  ...(config.respectRetryAfter ? { retryAfter: { statuses: (status: number) => retryAfterStatus.has(status), maxMs: Infinity } } : {}),
})

type Answer = { status: number; headers: Headers; text: string }

export type RequestShape = { method: string; url: string; headers?: Record<string, string>; body?: string | Blob }

export type SendOptions<T> = {
  /** Ends the call (its retries and backoff too) with the signal's reason. */
  signal?: AbortSignal
  /**
   * For calls that must not happen twice (runs/create): after an attempt whose effect is unknown (a timeout,
   * a dropped connection, a 5xx), look for that effect before sending again; a non-null result ends the call.
   */
  recover?: () => Promise<T | null>
}

const describe = (request: RequestShape, config: RestConfig): string => `${request.method} ${request.url.slice(config.baseUrl.length) || "/"}`

// The last Authorization value `authorize` gave for a config, so that messages quoting an answer hide it.
const sentAuthorization = new WeakMap<RestConfig, string>()

/** Sends with MLflow's retries; returns the final answer of any status, or a recovered result. */
export const send = async <T>(config: RestConfig, request: RequestShape, options: SendOptions<T> = {}): Promise<{ answer: Answer } | { recovered: T }> => {
  const { recover } = options
  const recovered =
    recover &&
    (async () => {
      const found = await recover()
      return found === null ? null : { recovered: found }
    })
  try {
    const attempt = async (fresh: boolean) => {
      const authorization = config.authorize ? await config.authorize(fresh) : undefined
      if (authorization) sentAuthorization.set(config, authorization)
      return exchangeOnce<T>(config, request, { ...options, recovered }, authorization)
    }
    const first = await attempt(false)
    // An expiring credential refused: fetched again once (it may have been revoked or expired early).
    if (config.authorize && "answer" in first && first.answer.status === 401) return await attempt(true)
    return first
  } catch (error) {
    if (error instanceof HttpUnreachable) throw unreachable(config, request, error)
    throw error
  }
}

/** One call through the helper (its retries included) with the given Authorization. */
const exchangeOnce = <T>(
  config: RestConfig,
  request: RequestShape,
  options: { signal?: AbortSignal; recovered: (() => Promise<{ recovered: T } | null>) | undefined },
  authorization: string | undefined,
): Promise<{ answer: Answer } | { recovered: T }> => {
  const { signal, recovered } = options
  return exchange<{ answer: Answer } | { recovered: T }>(request.url, {
      method: request.method,
      headers: { ...config.headers, ...(authorization ? { authorization } : {}), ...request.headers },
      secrets: config.secrets,
      body: request.body,
      tls: config.tls,
      signal,
      limits: config.limits,
      // The timeout covers the whole exchange, body included: a server that trickles its answer is stuck too.
      timeoutMs: config.timeoutMs,
      deadlineMs: config.timeoutMs,
      timeoutVariable: "MLFLOW_HTTP_REQUEST_TIMEOUT",
      retry: mlflowRetry(config),
      // MLflow's session retries every method (urllib3's allowed_methods=None); the one call that must not repeat brings `recover`.
      idempotent: true,
      read: async (response) => ({ answer: { status: response.status, headers: response.headers, text: await response.text() } }),
      recover: recovered,
    })
}

const unreachable = (config: RestConfig, request: RequestShape, lost: HttpUnreachable): ToolError => {
  return new ToolError("tracking.unreachable", `${config.label}: ${describe(request, config)} failed after ${lost.attempts} attempt${lost.attempts === 1 ? "" : "s"}: ${lost.reason}`, {
    hint: lost.timedOut
      ? `${lost.hint}; MLFLOW_HTTP_REQUEST_MAX_RETRIES sets how often to retry`
      : "check MLFLOW_TRACKING_URI and that the server is running; MLFLOW_HTTP_REQUEST_MAX_RETRIES sets how often to retry",
    exitCode: 1,
  })
}

const statusText: Record<number, string> = { 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" }

/** What of a server's answer a message may quote: a server (or a proxy) that echoes the request shows none of its credentials. */
const quoted = (config: RestConfig, text: string, limit: number): string => {
  const sent = sentAuthorization.get(config)
  const secrets = [...headerSecrets({ ...config.headers, ...(sent ? { authorization: sent } : {}) }), ...(config.secrets ?? [])]
  return redactText(text, secrets).slice(0, limit)
}

/** The server's `{error_code, message}` (or its raw text) as a RestError; credentials never appear in it. */
export const answerError = (config: RestConfig, request: RequestShape, answer: Answer): RestError => {
  let body: { error_code?: unknown; message?: unknown } = {}
  try {
    body = JSON.parse(answer.text) ?? {}
  } catch {
    // Not JSON: a proxy's HTML page, say; its first line is still worth showing.
  }
  const errorCode = typeof body.error_code === "string" ? quoted(config, body.error_code, 200) : null
  const serverMessage = typeof body.message === "string" ? quoted(config, body.message, Infinity) : quoted(config, answer.text.trim().split("\n")[0] ?? "", 300)
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
  throw new RestError("tracking.server", `${config.label}: ${describe(request, config)} answered 200 with a body that is not a JSON object: '${quoted(config, answer.text, 200)}'`, null, 200, {
    hint: "is MLFLOW_TRACKING_URI the MLflow server itself, not a web page or proxy login in front of it?",
    exitCode: 1,
  })
}
