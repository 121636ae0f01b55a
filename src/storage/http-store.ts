// http(s):// objects: stat by a one-byte ranged GET, reads pinned to one version with If-Range, PUT uploads.
import { ToolError } from "../errors.ts"
import { HttpUnreachable, errorText, request, type HttpOptions } from "../util/http.ts"
import { httpLimits } from "../util/http-limits.ts"
import { byteRange, parseContentRange } from "../util/http-range.ts"
import { base64ToHex } from "./checksum.ts"
import { changed, denied, failed, networkReason, notFound, unavailable, unreachable } from "./errors.ts"
import type { Adapter, AdapterContext, ObjectInfo } from "./types.ts"

// Raw bytes: a gzip-encoded response decoded on the fly would not match the size or the ranges.
const identity = { "accept-encoding": "identity" }

const statusError = async (uri: string, response: Response): Promise<ToolError> => {
  const detail = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`
  const body = (await errorText(response, 300)).trim()
  if (response.status === 404 || response.status === 410) return notFound(uri, detail)
  if (response.status === 401 || response.status === 403) {
    return denied(uri, detail, "the server refused the request: check the credentials in the URL or that a presigned URL has not expired")
  }
  if (response.status >= 500 || response.status === 429 || response.status === 408) return unavailable(uri, detail)
  return failed(uri, `${detail}${body ? `: ${body}` : ""}`)
}

const origin = (uri: string): string => {
  const url = new URL(uri)
  return `${url.protocol}//${url.host}`
}

/**
 * Sends a request; a server that cannot be reached becomes `storage.unreachable` naming this URI, one that takes the
 * request and never answers `http.timeout`. Bodies have no size limit here: the engine writes at most the object's
 * size, or for an object of unknown size its own download limit.
 */
const send = async (uri: string, init: HttpOptions, ctx: AdapterContext): Promise<Response> => {
  try {
    return await request(uri, { ...init, signal: ctx.signal, decompress: false, limits: httpLimits(ctx.env), maxBytes: null })
  } catch (error) {
    if (error instanceof HttpUnreachable && !error.timedOut) throw unreachable(uri, origin(uri), networkReason(error.cause))
    throw error
  }
}

const get = (uri: string, headers: Record<string, string>, ctx: AdapterContext) => send(uri, { headers: { ...identity, ...headers } }, ctx)

export const http: Adapter = {
  async stat(uri, ctx) {
    // A ranged GET rather than HEAD: presigned URLs are signed for GET only, and some servers mishandle HEAD.
    const response = await get(uri, { range: "bytes=0-0" }, ctx)
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel().catch(() => {})
      return null
    }
    const range = parseContentRange(response.headers.get("content-range"))
    const empty = response.status === 416 && /\*\/0$/.test(response.headers.get("content-range") ?? "")
    if (!response.ok && !empty) throw await statusError(uri, response)
    await response.body?.cancel().catch(() => {})
    const length = response.headers.get("content-length")
    const size = empty ? 0 : response.status === 206 ? (range?.total ?? null) : length !== null ? Number(length) : null
    const etag = response.headers.get("etag")
    const strong = etag !== null && !etag.startsWith("W/") ? etag : null
    const lastModified = response.headers.get("last-modified")
    const contentMd5 = response.status === 200 ? response.headers.get("content-md5") : null
    const info: ObjectInfo = {
      uri,
      size,
      version: strong ?? (lastModified !== null && size !== null ? `${lastModified} ${size}` : null),
      ranges: response.status === 206 || response.headers.get("accept-ranges") === "bytes",
      ...(strong ?? lastModified ? { pin: (strong ?? lastModified) as string } : {}),
      ...(contentMd5 ? { checksums: { md5: base64ToHex(contentMd5) } } : {}),
    }
    return info
  },
  async list() {
    // Plain HTTP has no listing; a folder URL cannot be downloaded.
    return []
  },
  async read(info, range, ctx) {
    const partial = info.ranges && (range.start > 0 || range.end !== null)
    const headers: Record<string, string> = {}
    if (partial) headers.range = byteRange(range.start, range.end)
    if (partial && info.pin) headers["if-range"] = info.pin
    const response = await get(info.uri, headers, ctx)
    if (response.status === 412) throw changed(info.uri)
    if (!response.ok) throw await statusError(info.uri, response)
    // If-Range answers a changed object with the whole new object (200) instead of the part.
    if (partial && response.status !== 206) {
      await response.body?.cancel().catch(() => {})
      throw changed(info.uri)
    }
    const served = parseContentRange(response.headers.get("content-range"))
    if (partial && served?.start !== range.start) {
      await response.body?.cancel().catch(() => {})
      throw failed(info.uri, `asked for ${byteRange(range.start, range.end)}, got ${response.headers.get("content-range")}`)
    }
    return response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() })
  },
  async upload(localPath, uri, ctx) {
    const response = await send(uri, { method: "PUT", body: Bun.file(localPath) }, ctx)
    if (!response.ok) throw await statusError(uri, response)
    await response.body?.cancel().catch(() => {})
  },
}
