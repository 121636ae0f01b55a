// Streams an http(s) download to a file with its sha256 through the HTTP helper: credentials as a header, errors scrubbed.
import { createWriteStream } from "node:fs"
import { ToolError } from "../errors.ts"
import { HttpTooLarge, HttpUnreachable, exchange } from "../util/http.ts"
import { httpLimits } from "../util/http-limits.ts"
import type { RetryPolicy } from "../util/http-retry.ts"
import { limitsFrom } from "./archive-rules.ts"
import { redactText, secretsOf, splitCredentials } from "../util/redact.ts"
import type { Reporter } from "./progress.ts"

export type Downloaded = { bytes: number; sha256: string }

export type DownloadOptions = {
  /** How the download is named in messages (never the URL itself when it may carry a signed token). */
  name: string
  report: Reporter
  signal?: AbortSignal
  /** Where the HTTP limits and MLPROJECT_ARCHIVE_MAX_BYTES are read (default: the process environment). */
  env?: Record<string, string | undefined>
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

/** Writes the answer into `file` (created or truncated), hashing as it streams; the helper ends a stalled or crawling body. */
const save = async (response: Response, file: string, options: DownloadOptions): Promise<Downloaded> => {
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

/**
 * Downloads `url` into `file`. Credentials in the URL travel as a Basic header that the HTTP helper drops at a
 * redirect to another origin; a redirect to anything but http(s) is refused there (`http.redirect`).
 */
export const download = async (url: string, file: string, options: DownloadOptions): Promise<Downloaded> => {
  const secrets = [...(options.secrets ?? []), ...secretsOf(splitCredentials(url).credentials)]
  const headers: Record<string, string> = { "user-agent": "mlproject", ...options.headers }
  options.report.progress("connecting")
  const env = options.env ?? process.env
  try {
    return await exchange(url, {
      headers,
      secrets,
      retry: policy,
      limits: httpLimits(env),
      // No archive larger than what it may unpack to is worth the disk: the extraction limit caps the download too.
      maxBytes: { bytes: limitsFrom(env).maxBytes, variable: "MLPROJECT_ARCHIVE_MAX_BYTES" },
      signal: options.signal,
      onRetry: () => options.report.progress("connecting"),
      read: (response) => save(response, file, options),
    })
  } catch (error) {
    if (options.signal?.aborted) throw new ToolError("source.interrupted", `interrupted while downloading ${options.name}`, { exitCode: 130 })
    // Fetch errors can quote the URL, whose query may hold a signed token: name it instead.
    if (error instanceof HttpTooLarge) throw new ToolError(error.code, `Unable to retrieve ${options.name}: ${error.reason}`, { exitCode: 1, hint: error.hint })
    if (!(error instanceof HttpUnreachable)) throw error
    if (error.timedOut) throw new ToolError(error.code, `Unable to retrieve ${options.name}: ${error.reason}`, { exitCode: 1, hint: error.hint })
    const reason = redactText((error.cause as Error).message, secrets).replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, options.name)
    throw new ToolError("source.archive.download", `Unable to retrieve ${options.name}: ${reason}`, {
      exitCode: 1,
      hint: "check the URL, your network and proxy settings, then run again",
    })
  }
}
