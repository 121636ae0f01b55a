// A loopback HTTP object server: ETags, byte ranges with If-Range, scripted failures and cut connections, byte counts.
import { md5 } from "./bytes.ts"
import { loopback, type Loopback } from "./loopback.ts"

export type ObjectServerOptions = {
  ranges?: boolean
  /** The first `count` requests are answered with `status` (and Retry-After when given). */
  fail?: { count: number; status: number; retryAfter?: string }
  /** The first `times` bodies stop after `afterBytes` bytes, the connection dropped mid-way. */
  cut?: { afterBytes: number; times: number }
  /** Bodies are sent in slices of this size with a pause between, to leave time to interrupt them. */
  slow?: { chunk: number; delayMs: number }
}

export type ObjectServer = Loopback & { bytesSent: number; put(path: string, bytes: Uint8Array): void }

const streamOf = (bytes: Uint8Array, stopAfter: number | null, slow: ObjectServerOptions["slow"], count: (n: number) => void) =>
  new ReadableStream<Uint8Array>({
    async start(controller) {
      const step = slow?.chunk ?? 256 * 1024
      for (let at = 0; at < bytes.length; at += step) {
        const end = Math.min(bytes.length, at + step, stopAfter ?? Infinity)
        if (end > at) {
          controller.enqueue(bytes.slice(at, end))
          count(end - at)
        }
        if (stopAfter !== null && end >= stopAfter) {
          // Let the bytes already queued reach the client before the connection drops.
          await Bun.sleep(100)
          return controller.close()
        }
        if (slow) await Bun.sleep(slow.delayMs)
      }
      controller.close()
    },
  })

export const objectServer = (objects: Record<string, Uint8Array>, options: ObjectServerOptions = {}): ObjectServer => {
  const store = new Map(Object.entries(objects))
  let failures = 0
  let cuts = 0
  const server = loopback((request, url) => {
    if (options.fail && failures < options.fail.count) {
      failures++
      const headers: Record<string, string> = options.fail.retryAfter ? { "retry-after": options.fail.retryAfter } : {}
      return new Response("try later", { status: options.fail.status, headers })
    }
    const bytes = store.get(url.pathname)
    if (!bytes) return new Response("no such object", { status: 404 })
    const etag = `"${md5(bytes)}"`
    const headers: Record<string, string> = { etag, "last-modified": new Date(0).toUTCString() }
    if (options.ranges !== false) headers["accept-ranges"] = "bytes"
    const range = request.headers.get("range")?.match(/^bytes=(\d+)-(\d*)$/)
    const ifRange = request.headers.get("if-range")
    let slice = bytes
    let status = 200
    if (range && options.ranges !== false && (ifRange === null || ifRange === etag)) {
      const start = Number(range[1])
      const end = range[2] ? Math.min(Number(range[2]) + 1, bytes.length) : bytes.length
      if (start >= bytes.length) return new Response(null, { status: 416, headers: { "content-range": `bytes */${bytes.length}` } })
      slice = bytes.subarray(start, end)
      status = 206
      headers["content-range"] = `bytes ${start}-${end - 1}/${bytes.length}`
    }
    headers["content-length"] = String(slice.length)
    if (request.method === "HEAD") return new Response(null, { status, headers })
    const cut = options.cut && cuts < options.cut.times && slice.length > options.cut.afterBytes ? options.cut.afterBytes : null
    if (cut !== null) cuts++
    return new Response(streamOf(slice, cut, options.slow, (n) => (result.bytesSent += n)), { status, headers })
  })
  const result: ObjectServer = Object.assign(server, {
    bytesSent: 0,
    put(path: string, bytes: Uint8Array) {
      store.set(path, bytes)
    },
  })
  return result
}
