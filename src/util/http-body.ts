// Watches an answer's body as it is read: silence, a trickle or too many bytes end it with an error naming the limit.
import { ToolError } from "../errors.ts"
import { formatBytes, formatSeconds, limitVariables } from "./http-limits.ts"

export type BodyRules = {
  /** No byte for this long while the reader waits; null: wait as long as it takes (a container's output). */
  idleMs: number | null
  /** Fewer than `bytes` per second over `windowMs` of waiting; null: no check. */
  lowSpeed: { bytes: number; windowMs: number } | null
  /** More than this many bytes in all; `variable` is what raises it. */
  maxBytes: { bytes: number; variable: string } | null
}

/** The body stopped arriving or crawls: the attempt is lost, and may be made again. */
export class HttpTimeout extends ToolError {
  readonly reason: string
  constructor(what: string, reason: string, hint: string) {
    super("http.timeout", `${what}: ${reason}`, { hint, exitCode: 1 })
    this.reason = reason
  }
}

export class HttpTooLarge extends ToolError {
  readonly reason: string
  readonly limit: number
  constructor(what: string, limit: number, variable: string, declared?: number) {
    const reason = `the answer is ${declared === undefined ? `more than ${formatBytes(limit)}` : `${formatBytes(declared)}, more than the ${formatBytes(limit)} allowed`}`
    super("http.too_large", `${what}: ${reason}`, { hint: `raise ${variable} (bytes) if an answer this large is expected`, exitCode: 1 })
    this.reason = reason
    this.limit = limit
  }
}

export const idleError = (what: string, idleMs: number): HttpTimeout =>
  new HttpTimeout(what, `no data for ${formatSeconds(idleMs)} while reading the answer`, `the server stopped sending; raise ${limitVariables.idleTimeoutMs} (seconds) to wait longer`)

export const slowError = (what: string, rules: NonNullable<BodyRules["lowSpeed"]>, rate: number): HttpTimeout =>
  new HttpTimeout(
    what,
    `the answer arrives at ${rate.toFixed(1)} bytes/s, less than ${rules.bytes} bytes/s for ${formatSeconds(rules.windowMs)}`,
    `the link or the server is too slow; lower ${limitVariables.lowSpeedBytes} (bytes/s, 0 turns the check off) or raise ${limitVariables.lowSpeedTimeMs} (seconds)`,
  )

/**
 * The low-speed rule, fed each chunk with the time spent waiting for it: once `windowMs` of waiting has passed, the
 * bytes that came in that time must reach `bytes` per second. Returns the rate when they did not, else null.
 */
export const speedMeter = (rules: NonNullable<BodyRules["lowSpeed"]>) => {
  let waitedMs = 0
  let windowBytes = 0
  return (bytes: number, waited: number): number | null => {
    waitedMs += waited
    windowBytes += bytes
    if (waitedMs < rules.windowMs) return null
    const rate = (windowBytes * 1000) / waitedMs
    waitedMs = 0
    windowBytes = 0
    return rate < rules.bytes ? rate : null
  }
}

// Statuses whose answers may not carry a body (Response refuses one).
const bodiless = new Set([101, 103, 204, 205, 304])

/**
 * The same answer with its body watched. Only time spent waiting for the network counts: a reader that is slow
 * itself (writing to a busy disk) is never taken for a slow server. A declared Content-Length over the limit
 * fails before a byte is read.
 */
export const guardResponse = (response: Response, rules: BodyRules, what: string): Response => {
  if (!response.body || bodiless.has(response.status)) return response
  if (rules.idleMs === null && rules.lowSpeed === null && rules.maxBytes === null) return response
  const declared = Number(response.headers.get("content-length") ?? NaN)
  if (rules.maxBytes && Number.isFinite(declared) && declared > rules.maxBytes.bytes) {
    void response.body.cancel().catch(() => {})
    throw new HttpTooLarge(what, rules.maxBytes.bytes, rules.maxBytes.variable, declared)
  }
  return new Response(guardBody(response.body, rules, what), { status: response.status, statusText: response.statusText, headers: response.headers })
}

export const guardBody = (body: ReadableStream<Uint8Array>, rules: BodyRules, what: string): ReadableStream<Uint8Array> => {
  const reader = body.getReader()
  let total = 0
  const slow = rules.lowSpeed ? speedMeter(rules.lowSpeed) : null
  let pending: ((error: unknown) => void) | null = null
  let cancelled = false
  // One timer, re-armed at each read: a timer per chunk would cost more than the chunk at disk speed.
  const timer =
    rules.idleMs === null
      ? null
      : setTimeout(() => pending?.(idleError(what, rules.idleMs as number)), rules.idleMs)
  timer?.unref()
  const stop = () => timer && clearTimeout(timer)

  const check = (chunk: Uint8Array, waited: number): ToolError | null => {
    total += chunk.length
    if (rules.maxBytes && total > rules.maxBytes.bytes) return new HttpTooLarge(what, rules.maxBytes.bytes, rules.maxBytes.variable)
    const rate = slow?.(chunk.length, waited) ?? null
    return rate !== null && rules.lowSpeed ? slowError(what, rules.lowSpeed, rate) : null
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const started = performance.now()
        timer?.refresh()
        let next: Awaited<ReturnType<typeof reader.read>>
        try {
          next = await new Promise<typeof next>((resolve, reject) => {
            pending = reject
            reader.read().then(resolve, reject)
          })
        } catch (error) {
          stop()
          void reader.cancel(error).catch(() => {})
          return cancelled ? undefined : controller.error(error)
        } finally {
          pending = null
        }
        // The reader gave up while we waited (an error page read in part): there is no one left to hand this to.
        if (cancelled) return
        if (next.done) {
          stop()
          return controller.close()
        }
        const failure = check(next.value, performance.now() - started)
        if (failure) {
          stop()
          void reader.cancel(failure).catch(() => {})
          return controller.error(failure)
        }
        controller.enqueue(next.value)
      },
      cancel(reason) {
        cancelled = true
        stop()
        return reader.cancel(reason)
      },
    },
    // Nothing is read ahead: the clock runs only while someone waits for the next chunk.
    { highWaterMark: 0 },
  )
}
