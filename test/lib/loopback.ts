// A loopback HTTP server on 127.0.0.1 (a free port) that records every request, so tests assert what was sent.
import type { Server } from "bun"

export type Recorded = { method: string; path: string; query: URLSearchParams; headers: Headers; body: Uint8Array; text: string }

export type Loopback = {
  url: string
  requests: Recorded[]
  server: Server<undefined>
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Starts `Bun.serve` with `handler`; request bodies are read whole and recorded (tests send modest ones). With `tls.ca`,
 * `requestCert` and `rejectUnauthorized` the server demands a client certificate that `ca` signed.
 */
export const loopback = (
  handler: (request: Request, url: URL, body: Uint8Array) => Response | Promise<Response>,
  options: { tls?: { cert: string; key: string; ca?: string; requestCert?: boolean; rejectUnauthorized?: boolean }; idleTimeout?: number } = {},
): Loopback => {
  const requests: Recorded[] = []
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: options.idleTimeout ?? 60,
    ...(options.tls ? { tls: options.tls } : {}),
    async fetch(request) {
      const url = new URL(request.url)
      const body = request.body ? new Uint8Array(await request.arrayBuffer()) : new Uint8Array()
      const text = body.length <= 1024 * 1024 ? new TextDecoder().decode(body) : ""
      requests.push({ method: request.method, path: url.pathname, query: url.searchParams, headers: request.headers, body, text })
      return handler(request, url, body)
    },
  })
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${server.port}`,
    requests,
    server,
    async [Symbol.asyncDispose]() {
      await server.stop(true)
    },
  }
}
