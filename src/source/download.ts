// Streams an http(s) download to a file with its sha256: credentials as a header, redirects and retries handled, errors scrubbed.
import { createWriteStream } from "node:fs"
import { ToolError } from "../errors.ts"
import type { Reporter } from "./progress.ts"
import { secretsOf, scrub, splitCredentials } from "../util/redact.ts"

export type Downloaded = { bytes: number; sha256: string }

export type DownloadOptions = {
  /** How the download is named in messages (never the URL itself when it may carry a signed token). */
  name: string
  report: Reporter
  signal?: AbortSignal
  headers?: Record<string, string>
  secrets?: string[]
}

const attempts = 3
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

/** One request with manual redirects: an Authorization header never follows a redirect to another origin. */
const request = async (url: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> => {
  let current = url
  let sent = { ...headers }
  for (let hop = 0; hop < 10; hop++) {
    const response = await fetch(current, { headers: sent, redirect: "manual", signal })
    const location = response.headers.get("location")
    if (response.status < 300 || response.status >= 400 || !location) return response
    await response.body?.cancel()
    const next = new URL(location, current)
    if (next.origin !== new URL(current).origin) sent = Object.fromEntries(Object.entries(sent).filter(([k]) => k.toLowerCase() !== "authorization"))
    current = next.href
  }
  throw new Error("too many redirects")
}

const retryable = (status: number) => status === 429 || status >= 500

/** Downloads `rawUrl` into `file` (created or truncated), hashing as it streams. */
export const download = async (rawUrl: string, file: string, options: DownloadOptions): Promise<Downloaded> => {
  const { url, credentials } = splitCredentials(rawUrl)
  const secrets = [...(options.secrets ?? []), ...secretsOf(credentials)]
  const headers: Record<string, string> = { "user-agent": "mlproject", ...options.headers }
  if (credentials) headers.authorization = `Basic ${Buffer.from(`${credentials.user}:${credentials.password ?? ""}`).toString("base64")}`
  for (let attempt = 1; ; attempt++) {
    const controller = new AbortController()
    const abort = () => controller.abort()
    options.signal?.addEventListener("abort", abort, { once: true })
    let timer = setTimeout(abort, headersTimeoutMs)
    let out: ReturnType<typeof createWriteStream> | null = null
    try {
      options.report.progress("connecting")
      const response = await request(url, headers, controller.signal)
      if (!response.ok) {
        await response.body?.cancel()
        if (retryable(response.status) && attempt < attempts) {
          const after = Number(response.headers.get("retry-after"))
          await Bun.sleep(Number.isFinite(after) && after > 0 ? Math.min(after, 30) * 1000 : 500 * 2 ** attempt)
          continue
        }
        throw statusError(response.status, options.name)
      }
      const total = Number(response.headers.get("content-length")) || null
      const hash = new Bun.CryptoHasher("sha256")
      const sink = createWriteStream(file)
      out = sink
      let bytes = 0
      for await (const chunk of response.body ?? []) {
        clearTimeout(timer)
        timer = setTimeout(abort, idleTimeoutMs)
        hash.update(chunk)
        bytes += chunk.length
        if (!sink.write(chunk)) await new Promise((resolve) => sink.once("drain", resolve))
        options.report.progress("downloading", bytes, total)
      }
      await new Promise<void>((resolve, reject) => sink.end((error?: Error | null) => (error ? reject(error) : resolve())))
      out = null
      return { bytes, sha256: hash.digest("hex") }
    } catch (error) {
      out?.destroy()
      if (error instanceof ToolError) throw error
      if (options.signal?.aborted) throw new ToolError("source.interrupted", `interrupted while downloading ${options.name}`, { exitCode: 130 })
      if (attempt < attempts) {
        await Bun.sleep(500 * 2 ** attempt)
        continue
      }
      // Fetch errors can quote the URL, whose query may hold a signed token: name it instead.
      const reason = controller.signal.aborted ? "timed out" : scrub((error as Error).message, secrets).replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, options.name)
      throw new ToolError("source.archive.download", `Unable to retrieve ${options.name}: ${reason}`, {
        exitCode: 1,
        hint: "check the URL, your network and proxy settings, then run again",
      })
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener("abort", abort)
    }
  }
}
