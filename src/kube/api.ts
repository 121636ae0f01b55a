// A Kubernetes API client over our one HTTP helper: JSON calls with Status answers as ToolErrors, log streams, resuming watches.
import { ToolError } from "../errors.ts"
import { errorText, exchange, HttpUnreachable, type HttpOptions } from "../util/http.ts"
import { httpLimits } from "../util/http-limits.ts"
import { loadKubeTarget, type Env, type KubeTarget } from "./config.ts"
import { resumingWatch, type Query, type WatchEvent } from "./watch.ts"

export type { KubeTarget } from "./config.ts"
export type { Query, WatchEvent } from "./watch.ts"

export type CallOptions = {
  query?: Query
  /** Sent as JSON. */
  body?: unknown
  /** For PATCH: application/merge-patch+json (the default there), application/json-patch+json, application/apply-patch+yaml. */
  contentType?: string
  signal?: AbortSignal
  /** A 404 answers null instead of throwing kube.not_found. */
  allow404?: boolean
}

export type KubeClient = {
  context: string | null
  namespace: string
  server: string
  /** The kubeconfig path(s), or "in-cluster". */
  source: string
  call<T>(method: string, path: string, options?: CallOptions): Promise<T | null>
  watch(path: string, options: { query?: Query; resourceVersion?: string; signal: AbortSignal }): AsyncGenerator<WatchEvent>
  stream(path: string, options: { query?: Query; signal: AbortSignal }): Promise<ReadableStream<Uint8Array>>
}

// Methods that are safe to send twice; a POST creates, so a lost answer is never blindly resent.
const idempotent = new Set(["GET", "HEAD", "PUT", "DELETE"])

const unauthorized = Symbol("unauthorized")

type Answer = { status: number; text: string; body?: ReadableStream<Uint8Array> | null }

export const queryString = (query: Query = {}): string => {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value))
  const text = params.toString()
  return text === "" ? "" : `?${text}`
}

const who = (target: KubeTarget): string => (target.context === null ? "the in-cluster service account" : `context '${target.context}'`)

/** A Kubernetes Status (or any error answer) as the ToolError its code means. */
export const statusError = (target: KubeTarget, what: string, status: number, body: unknown): ToolError => {
  const parsed = (typeof body === "string" ? safeJson(body) : body) as { message?: string; reason?: string } | null
  const detail = parsed?.message ?? (typeof body === "string" && body.trim() !== "" ? body.trim().slice(0, 500) : `HTTP ${status}`)
  const hint = `check with: kubectl${target.context ? ` --context ${target.context}` : ""} auth can-i --list`
  if (status === 401) {
    return new ToolError("kube.auth", `the API server at ${target.server} refused the credentials of ${who(target)} (${target.source}): ${detail}`, {
      exitCode: 1,
      hint: "log in again (refresh the token or the exec plugin's session), then retry",
    })
  }
  if (status === 403) return new ToolError("kube.auth", `the API server at ${target.server} forbids ${who(target)} ${what}: ${detail}`, { exitCode: 1, hint })
  if (status === 404) return new ToolError("kube.not_found", `${what}: not found on ${target.server}: ${detail}`, { exitCode: 1 })
  if (status === 409) return new ToolError("kube.conflict", `${what}: ${detail}`, { exitCode: 1 })
  if (status === 400 || status === 422) return new ToolError("kube.invalid", `${what}: the API server at ${target.server} rejected it: ${detail}`, { exitCode: 2 })
  return new ToolError("kube.api", `${what}: HTTP ${status} from ${target.server}: ${detail}`, { exitCode: 1 })
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

/** A client for `target`; the connection settings (timeouts, retries) come from `env` as for every HTTP call. */
export const kubeClient = (target: KubeTarget, env: Env = process.env): KubeClient => {
  const limits = httpLimits(env)

  /**
   * One request with the current credentials, sent again once with fresh ones after a 401 (an exec token revoked or
   * rotated early). `read` sees every other answer; network failures become kube.unreachable.
   */
  const send = async <T>(method: string, path: string, options: CallOptions & Pick<HttpOptions, "timeoutMs" | "idleMs" | "lowSpeed" | "maxBytes">, read: (response: Response) => Promise<T>): Promise<T> => {
    const url = `${target.server}${path}${queryString(options.query)}`
    const what = `${method} ${path}`
    for (let refreshed = false; ; refreshed = true) {
      const credentials = await target.credentials()
      const hasBody = options.body !== undefined
      const contentType = options.contentType ?? (method === "PATCH" ? "application/merge-patch+json" : "application/json")
      try {
        const result = await exchange<T | typeof unauthorized>(url, {
          method,
          headers: { accept: "application/json", ...(hasBody ? { "content-type": contentType } : {}), ...credentials.headers },
          body: hasBody ? JSON.stringify(options.body) : undefined,
          signal: options.signal,
          limits,
          idempotent: idempotent.has(method),
          tls: { ...target.tls, ...credentials.tls },
          secrets: credentials.secrets,
          timeoutMs: options.timeoutMs,
          idleMs: options.idleMs,
          lowSpeed: options.lowSpeed,
          maxBytes: options.maxBytes,
          read: async (response) => {
            if (response.status !== 401 || refreshed) return read(response)
            await response.body?.cancel().catch(() => {})
            return unauthorized
          },
        })
        if (result !== unauthorized) return result
      } catch (error) {
        if (!(error instanceof HttpUnreachable)) throw error
        throw new ToolError("kube.unreachable", `cannot reach the API server at ${target.server} (${who(target)}, ${target.source}): ${what}: ${error.reason}`, {
          exitCode: 1,
          hint: error.hint,
          cause: error,
        })
      }
      target.invalidate()
    }
  }

  const answer = async (response: Response): Promise<Answer> => ({ status: response.status, text: response.ok ? await response.text() : await errorText(response) })

  const call = async <T>(method: string, path: string, options: CallOptions = {}): Promise<T | null> => {
    const upper = method.toUpperCase()
    const { status, text } = await send(upper, path, options, answer)
    if (status >= 200 && status < 300) return text.trim() === "" ? null : (JSON.parse(text) as T)
    if (status === 404 && options.allow404) return null
    throw statusError(target, `${upper} ${path}`, status, text)
  }

  /** The open body of a long answer (a watch, a log), without the idle, low-speed and size rules of short ones. */
  const open = (path: string, query: Query, signal: AbortSignal): Promise<Answer> =>
    send("GET", path, { query, signal, idleMs: null, lowSpeed: false, maxBytes: null }, async (response) =>
      response.ok ? { status: response.status, text: "", body: response.body } : { status: response.status, text: await errorText(response) },
    )

  return {
    context: target.context,
    namespace: target.namespace,
    server: target.server,
    source: target.source,
    call,
    watch: (path, options) =>
      resumingWatch(
        {
          open: async (query, signal) => {
            const { status, text, body } = await open(path, query, signal)
            if (status === 410) return "gone"
            if (status >= 200 && status < 300 && body) return body
            throw statusError(target, `watch ${path}`, status, text)
          },
          list: async (query, signal) => (await call<any>("GET", path, { query, signal })) ?? {},
          failure: (status) => statusError(target, `watch ${path}`, Number(status?.code) || 500, status),
        },
        options,
      ),
    stream: async (path, options) => {
      const { status, text, body } = await open(path, options.query ?? {}, options.signal)
      if (status >= 200 && status < 300 && body) return body
      throw statusError(target, `GET ${path}`, status, text)
    },
  }
}

/** The client for the kubeconfig context `context` (else the current one), or for the pod's service account. */
export const connectKube = async (env: Env, options: { context?: string; signal?: AbortSignal } = {}): Promise<KubeClient> =>
  kubeClient(loadKubeTarget(env, options.context), env)
