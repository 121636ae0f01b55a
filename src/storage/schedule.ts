// Spreads an object's missing bytes over parallel ranged streams: fixed parts, or adaptively, adding streams while they help.
import { sleep } from "../util/http-retry.ts"
import type { Spans } from "./part-file.ts"

/** A range being fetched; `end` shrinks when its tail is handed to another stream. Infinity: unknown size. */
export type Span = { start: number; end: number; position: number }

export type ScheduleOptions = {
  /** Most streams at once. */
  concurrency: number
  /** Fixed mode: the part size. Adaptive mode: the smallest piece worth a stream of its own. */
  partSize: number
  /**
   * Adaptive: start with one stream and double the count while that raises the throughput measured over
   * `probeMs`, splitting the largest remaining range. One stream saturates a LAN or loopback server
   * (and more only cost memory); several are what it takes to fill a long-distance link to S3 or GCS.
   */
  adaptive: boolean
  probeMs: number
  signal?: AbortSignal
}

/** Fixed-size parts of the missing spans, for the non-adaptive mode. */
export const splitSpans = (spans: Spans, size: number): Spans =>
  !Number.isFinite(size) ? spans : spans.flatMap(([a, b]) => Array.from({ length: Math.ceil((b - a) / size) }, (_, i): [number, number] => [a + i * size, Math.min(b, a + (i + 1) * size)]))

/**
 * Runs `fetch` over the spans; the first failure stops the other streams and is rethrown.
 * `received` reports the bytes fetched so far, for the adaptive probe.
 */
export const runSpans = async (
  spans: Spans,
  options: ScheduleOptions,
  fetch: (span: Span, signal: AbortSignal) => Promise<void>,
  received: () => number,
): Promise<void> => {
  const pieces = options.adaptive ? spans : splitSpans(spans, options.partSize)
  const queue: Span[] = pieces.map(([start, end]) => ({ start, end, position: start }))
  const running = new Set<Span>()
  const stop = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal
  let failure: { error: unknown } | null = null
  let limit = options.adaptive ? 1 : options.concurrency
  let active = 0
  const streams: Array<Promise<void>> = []

  // Hands out the next queued span, or in adaptive mode the second half of the largest one still running.
  const next = (): Span | null => {
    const queued = queue.shift()
    if (queued || !options.adaptive) return queued ?? null
    let largest: Span | null = null
    for (const span of running) if (!largest || span.end - span.position > largest.end - largest.position) largest = span
    if (!largest || !Number.isFinite(largest.end) || largest.end - largest.position < 2 * options.partSize) return null
    const middle = largest.position + Math.floor((largest.end - largest.position) / 2)
    const tail = { start: middle, end: largest.end, position: middle }
    largest.end = middle
    return tail
  }

  const stream = async (first: Span) => {
    for (let span: Span | null = first; span !== null && failure === null; span = next()) {
      running.add(span)
      try {
        await fetch(span, signal)
      } catch (error) {
        failure ??= { error }
        stop.abort(error)
      } finally {
        running.delete(span)
      }
    }
    active--
  }

  const launch = () => {
    while (active < limit && failure === null) {
      const span = next()
      if (!span) return
      active++
      streams.push(stream(span))
    }
  }

  launch()
  if (options.adaptive && limit < options.concurrency) void probe()
  // Streams may be added while we wait (the probe, or a stream splitting work): wait until none is left.
  for (let awaited = 0; awaited < streams.length; ) {
    const batch = streams.slice(awaited)
    awaited = streams.length
    await Promise.all(batch)
  }
  stop.abort()
  if (failure !== null) throw (failure as { error: unknown }).error

  async function probe() {
    try {
      // The first interval warms the connection up; rates are compared from the second on.
      await sleep(options.probeMs, signal)
      let previous = 0
      while (active > 0 && limit < options.concurrency && failure === null) {
        const before = received()
        await sleep(options.probeMs, signal)
        const rate = received() - before
        if (previous > 0 && rate < previous * 1.2) return
        previous = rate
        limit = Math.min(options.concurrency, limit * 2)
        launch()
      }
    } catch {
      // Aborted: the streams report why.
    }
  }
}

/** Runs `work` over items, at most `width` at once; the first failure stops the others and is rethrown. */
export const pool = async <T>(items: T[], width: number, work: (item: T, signal: AbortSignal) => Promise<void>, outer?: AbortSignal): Promise<void> => {
  const stop = new AbortController()
  const signal = outer ? AbortSignal.any([outer, stop.signal]) : stop.signal
  let next = 0
  let failure: { error: unknown } | null = null
  const worker = async () => {
    while (next < items.length && failure === null) {
      const item = items[next++] as T
      try {
        await work(item, signal)
      } catch (error) {
        failure ??= { error }
        stop.abort(error)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker))
  if (failure !== null) throw (failure as { error: unknown }).error
}
