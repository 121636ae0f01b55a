// Calls to a Databricks workspace's REST API: auth header, 429/503 retried honouring Retry-After, `{error_code, message}` as ToolErrors.
import type { ErrorCode } from "../error-codes.ts"
import { ToolError } from "../errors.ts"
import { sleep } from "../util/abort.ts"
import { HttpUnreachable, exchange } from "../util/http.ts"
import { halfJitterBackoff, retryAfterMs } from "../util/http-retry.ts"
import { redactText } from "../util/redact.ts"
import { authorization, credentialLabel, workspaceSecrets, type Workspace } from "./auth.ts"

/** A failure the workspace reported; `errorCode` is Databricks' (RESOURCE_DOES_NOT_EXIST, PERMISSION_DENIED, "403", …). */
export class DatabricksError extends ToolError {
  readonly errorCode: string | null
  readonly status: number
  readonly serviceMessage: string
  constructor(code: ErrorCode, message: string, details: { errorCode: string | null; status: number; serviceMessage: string; hint?: string; exitCode: number }) {
    super(code, message, { hint: details.hint, exitCode: details.exitCode })
    this.errorCode = details.errorCode
    this.status = details.status
    this.serviceMessage = details.serviceMessage
  }
}

export const isDatabricksError = (error: unknown, errorCode?: string): error is DatabricksError =>
  error instanceof DatabricksError && (errorCode === undefined || error.errorCode === errorCode)

export type Query = Record<string, string | number | boolean | undefined>

export type SendOptions = {
  query?: Query
  headers?: Record<string, string>
  /** A function makes a new stream for each attempt (a throttled answer is asked again): a stream is read once. */
  body?: string | Blob | null | (() => ReadableStream<Uint8Array>)
  signal?: AbortSignal
  /** Time until the answer's headers arrive; null for an upload whose answer comes only after its body (default: the helper's). */
  timeoutMs?: number | null
  /** Sending twice is harmless (GET, HEAD, PUT and DELETE are; a POST only when the caller says so). */
  idempotent?: boolean
}

export type Answer = { status: number; headers: Headers; text: string }

// Throttled or briefly unavailable: the request was not acted on, so even a POST is sent again.
const busy = new Set([429, 503])
const tries = 6
const maxWaitMs = 30_000
const backoff = halfJitterBackoff(1000, maxWaitMs)
// A lost connection is usually a blip (a restarted load balancer): tried again soon, twice.
const lostBackoff = halfJitterBackoff(250, 5000)

const idempotentMethods = new Set(["GET", "HEAD", "PUT", "DELETE"])

/** `/api/2.0/jobs/runs/get?run_id=1` with the query's defined values. */
const urlOf = (workspace: Workspace, path: string, query: Query | undefined): string => {
  const pairs = Object.entries(query ?? {}).flatMap(([key, value]): Array<[string, string]> => (value === undefined ? [] : [[key, String(value)]]))
  const search = new URLSearchParams(pairs).toString()
  return `${workspace.host}${path}${search ? `?${search}` : ""}`
}

/**
 * Sends one request and returns the final answer of any status (after the 429/503 retries, and one token refetch
 * after a 401 with OAuth); no answer at all is `databricks.unreachable`.
 */
export const send = async (workspace: Workspace, method: string, path: string, options: SendOptions = {}): Promise<Answer> => {
  const url = urlOf(workspace, path, options.query)
  const idempotent = options.idempotent ?? idempotentMethods.has(method)
  let refetched = false
  let fresh = false
  for (let attempt = 1; ; attempt++) {
    const auth = await authorization(workspace, { signal: options.signal, fresh })
    fresh = false
    let answer: Answer
    try {
      answer = await exchange(url, {
        method,
        headers: { authorization: auth, ...options.headers },
        body: typeof options.body === "function" ? options.body() : (options.body ?? undefined),
        signal: options.signal,
        secrets: workspaceSecrets(workspace),
        idempotent,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(workspace.insecure ? { tls: { rejectUnauthorized: false } } : {}),
        // Lost connections are retried here (idempotent requests only); busy answers by the loop below, for every method.
        retry: { retries: 2, retryStatus: () => false, backoffMs: lostBackoff },
        read: async (response) => ({ status: response.status, headers: response.headers, text: method === "HEAD" ? "" : await response.text() }),
      })
    } catch (error) {
      if (error instanceof HttpUnreachable)
        throw new ToolError("databricks.unreachable", `Databricks workspace ${workspace.host}: ${method} ${path}: ${error.reason}`, {
          hint: error.timedOut ? error.hint : "check the workspace host (DATABRICKS_HOST or the profile's host) and your network connection",
          exitCode: 1,
          cause: error,
        })
      throw error
    }
    if (answer.status === 401 && workspace.credential.kind === "oauth" && !refetched) {
      refetched = true
      fresh = true
      continue
    }
    if (!busy.has(answer.status) || attempt >= tries) return answer
    const asked = retryAfterMs(answer.headers.get("retry-after"))
    await sleep(Math.min(maxWaitMs, asked ?? backoff(attempt)), options.signal)
  }
}

/** The workspace's `{error_code, message}` (or its raw text) as a DatabricksError; no credential appears in it. */
export const failure = (workspace: Workspace, method: string, path: string, answer: Answer): DatabricksError => {
  let body: { error_code?: unknown; message?: unknown } = {}
  try {
    body = JSON.parse(answer.text) ?? {}
  } catch {
    // Not JSON: a proxy's page; its first line still says something.
  }
  const secrets = workspaceSecrets(workspace)
  const errorCode = typeof body.error_code === "string" || typeof body.error_code === "number" ? redactText(String(body.error_code), secrets).slice(0, 100) : null
  const serviceMessage = redactText(typeof body.message === "string" ? body.message : (answer.text.trim().split("\n")[0] ?? "").slice(0, 300), secrets)
  const detail = [errorCode, serviceMessage].filter(Boolean).join(": ")
  const what = `Databricks workspace ${workspace.host}: ${method} ${path.split("?")[0]}`
  const details = { errorCode, status: answer.status, serviceMessage }
  const { status } = answer
  if (status === 401 || status === 403)
    return new DatabricksError("databricks.auth", `${what}: HTTP ${status}: the workspace refused ${credentialLabel(workspace)}${detail ? ` (${detail})` : ""}`, {
      ...details,
      hint:
        status === 403 && errorCode === "PERMISSION_DENIED"
          ? "the credential is valid but may not do this; ask a workspace admin for the permission"
          : `check that the credential is valid for ${workspace.host} and not expired`,
      exitCode: 2,
    })
  if (status === 404) return new DatabricksError("databricks.not_found", `${what}: not found${detail ? ` (${detail})` : ""}`, { ...details, exitCode: 1 })
  if (status === 400) return new DatabricksError("databricks.invalid", `${what}: the workspace rejected the request${detail ? `: ${detail}` : ""}`, { ...details, exitCode: 2 })
  return new DatabricksError("databricks.api", `${what} failed: HTTP ${status}${detail ? `: ${detail}` : ""}`, { ...details, exitCode: status >= 400 && status < 500 ? 2 : 1 })
}

/** One JSON call: GET/DELETE with a query, POST/PATCH/PUT with a JSON body; the parsed reply. */
export const call = async <T>(
  workspace: Workspace,
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  path: string,
  options: { query?: Query; body?: unknown; signal?: AbortSignal; idempotent?: boolean } = {},
): Promise<T> => {
  const withBody = options.body !== undefined
  const answer = await send(workspace, method, path, {
    query: options.query,
    signal: options.signal,
    idempotent: options.idempotent,
    ...(withBody ? { headers: { "content-type": "application/json" }, body: JSON.stringify(options.body) } : {}),
  })
  if (answer.status < 200 || answer.status >= 300) throw failure(workspace, method, path, answer)
  if (answer.text.trim() === "") return {} as T
  try {
    return JSON.parse(answer.text) as T
  } catch {
    throw new DatabricksError("databricks.api", `Databricks workspace ${workspace.host}: ${method} ${path} answered ${answer.status} with a body that is not JSON`, {
      errorCode: null,
      status: answer.status,
      serviceMessage: "",
      hint: "is the host the workspace itself, not a login page or proxy in front of it?",
      exitCode: 1,
    })
  }
}
