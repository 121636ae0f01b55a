// A loopback MLflow tracking server: the documented REST endpoints over an in-memory store, recorded, with injected faults.
import { randomUUID } from "node:crypto"
import type { Recorded } from "./loopback.ts"
import { SearchError, matchesFilter, pageOf, sortRuns, type SearchableRun } from "./mlflow-search.ts"

type Json = Record<string, unknown>
export type Pair = { key: string; value: string }
export type ServerMetric = { key: string; value: number; timestamp: number; step: number }
export type ServerExperiment = { experiment_id: string; name: string; artifact_location: string; lifecycle_stage: string; creation_time: number; last_update_time: number }
export type ServerRun = {
  info: { run_id: string; run_uuid: string; run_name: string; experiment_id: string; user_id: string; status: string; start_time: number; end_time?: number; artifact_uri: string; lifecycle_stage: string }
  params: Map<string, string>
  tags: Map<string, string>
  /** Every point logged, in order (the server keeps one copy of identical points, as MLflow's SQL store does). */
  metrics: ServerMetric[]
}

/**
 * A fault for the next `times` (default 1) calls of an endpoint ("runs/create", "artifacts" for the proxy):
 * "before" answers `status` without touching the store; "after" performs the call first, so the client
 * cannot tell whether it happened. `delayMs` holds the answer back (beyond the client's timeout, say).
 */
export type Fault = { endpoint: string; when?: "before" | "after"; status?: number; retryAfter?: string; delayMs?: number; body?: unknown; times?: number }

export type MlflowServer = {
  url: string
  requests: Recorded[]
  /** Recorded calls of one endpoint, with their JSON bodies (POST) or query (GET) parsed. */
  calls(endpoint: string): Array<Recorded & { json: Json }>
  experiments: Map<string, ServerExperiment>
  runs: Map<string, ServerRun>
  artifacts: Map<string, string>
  fail(fault: Fault): void
  [Symbol.asyncDispose](): Promise<void>
}

// Protobuf's JSON mapping for doubles.
const encode = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? (Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity") : v))

const reply = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(encode(body), { status, headers: { "content-type": "application/json", ...headers } })

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}
const invalid = (message: string) => new ApiError(400, "INVALID_PARAMETER_VALUE", message)
const missing = (message: string) => new ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)

const pairsOf = (map: Map<string, string>): Pair[] => [...map].map(([key, value]) => ({ key, value }))
// Protobuf's JSON mapping leaves out empty repeated fields; clients must cope.
const listField = <T>(name: string, items: T[]) => (items.length > 0 ? { [name]: items } : {})

/** MLflow's latest value per key: the highest step, then timestamp, then value. */
const latest = (metrics: ServerMetric[]): ServerMetric[] => {
  const best = new Map<string, ServerMetric>()
  for (const m of metrics) {
    const current = best.get(m.key)
    const newer = !current || m.step > current.step || (m.step === current.step && (m.timestamp > current.timestamp || (m.timestamp === current.timestamp && m.value > current.value)))
    if (newer) best.set(m.key, m)
  }
  return [...best.values()]
}

const runJson = (run: ServerRun) => ({
  info: run.info,
  data: { ...listField("metrics", latest(run.metrics)), ...listField("params", pairsOf(run.params)), ...listField("tags", pairsOf(run.tags)) },
  inputs: {},
})

const number = (value: unknown): number => (typeof value === "number" ? value : Number(value))

const searchable = (run: ServerRun): SearchableRun => ({
  info: run.info,
  params: run.params,
  tags: run.tags,
  latest: new Map(latest(run.metrics).map((m) => [m.key, m.value])),
})

const viewTypes: Record<string, Set<string>> = { ACTIVE_ONLY: new Set(["active"]), DELETED_ONLY: new Set(["deleted"]), ALL: new Set(["active", "deleted"]) }

export type ServerOptions = {
  /** The exact Authorization header required; anything else gets MLflow's basic-auth 401. */
  auth?: string
  /** A path the API sits under (a server behind a proxy at /mlflow). */
  prefix?: string
  /** Serve https with these PEMs; `requestCert` with `ca` demands a client certificate. */
  tls?: { cert: string; key: string; ca?: string; requestCert?: boolean }
  /** The most runs one runs/search page holds, whatever max_results asks (MLflow's limit is 50000). */
  searchPageCap?: number
}

/** Bun.serve on 127.0.0.1 (a free port) recording every request, like loopback.ts but with TLS. */
const serve = (tls: ServerOptions["tls"], handler: (request: Request, url: URL, body: Uint8Array) => Promise<Response>) => {
  const requests: Recorded[] = []
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 60,
    ...(tls ? { tls: { ...tls, rejectUnauthorized: Boolean(tls.requestCert) } } : {}),
    async fetch(request) {
      const url = new URL(request.url)
      const body = new Uint8Array(await request.arrayBuffer())
      const text = new TextDecoder().decode(body)
      requests.push({ method: request.method, path: url.pathname, query: url.searchParams, headers: request.headers, body, text })
      return handler(request, url, body)
    },
  })
  return { url: `${tls ? "https" : "http"}://127.0.0.1:${server.port}`, requests, stop: () => server.stop(true) }
}

export const mlflowServer = (options: ServerOptions = {}): MlflowServer => {
  const prefix = options.prefix ?? ""
  const now = Date.now()
  const experiments = new Map<string, ServerExperiment>([
    ["0", { experiment_id: "0", name: "Default", artifact_location: "mlflow-artifacts:/0", lifecycle_stage: "active", creation_time: now, last_update_time: now }],
  ])
  const runs = new Map<string, ServerRun>()
  const artifacts = new Map<string, string>()
  const faults: Fault[] = []
  let nextExperiment = 1

  const runOf = (id: unknown): ServerRun => runs.get(String(id)) ?? (() => { throw missing(`Run with id=${String(id)} not found`) })()
  const activeRun = (id: unknown): ServerRun => {
    const run = runOf(id)
    if (run.info.lifecycle_stage !== "active") throw invalid(`The run ${run.info.run_id} must be in the 'active' state.`)
    return run
  }
  const logParam = (run: ServerRun, { key, value }: Pair) => {
    const old = run.params.get(key)
    if (old !== undefined && old !== String(value))
      throw invalid(`Changing param values is not allowed. Param with key='${key}' was already logged with value='${old}' for run ID='${run.info.run_id}'. Attempted logging new value '${value}'.`)
    run.params.set(key, String(value))
  }
  const setTag = (run: ServerRun, { key, value }: Pair) => {
    run.tags.set(key, String(value))
    if (key === "mlflow.runName") run.info.run_name = String(value)
  }
  const logMetric = (run: ServerRun, raw: Json) => {
    const metric = { key: String(raw.key), value: number(raw.value), timestamp: number(raw.timestamp), step: number(raw.step ?? 0) }
    const same = run.metrics.some((m) => m.key === metric.key && m.timestamp === metric.timestamp && m.step === metric.step && Object.is(m.value, metric.value))
    if (!same) run.metrics.push(metric)
  }

  const handlers: Record<string, (body: Json) => unknown> = {
    "GET experiments/get-by-name": (q) => {
      const found = [...experiments.values()].find((e) => e.name === q.experiment_name)
      if (!found) throw missing(`Could not find experiment with name '${String(q.experiment_name)}'`)
      return { experiment: found }
    },
    "GET experiments/get": (q) => {
      const found = experiments.get(String(q.experiment_id))
      if (!found) throw missing(`No Experiment with id=${String(q.experiment_id)} exists`)
      return { experiment: found }
    },
    "POST experiments/create": (b) => {
      const name = String(b.name ?? "")
      if (name === "") throw invalid("Invalid experiment name: ''")
      if ([...experiments.values()].some((e) => e.name === name)) throw new ApiError(400, "RESOURCE_ALREADY_EXISTS", `Experiment(name=${name}) already exists.`)
      const id = String(nextExperiment++)
      const time = Date.now()
      experiments.set(id, { experiment_id: id, name, artifact_location: `mlflow-artifacts:/${id}`, lifecycle_stage: "active", creation_time: time, last_update_time: time })
      return { experiment_id: id }
    },
    "POST runs/create": (b) => {
      const experiment = experiments.get(String(b.experiment_id))
      if (!experiment || experiment.lifecycle_stage !== "active") throw missing(`No Experiment with id=${String(b.experiment_id)} exists`)
      const id = randomUUID().replaceAll("-", "")
      const tags = new Map(((b.tags as Pair[] | undefined) ?? []).map((t) => [t.key, t.value]))
      const runName = String(b.run_name ?? "") || tags.get("mlflow.runName") || "server-named-run"
      tags.set("mlflow.runName", runName)
      const run: ServerRun = {
        info: { run_id: id, run_uuid: id, run_name: runName, experiment_id: experiment.experiment_id, user_id: String(b.user_id ?? ""), status: "RUNNING", start_time: number(b.start_time), artifact_uri: `${experiment.artifact_location}/${id}/artifacts`, lifecycle_stage: "active" },
        params: new Map(),
        tags,
        metrics: [],
      }
      runs.set(id, run)
      return { run: runJson(run) }
    },
    "GET runs/get": (q) => ({ run: runJson(runOf(q.run_id)) }),
    "POST runs/update": (b) => {
      const run = activeRun(b.run_id)
      if (b.status !== undefined) run.info.status = String(b.status)
      if (b.end_time !== undefined) run.info.end_time = number(b.end_time)
      if (b.run_name) setTag(run, { key: "mlflow.runName", value: String(b.run_name) })
      return { run_info: run.info }
    },
    "POST runs/log-batch": (b) => {
      const run = activeRun(b.run_id)
      const metrics = (b.metrics as Json[] | undefined) ?? []
      const params = (b.params as Pair[] | undefined) ?? []
      const tags = (b.tags as Pair[] | undefined) ?? []
      for (const [what, count, limit] of [["metrics", metrics.length, 1000], ["params", params.length, 100], ["tags", tags.length, 100], ["metrics, params, and tags", metrics.length + params.length + tags.length, 1000]] as const)
        if (count > limit) throw invalid(`A batch logging request can contain at most ${limit} ${what}. Got ${count} ${what}.`)
      for (const p of params) logParam(run, p)
      for (const m of metrics) logMetric(run, m)
      for (const t of tags) setTag(run, t)
      return {}
    },
    "POST runs/log-metric": (b) => (logMetric(activeRun(b.run_id), b), {}),
    "POST runs/log-parameter": (b) => (logParam(activeRun(b.run_id), b as Pair), {}),
    "POST runs/set-tag": (b) => (setTag(activeRun(b.run_id), b as Pair), {}),
    "POST runs/delete-tag": (b) => (activeRun(b.run_id).tags.delete(String(b.key)), {}),
    "POST runs/search": (b) => {
      const ids = new Set(((b.experiment_ids as string[] | undefined) ?? []).map(String))
      const stages = viewTypes[String(b.run_view_type ?? "ACTIVE_ONLY")] ?? viewTypes.ACTIVE_ONLY
      const max = b.max_results === undefined ? 1000 : number(b.max_results)
      if (!Number.isInteger(max) || max < 1 || max > 50000) throw invalid(`Invalid value for request parameter max_results. It must be at most 50000, but got value ${String(b.max_results)}`)
      try {
        const found = [...runs.values()].filter((r) => ids.has(r.info.experiment_id) && stages?.has(r.info.lifecycle_stage))
        const byId = new Map(found.map((r) => [r.info.run_id, r]))
        const matched = found.map(searchable).filter((r) => matchesFilter(r, String(b.filter ?? "")))
        const sorted = sortRuns(matched, (b.order_by as string[] | undefined) ?? [])
        const { page, next } = pageOf(sorted, b.page_token === undefined ? undefined : String(b.page_token), Math.min(max, options.searchPageCap ?? max))
        return { ...listField("runs", page.map((r) => runJson(byId.get(r.info.run_id) as ServerRun))), ...(next ? { next_page_token: next } : {}) }
      } catch (error) {
        if (error instanceof SearchError) throw invalid(error.message)
        throw error
      }
    },
  }

  const endpointOf = (path: string): string | null => {
    if (!path.startsWith(prefix)) return null
    const rest = path.slice(prefix.length)
    if (rest.startsWith("/api/2.0/mlflow-artifacts/artifacts/")) return "artifacts"
    return rest.startsWith("/api/2.0/mlflow/") ? rest.slice("/api/2.0/mlflow/".length) : null
  }

  const perform = (request: Request, url: URL, body: Uint8Array, endpoint: string): Response => {
    if (endpoint === "artifacts") {
      if (request.method !== "PUT") return reply(405, { error_code: "BAD_REQUEST", message: "PUT only here" })
      const path = decodeURIComponent(url.pathname.slice(`${prefix}/api/2.0/mlflow-artifacts/artifacts/`.length))
      artifacts.set(path, new TextDecoder().decode(body))
      return reply(200, {})
    }
    const handler = handlers[`${request.method} ${endpoint}`]
    if (!handler) return reply(404, { error_code: "ENDPOINT_NOT_FOUND", message: `No ${request.method} ${endpoint}` })
    try {
      const input = request.method === "GET" ? Object.fromEntries(url.searchParams) : (JSON.parse(new TextDecoder().decode(body) || "{}") as Json)
      return reply(200, handler(input))
    } catch (error) {
      if (error instanceof ApiError) return reply(error.status, { error_code: error.code, message: error.message })
      return reply(500, { error_code: "INTERNAL_ERROR", message: String(error) })
    }
  }

  const server = serve(options.tls, async (request, url, body) => {
    const endpoint = endpointOf(url.pathname)
    if (endpoint === null) return new Response("not an MLflow path", { status: 404 })
    // MLflow's basic-auth app answers 401 with plain text.
    if (options.auth !== undefined && request.headers.get("authorization") !== options.auth)
      return new Response("You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html", { status: 401, headers: { "www-authenticate": 'Basic realm="mlflow"' } })
    const index = faults.findIndex((f) => f.endpoint === endpoint)
    const fault = index === -1 ? undefined : faults[index]
    if (!fault) return perform(request, url, body, endpoint)
    if ((fault.times = (fault.times ?? 1) - 1) <= 0) faults.splice(index, 1)
    const real = fault.when === "after" ? perform(request, url, body, endpoint) : null
    if (fault.delayMs) await Bun.sleep(fault.delayMs)
    if (fault.status === undefined && real) return real
    const status = fault.status ?? 500
    const defaultBody = status === 429 ? { error_code: "REQUEST_LIMIT_EXCEEDED", message: "slow down" } : { error_code: "INTERNAL_ERROR", message: "injected failure" }
    return reply(status, fault.body ?? defaultBody, fault.retryAfter ? { "retry-after": fault.retryAfter } : {})
  })

  return {
    url: `${server.url}${prefix}`,
    requests: server.requests,
    calls: (endpoint) =>
      server.requests
        .filter((r) => endpointOf(r.path) === endpoint)
        .map((r) => ({ ...r, json: r.method === "GET" ? Object.fromEntries(r.query) : r.text && endpoint !== "artifacts" ? (JSON.parse(r.text) as Json) : {} })),
    experiments,
    runs,
    artifacts,
    fail: (fault) => void faults.push({ ...fault }),
    [Symbol.asyncDispose]: () => server.stop(),
  }
}
