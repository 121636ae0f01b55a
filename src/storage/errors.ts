// The storage errors users see: each names the URI (without credentials) and the reason, then the fix.
import { ToolError } from "../errors.ts"
import { HttpTimeout, isAbort } from "../util/http.ts"
import { formatBytes, limitVariables } from "../util/http-limits.ts"
import { redactUrl } from "../util/redact.ts"

export const notFound = (uri: string, detail?: string): ToolError =>
  new ToolError("storage.not_found", `${redactUrl(uri)}: no such object${detail ? ` (${detail})` : ""}`, {
    hint: "check the spelling of the bucket and the path; a folder must hold at least one object",
  })

export const denied = (uri: string, detail: string, hint: string): ToolError =>
  new ToolError("storage.denied", `${redactUrl(uri)}: access denied (${detail})`, { hint })

export const missingCredentials = (uri: string, service: string, hint: string): ToolError =>
  new ToolError("storage.credentials", `${redactUrl(uri)}: no ${service} credentials found`, { hint })

export const unreachable = (uri: string, endpoint: string, reason: string, hint?: string): ToolError =>
  new ToolError("storage.unreachable", `${redactUrl(uri)}: cannot reach ${endpoint} (${reason})`, {
    hint: hint ?? "check the endpoint address and your network connection, then try again",
    exitCode: 1,
  })

export const failed = (uri: string, reason: string, cause?: unknown): ToolError =>
  new ToolError("storage.failed", `${redactUrl(uri)}: ${reason}`, { hint: "try again; the transfer failed part-way", exitCode: 1, cause })

export const changed = (uri: string): ToolError =>
  new ToolError("storage.changed", `${redactUrl(uri)} changed while it was being downloaded`, {
    hint: "try again once whatever writes the object has finished",
    exitCode: 1,
  })

export const checksumMismatch = (uri: string, algorithm: string, expected: string, actual: string): ToolError =>
  new ToolError("storage.checksum", `${redactUrl(uri)}: downloaded bytes do not match the service's ${algorithm} (expected ${expected}, got ${actual})`, {
    hint: "try again; if it persists the stored object or a proxy in between is corrupting data",
    exitCode: 1,
  })

export const unsupportedScheme = (uri: string, scheme: string): ToolError =>
  new ToolError("storage.scheme", `${redactUrl(uri)}: cannot download '${scheme}:' URIs`, {
    hint: "supported: s3://, gs://, dbfs:/, http(s)://, file:// and local paths",
  })

export const interrupted = (uri: string): ToolError =>
  new ToolError("interrupted", `download of ${redactUrl(uri)} interrupted`, { exitCode: 130 })

export const unavailable = (uri: string, detail: string): ToolError =>
  new ToolError("storage.unavailable", `${redactUrl(uri)}: the service keeps failing (${detail})`, {
    hint: "try again later; the request was already retried with backoff",
    exitCode: 1,
  })

// Requests are already retried where they are sent (our HTTP helper, the SDKs); what is left to retry
// here is a stream that broke, stalled or crawled mid-way, which resumes where it stopped.
const transientCodes = new Set(["storage.failed", "storage.truncated"])

/**
 * Worth another attempt: a stream cut short, stalled or crawling (a body timeout, not a request that went unanswered
 * through all its retries), a raw socket error. Definitive answers are not.
 */
export const isTransient = (error: unknown): boolean => {
  if (error instanceof HttpTimeout) return true
  if (error instanceof ToolError) return transientCodes.has(error.code)
  return !isAbort(error)
}

/** An object that gave no size kept coming past the limit (the variable's, or the disk's free space). */
export const tooLarge = (uri: string, limit: number, configured: boolean, path: string): ToolError =>
  new ToolError(
    "http.too_large",
    configured
      ? `${redactUrl(uri)}: the answer is more than ${formatBytes(limit)}, the most a download may have`
      : `${redactUrl(uri)}: the answer gave no size and is more than the ${formatBytes(limit, true)} free where it lands (${path})`,
    {
      hint: configured
        ? `raise ${limitVariables.maxDownloadBytes} (bytes) if an object this large is expected`
        : `free disk space, or set ${limitVariables.maxDownloadBytes} (bytes) to the size you expect`,
      exitCode: 1,
    },
  )

export const truncated = (uri: string, got: number, expected: number): ToolError =>
  new ToolError("storage.truncated", `${redactUrl(uri)}: the connection ended after ${got} of ${expected} bytes`, { exitCode: 1 })

/** Low-level network failures as one reason string: "ECONNREFUSED", "timed out", … */
export const networkReason = (error: unknown): string => {
  const e = error as { code?: string; name?: string; message?: string; cause?: { code?: string } }
  if (e?.name === "TimeoutError") return "timed out"
  return e?.code ?? e?.cause?.code ?? e?.message ?? String(error)
}
