// Streams an http(s) download to a file with its sha256 through the HTTP helper: credentials as a header, errors scrubbed.
import { createWriteStream } from "node:fs"
import { ToolError } from "../errors.ts"
import { HttpUnreachable, exchange, type Attempt } from "../util/http.ts"
import type { RetryPolicy } from "../util/http-retry.ts"
import { secretsOf, scrub, splitCredentials } from "../util/redact.ts"
import type { Reporter } from "./progress.ts"

export type Downloaded = { bytes: number; sha256: string }

export type DownloadOptions = {
  /** How the download is named in messages (never the URL itself when it may carry a signed token). */
  name: string
  report: Reporter
  signal?: AbortSignal
  headers?: Record<string, string>
  secrets?: string[]
}

// Three attempts in all: 429 and every 5xx are retried after Retry-After (at most 30 s), else after 1 s, then 2 s.
const policy: RetryPolicy = {
  retries: 2,
  retryStatus: (status) => status === 429 || status >= 500,
  backoffMs: (retry) => 500 * 2 ** retry,
  retryAfter: { statuses: () => true, maxMs: 30_000 },
}
const headersTimeoutMs = 30_000
const idleTimeoutMs = 60_000

const statusError = (status: number, name: string): ToolError => {
  if (status === 401 || status === 403) {
    return new ToolError("source.archive.auth", `downloading ${name} was refused (HTTP ${status})`, {
      hint: "put credentials in the URL (https://user:TOKEN@host/…, never logged) or use a URL that needs none",
    })
  }
  if (status === 404 || status === 410) {
    return new ToolError("source.archive.not_found", `${name} does not exist (HTTP ${status})`, { hint: "check the URL" })
  }
  return new ToolError("source.archive.download", `Unable to retrieve ${name}: HTTP ${status}`, { exitCode: 1, hint: "run again later" })
}

/** Writes the answer into `file` (created or truncated), hashing as it streams; a stall of idleTimeoutMs fails the attempt. */
const save = async (response: Response, file: string, options: DownloadOptions, attempt: Attempt): Promise<Downloaded> => {
  if (!response.ok) {
    await response.body?.cancel()
    throw statusError(response.status, options.name)
  }
  const total = Number(response.headers.get("content-length")) || null
  const hash = new Bun.CryptoHasher("sha256")
  const sink = createWriteStream(file)
  let bytes = 0
  try {
    for await (const chunk of response.body ?? []) {
      attempt.alive(idleTimeoutMs)
      hash.update(chunk)
      bytes += chunk.length
      if (!sink.write(chunk)) await new Promise((resolve) => sink.once("drain", resolve))
      options.report.progress("downloading", bytes, total)
    }
    await new Promise<void>((resolve, reject) => sink.end((error?: Error | null) => (error ? reject(error) : resolve())))
  } catch (error) {
    sink.destroy()
    throw error
  }
  return { bytes, sha256: hash.digest("hex") }
}

/** Downloads `rawUrl` into `file`; redirects are followed here so that the credentials never reach another origin. */
export const download = async (rawUrl: string, file: string, options: DownloadOptions): Promise<Downloaded> => {
  const { url, credentials } = splitCredentials(rawUrl)
  const secrets = [...(options.secrets ?? []), ...secretsOf(credentials)]
  const headers: Record<string, string> = { "user-agent": "mlproject", ...options.headers }
  if (credentials) headers.authorization = `Basic ${Buffer.from(`${credentials.user}:${credentials.password ?? ""}`).toString("base64")}`
  options.report.progress("connecting")
  try {
    return await exchange(url, {
      headers,
      secrets,
      retry: policy,
      timeoutMs: headersTimeoutMs,
      redirect: "drop-auth",
      signal: options.signal,
      onRetry: () => options.report.progress("connecting"),
      read: (response, attempt) => save(response, file, options, attempt),
    })
  } catch (error) {
    if (options.signal?.aborted) throw new ToolError("source.interrupted", `interrupted while downloading ${options.name}`, { exitCode: 130 })
    if (!(error instanceof HttpUnreachable)) throw error
    // Fetch errors can quote the URL, whose query may hold a signed token: name it instead.
    const reason = error.timedOut ? "timed out" : scrub((error.cause as Error).message, secrets).replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, options.name)
    throw new ToolError("source.archive.download", `Unable to retrieve ${options.name}: ${reason}`, {
      exitCode: 1,
      hint: "check the URL, your network and proxy settings, then run again",
    })
  }
}
