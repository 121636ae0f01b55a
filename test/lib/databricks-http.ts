// The HTTP side of the loopback Databricks workspace: a streaming Bun.serve that records requests, error replies, faults.
import type { Recorded } from "./loopback.ts"

export type Json = Record<string, unknown>
/** A recorded request, with its endpoint ("dbfs/add-block", "jobs/runs/submit", "fs/files", "oidc/v1/token") and JSON body or query. */
export type WorkspaceRequest = Recorded & { endpoint: string; json: Json }
/** The next `times` (default 1) calls of `endpoint` answer `status` (with `body` and a Retry-After header) without being performed. */
export type WorkspaceFault = { endpoint: string; status: number; body?: unknown; times?: number; retryAfter?: string }

/** Bodies kept in the record are cut here, so a 200 MB upload is never held in memory. */
export const recordLimit = 1024 * 1024

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string | number, message: string) {
    super(message)
  }
}
export const invalid = (message: string) => new ApiError(400, "INVALID_PARAMETER_VALUE", message)
export const missing = (message: string) => new ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)

export const reply = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })
export const errorReply = (error: ApiError) => reply({ error_code: error.code, message: error.message }, error.status)

/** "/api/2.1/jobs/runs/get" → "jobs/runs/get"; every Files API path is "fs/files". */
export const endpointOf = (pathname: string): string => {
  const name = pathname.replace(/^\/api\/2\.[01]\//, "").replace(/^\//, "")
  return name.startsWith("fs/files/") ? "fs/files" : name
}

/** The request body as text, kept in the record (the endpoints that read it whole take modest JSON or forms). */
export const bodyText = async (request: Request, record: WorkspaceRequest): Promise<string> => {
  const body = new Uint8Array(await request.arrayBuffer())
  record.body = body.subarray(0, recordLimit)
  record.text = new TextDecoder().decode(record.body)
  return new TextDecoder().decode(body)
}

/** The JSON body of a POST, or the query of a GET (the API accepts both for reads). */
export const params = async (request: Request, url: URL, record: WorkspaceRequest): Promise<Json> => {
  // Bun.serve drops the body of a GET, so a GET's parameters must come in the query (as the SDKs send them).
  const text = request.method === "GET" || request.method === "HEAD" ? "" : await bodyText(request, record)
  const fromQuery: Json = Object.fromEntries(url.searchParams)
  if (!text.trim()) return (record.json = fromQuery)
  try {
    const parsed: unknown = JSON.parse(text)
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw invalid("The request body must be a JSON object.")
    return (record.json = { ...fromQuery, ...(parsed as Json) })
  } catch (error) {
    if (error instanceof ApiError) throw error
    throw new ApiError(400, "MALFORMED_REQUEST", `Invalid JSON given in the body of the request - failed to parse: ${(error as Error).message}`)
  }
}

/** Writes a streamed request body to `file`, keeping its first `recordLimit` bytes in the record; returns the size. */
export const streamTo = async (request: Request, file: string, record: WorkspaceRequest): Promise<number> => {
  const sink = Bun.file(file).writer()
  const head: Uint8Array[] = []
  let size = 0
  try {
    if (request.body) {
      for await (const chunk of request.body) {
        if (size < recordLimit) head.push(chunk.subarray(0, recordLimit - size))
        size += chunk.length
        sink.write(chunk)
        await sink.flush()
      }
    }
  } finally {
    await sink.end()
  }
  record.body = new Uint8Array(Buffer.concat(head))
  record.text = new TextDecoder().decode(record.body)
  return size
}

export type Served = { url: string; requests: WorkspaceRequest[]; faults: WorkspaceFault[]; stop(): Promise<void> }

/** Bun.serve on 127.0.0.1 (a free port); the handler reads the body itself (whole, or streamed to disk). */
export const serve = (handler: (request: Request, url: URL, record: WorkspaceRequest) => Promise<Response>): Served => {
  const requests: WorkspaceRequest[] = []
  const faults: WorkspaceFault[] = []
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 120,
    // Bun refuses bodies over 128 MB by default; uploads of hundreds of MB must reach the handler.
    maxRequestBodySize: 8 * 1024 * 1024 * 1024,
    async fetch(request) {
      const url = new URL(request.url)
      const record: WorkspaceRequest = {
        method: request.method,
        path: url.pathname,
        query: url.searchParams,
        headers: request.headers,
        body: new Uint8Array(),
        text: "",
        endpoint: endpointOf(url.pathname),
        json: {},
      }
      requests.push(record)
      const index = faults.findIndex((f) => f.endpoint === record.endpoint)
      const fault = faults[index]
      if (fault) {
        if ((fault.times = (fault.times ?? 1) - 1) <= 0) faults.splice(index, 1)
        await request.body?.cancel().catch(() => {})
        const code = fault.status === 429 ? "REQUEST_LIMIT_EXCEEDED" : fault.status >= 500 ? "TEMPORARILY_UNAVAILABLE" : String(fault.status)
        const body = fault.body ?? { error_code: code, message: `Injected fault: ${fault.status}` }
        return reply(body, fault.status, fault.retryAfter ? { "retry-after": fault.retryAfter } : {})
      }
      try {
        return await handler(request, url, record)
      } catch (error) {
        if (error instanceof ApiError) return errorReply(error)
        return reply({ error_code: "INTERNAL_ERROR", message: String((error as Error).stack ?? error) }, 500)
      }
    },
  })
  return { url: `http://127.0.0.1:${server.port}`, requests, faults, stop: () => server.stop(true) }
}
