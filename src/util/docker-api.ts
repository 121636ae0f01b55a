// The Docker Engine API client: where the daemon is (DOCKER_HOST, TLS), which API version to speak, requests, errors.
import type { ErrorCode } from "../error-codes.ts"
import { existsSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { HttpUnreachable, request, type HttpOptions } from "./http.ts"
import { formatSeconds, httpLimits, limitVariables, type HttpLimits } from "./http-limits.ts"

/** DeviceRequests (gpus) arrived in 1.40; newer daemons are spoken to at the newest version we know. */
const oldestApi = "1.40"
const newestApi = "1.45"
const defaultSocket = "/var/run/docker.sock"

export type DockerAddress = {
  /** As the user would write it, for messages: `unix:///var/run/docker.sock`, `tcp://host:2376`. */
  host: string
  /** Base URL of requests (`http://docker` over a unix socket). */
  url: string
  unix?: string
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean }
}

export type RequestOptions = {
  query?: Record<string, string | number | boolean | undefined>
  /** Sent as JSON with the matching content type. */
  json?: unknown
  body?: RequestInit["body"]
  headers?: Record<string, string>
  signal?: AbortSignal
  /**
   * Until the daemon's answer starts (default: the connect timeout). null for a request whose answer waits on
   * something slow by nature (a build receiving its context).
   */
  timeoutMs?: number | null
  /** Silence allowed once the answer streams (a pull's progress); none by default: attach, wait and logs rest freely. */
  idleMs?: number | null
}

export type DockerClient = {
  host: string
  apiVersion: string
  /** The HTTP limits from the environment it was connected with (MLPROJECT_HTTP_*). */
  limits: HttpLimits
  /**
   * Sends one request; throws `docker.daemon` when the daemon cannot be reached, `http.timeout` when it does not answer
   * in time, and rejects with the signal's reason on an abort; returns every HTTP answer.
   */
  request(method: string, path: string, options?: RequestOptions): Promise<Response>
}

type Env = Record<string, string | undefined>

const readPem = (dir: string, name: string, required: boolean): string | undefined => {
  const file = join(dir, name)
  if (existsSync(file)) return readFileSync(file, "utf8")
  if (!required) return undefined
  throw new ToolError("docker.tls", `DOCKER_TLS_VERIFY is set but ${file} does not exist`, {
    hint: "set DOCKER_CERT_PATH to the folder holding ca.pem, cert.pem and key.pem",
  })
}

/** Where the daemon is, from DOCKER_HOST, DOCKER_TLS_VERIFY/DOCKER_TLS and DOCKER_CERT_PATH, as the docker CLI reads them. */
export const dockerAddress = (env: Env): DockerAddress => {
  const host = env.DOCKER_HOST?.trim() || `unix://${defaultSocket}`
  if (host.startsWith("unix://")) return { host, url: "http://docker", unix: host.slice("unix://".length) }
  if (!host.startsWith("tcp://")) {
    throw new ToolError("docker.host", `DOCKER_HOST=${host}: only unix:// and tcp:// daemons are supported`, {
      hint: "use unix:///var/run/docker.sock or tcp://HOST:2376 (forward an ssh:// daemon's socket with ssh -L)",
    })
  }
  const verify = Boolean(env.DOCKER_TLS_VERIFY)
  const tls = verify || Boolean(env.DOCKER_TLS)
  const authority = host.slice("tcp://".length).replace(/\/+$/, "")
  const withPort = /:\d+$/.test(authority) ? authority : `${authority}:${tls ? 2376 : 2375}`
  if (!tls) return { host, url: `http://${withPort}` }
  const certs = env.DOCKER_CERT_PATH || join(env.HOME ?? homedir(), ".docker")
  return {
    host,
    url: `https://${withPort}`,
    tls: {
      ca: readPem(certs, "ca.pem", verify),
      cert: readPem(certs, "cert.pem", false),
      key: readPem(certs, "key.pem", false),
      rejectUnauthorized: verify,
    },
  }
}

const unreachable = (address: DockerAddress, cause: unknown): ToolError =>
  new ToolError("docker.daemon", `cannot reach the Docker daemon at ${address.host}: ${(cause as Error)?.message ?? String(cause)}`, {
    hint: address.unix
      ? "start one (as root: `dockerd &`, or `systemctl start docker`), or point DOCKER_HOST at a running daemon (unix:///path/to/docker.sock or tcp://HOST:2376)"
      : "check that the daemon listens there and, for TLS, DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH; or unset DOCKER_HOST to use /var/run/docker.sock",
    exitCode: 1,
    cause,
  })

const queryString = (query: RequestOptions["query"]): string => {
  const pairs = Object.entries(query ?? {}).filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
  return pairs.length === 0 ? "" : `?${new URLSearchParams(pairs.map(([k, v]): [string, string] => [k, String(v)])).toString()}`
}

// The daemon is asked once: a repeated create or start is not harmless, and it answers at once when it is up.
const once = { retries: 0, retryStatus: () => false, backoffMs: () => 0 }

const timedOut = (address: DockerAddress, what: string, ms: number, hint: string): ToolError =>
  new ToolError("http.timeout", `the Docker daemon at ${address.host} did not answer ${what} within ${formatSeconds(ms)}`, { hint, exitCode: 1 })

/** One request through the HTTP helper, over the daemon's unix socket or TCP (TLS); its body is not limited in size. */
const send = async (address: DockerAddress, path: string, method: string, options: RequestOptions, limits: HttpLimits): Promise<Response> => {
  const headers: Record<string, string> = { ...options.headers }
  let body = options.body as HttpOptions["body"]
  if (options.json !== undefined) {
    headers["content-type"] = "application/json"
    body = JSON.stringify(options.json)
  }
  const timeoutMs = options.timeoutMs === undefined ? limits.connectTimeoutMs : options.timeoutMs
  const idleMs = options.idleMs ?? null
  const what = `${method} ${path.replace(/^\/v[\d.]+/, "").split("?")[0]}`
  try {
    return await request(`${address.url}${path}`, {
      method,
      headers,
      body,
      signal: options.signal,
      limits,
      timeoutMs,
      idleMs,
      lowSpeed: false,
      maxBytes: null,
      retry: once,
      ...(address.unix ? { unix: address.unix } : {}),
      ...(address.tls ? { tls: address.tls } : {}),
    })
  } catch (error) {
    if (options.signal?.aborted) throw error
    if (error instanceof HttpUnreachable && error.timedOut && timeoutMs !== null) {
      throw timedOut(address, what, timeoutMs, `the daemon is stuck or overloaded; raise ${limitVariables.connectTimeoutMs} (seconds) to wait longer`)
    }
    if (error instanceof HttpUnreachable) throw unreachable(address, error.cause)
    throw error
  }
}

const versionParts = (version: string): [number, number] => {
  const [major, minor] = version.split(".").map(Number)
  return [major ?? 0, minor ?? 0]
}

export const compareVersions = (a: string, b: string): number => {
  const [am, an] = versionParts(a)
  const [bm, bn] = versionParts(b)
  return am !== bm ? am - bm : an - bn
}

// The API version each daemon settled on in this process, by its whole address (TLS material included): a run's
// prepare step and its backend connect to the same daemon, and one ping is all the docker CLI makes for `docker run`.
const settled = new Map<string, string>()

const clientFor = (address: DockerAddress, limits: HttpLimits, apiVersion: string): DockerClient => ({
  host: address.host,
  apiVersion,
  limits,
  request: (method, path, options = {}) => send(address, `/v${apiVersion}${path}${queryString(options.query)}`, method, options, limits),
})

/**
 * Pings the daemon and settles on the API version: the daemon's own, capped to the newest we know. A daemon already
 * pinged by this process is not pinged again (a request to one gone away still fails with `docker.daemon`).
 */
export const connectDocker = async (env: Env, signal?: AbortSignal): Promise<DockerClient> => {
  const address = dockerAddress(env)
  const limits = httpLimits(env)
  const key = JSON.stringify(address)
  const known = settled.get(key)
  if (known) return clientFor(address, limits, known)
  let ping: Response
  try {
    ping = await send(address, "/_ping", "GET", { signal, timeoutMs: Math.min(10_000, limits.connectTimeoutMs) }, limits)
  } catch (error) {
    if (error instanceof ToolError && error.code === "http.timeout") throw unreachable(address, new Error(error.message.replace(/^.* did not answer /, "no answer to ")))
    throw error
  }
  if (!ping.ok) throw unreachable(address, new Error(`GET /_ping answered HTTP ${ping.status}`))
  const offered = ping.headers.get("api-version") ?? "1.24"
  if (compareVersions(offered, oldestApi) < 0) {
    throw new ToolError("docker.api", `the Docker daemon at ${address.host} speaks API ${offered}; mlproject needs ${oldestApi} or newer (Docker 19.03+)`, {
      hint: "upgrade the Docker Engine",
      exitCode: 1,
    })
  }
  const apiVersion = compareVersions(offered, newestApi) > 0 ? newestApi : offered
  settled.set(key, apiVersion)
  return clientFor(address, limits, apiVersion)
}

/** The daemon's own message from an error answer (`{"message": …}`), or the HTTP status. */
export const errorMessage = async (response: Response): Promise<string> => {
  const text = await response.text().catch(() => "")
  try {
    const message = (JSON.parse(text) as { message?: string }).message
    if (message) return message.trim()
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return text.trim() || `HTTP ${response.status}`
}

/** Reads a JSON answer, or throws `code` with the daemon's message. */
export const expectJson = async <T>(response: Response, code: ErrorCode, what: string): Promise<T> => {
  if (!response.ok) throw new ToolError(code, `${what}: ${await errorMessage(response)}`, { exitCode: 1 })
  return (await response.json()) as T
}

/** Consumes an answer that carries no content, or throws `code` with the daemon's message. */
export const expectOk = async (response: Response, code: ErrorCode, what: string): Promise<void> => {
  if (!response.ok) throw new ToolError(code, `${what}: ${await errorMessage(response)}`, { exitCode: 1 })
  await response.body?.cancel()
}

/** The objects of a JSON-lines progress stream (pull, push, build, import), as they arrive. */
export async function* jsonLines(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Record<string, unknown>> {
  if (!body) return
  const decoder = new TextDecoder()
  let pending = ""
  const parse = (line: string): Record<string, unknown> | null => {
    const trimmed = line.trim()
    if (trimmed === "") return null
    try {
      return JSON.parse(trimmed) as Record<string, unknown>
    } catch {
      return { stream: `${trimmed}\n` }
    }
  }
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true })
    let newline = pending.indexOf("\n")
    while (newline !== -1) {
      const object = parse(pending.slice(0, newline))
      pending = pending.slice(newline + 1)
      if (object) yield object
      newline = pending.indexOf("\n")
    }
  }
  const last = parse(pending + decoder.decode())
  if (last) yield last
}
