// Downloads one object to a path: parallel ranged parts, retries that resume, checksum check, atomic rename.
import { ToolError } from "../errors.ts"
import { statfsSync } from "node:fs"
import { dirname } from "node:path"
import { idleError, slowError, speedMeter } from "../util/http-body.ts"
import { defaultRetry, sleep } from "../util/http-retry.ts"
import { checkFor, type ChecksumUsed } from "./checksum.ts"
import { checksumMismatch, interrupted, isTransient, tooLarge, truncated } from "./errors.ts"
import { redactUrl } from "../util/redact.ts"
import { coveredBytes, missing, openPart, type PartFile, type Spans } from "./part-file.ts"
import { runSpans, type Span } from "./schedule.ts"
import { followHash, type Follower } from "./verify.ts"
import type { Adapter, AdapterContext, ObjectInfo, Tuning } from "./types.ts"

export type TransferOptions = {
  ctx: AdapterContext
  tuning: Tuning
  verify: boolean
  /** Bytes that arrived over the network (negative when a non-resumable download starts over). */
  onBytes(bytes: number): void
  /** Bytes found on disk from an interrupted earlier attempt, reported once before any fetching. */
  onResumed(bytes: number): void
}

/** `checksum`: what the bytes were checked against ("none" when not verified). */
export type Transferred = { bytes: number; fetched: number; checksum: ChecksumUsed }

type Job = {
  adapter: Adapter
  info: ObjectInfo
  part: PartFile
  options: TransferOptions
  follower: Follower | null
  save: () => void
  /** The most bytes an object of unknown size may have here. */
  cap: { bytes: number; configured: boolean } | null
}

/** A non-resumable stream broke mid-way: the whole object starts over. */
class Restart extends Error {}

/** An object of unknown size (no length given) is bounded by the variable, else by the free space where it lands. */
const capFor = (path: string, tuning: Tuning): Job["cap"] => {
  if (tuning.maxUnknownBytes !== null) return { bytes: tuning.maxUnknownBytes, configured: true }
  try {
    const fs = statfsSync(dirname(path))
    return { bytes: fs.bavail * fs.bsize, configured: false }
  } catch {
    return null
  }
}

type ManyReader = { readMany(): Promise<{ done: boolean; value: Uint8Array[] }>; cancel(): Promise<void> }

/**
 * A stream's chunks in batches: all that have arrived by the time we ask, where the stream can give them at once
 * (Bun's ReadableStream `readMany`), else one by one. A batch is one write and one round of bookkeeping, and
 * one promise less per chunk: at loopback speed that is what the loop spends its time on.
 */
async function* batches(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array[]> {
  const readable = stream as { getReader?: () => Partial<ManyReader> & { releaseLock(): void } }
  const reader = typeof readable.getReader === "function" ? readable.getReader() : null
  if (reader && typeof reader.readMany !== "function") reader.releaseLock()
  if (!reader || typeof reader.readMany !== "function") {
    for await (const chunk of stream) yield [chunk]
    return
  }
  const many = reader as ManyReader
  try {
    for (;;) {
      const { done, value } = await many.readMany()
      if (done) return
      if (value.length > 0) yield value
    }
  } finally {
    // As a `for await` that stops early does: the rest of the answer is not wanted.
    await many.cancel().catch(() => {})
  }
}

/** The first `bytes` bytes of a batch. */
const upTo = (batch: Uint8Array[], bytes: number): Uint8Array[] => {
  const kept: Uint8Array[] = []
  for (let i = 0, left = bytes; left > 0 && i < batch.length; i++) {
    const chunk = batch[i] as Uint8Array
    kept.push(chunk.length > left ? chunk.subarray(0, left) : chunk)
    left -= chunk.length
  }
  return kept
}

/** Streams a span into the part file; a transient failure (a break, a stall, a crawl) resumes at the last byte written. */
const fetchSpan = async (job: Job, span: Span, signal: AbortSignal): Promise<void> => {
  const { info, part, options } = job
  const { tuning, ctx } = options
  for (let attempt = 0; ; attempt++) {
    const idle = new AbortController()
    const timer = setTimeout(() => idle.abort(new DOMException("no data", "TimeoutError")), tuning.idleTimeoutMs)
    const slow = tuning.lowSpeed ? speedMeter(tuning.lowSpeed) : null
    try {
      const range = { start: span.position, end: Number.isFinite(span.end) ? span.end : null }
      const stream = await job.adapter.read(info, range, { env: ctx.env, signal: AbortSignal.any([signal, idle.signal]) })
      // Only the time spent waiting for the network counts towards the low-speed rule, not our own disk writes.
      let waitStart = performance.now()
      for await (const batch of batches(stream)) {
        timer.refresh()
        let length = 0
        for (const chunk of batch) length += chunk.length
        const rate = slow?.(length, performance.now() - waitStart) ?? null
        if (rate !== null && tuning.lowSpeed) throw slowError(redactUrl(info.uri), tuning.lowSpeed, rate)
        if (job.cap && !Number.isFinite(span.end) && span.position + length > job.cap.bytes) throw tooLarge(info.uri, job.cap.bytes, job.cap.configured, part.path)
        // The span's end may have moved back (its tail went to another stream): keep only what is ours.
        const kept = length > span.end - span.position ? upTo(batch, span.end - span.position) : batch
        part.write(kept, span.position)
        const from = span.position
        for (const chunk of kept) {
          span.position += chunk.length
          job.follower?.advance(span.start, span.position, chunk)
        }
        options.onBytes(span.position - from)
        job.save()
        if (span.position >= span.end) break
        waitStart = performance.now()
      }
      if (Number.isFinite(span.end) && span.position < span.end) throw truncated(info.uri, span.position - span.start, span.end - span.start)
      // A finished span is worth recording at once: a killed process loses at most the spans in flight.
      part.save()
      return
    } catch (caught) {
      if (ctx.signal?.aborted) throw interrupted(info.uri)
      const error = idle.signal.aborted ? idleError(redactUrl(info.uri), tuning.idleTimeoutMs) : caught
      // Stopped because another stream failed: that failure is the one to report.
      if (signal.aborted && !idle.signal.aborted) throw error
      if (!isTransient(error) || attempt >= tuning.retries) throw error
      part.save()
      if (!info.ranges && span.position > span.start) throw new Restart(undefined, { cause: error })
      await sleep(defaultRetry.backoffMs(attempt + 1), signal)
    } finally {
      clearTimeout(timer)
    }
  }
}

const throttle = (fn: () => void, ms: number) => {
  let last = performance.now()
  return () => {
    const now = performance.now()
    if (now - last < ms) return
    last = now
    fn()
  }
}

/** One pass: resume what is on disk, fetch the rest (hashing as it lands), verify, rename. */
const transferOnce = async (adapter: Adapter, info: ObjectInfo, dest: string, options: TransferOptions): Promise<Transferred> => {
  const { tuning } = options
  const part = openPart(dest, info)
  const check = options.verify ? checkFor(info) : null
  const follower = check ? followHash(part.path, check.algorithm, info.size, options.ctx.signal) : null
  let finished = false
  try {
    const already = coveredBytes(part.done)
    if (already > 0) options.onResumed(already)
    const cap = info.size === null ? capFor(part.path, tuning) : null
    const job: Job = { adapter, info, part, options, follower, save: throttle(part.save, 500), cap }
    // What an earlier attempt left on disk is hashed (by the worker, while the rest downloads) as pieces of its own.
    for (const [start, end] of part.done) follower?.advance(start, end)
    let fetched = 0
    const counting = (span: Span, signal: AbortSignal) => {
      const from = span.position
      return fetchSpan(job, span, signal).finally(() => (fetched += span.position - from))
    }
    const spans: Spans = info.size === null ? [[0, Infinity]] : missing(part.done, info.size)
    const parallel = info.ranges && info.size !== null && info.size >= tuning.parallelThreshold
    const schedule = { concurrency: parallel ? tuning.concurrency : 1, partSize: parallel ? tuning.partSize : Infinity, adaptive: tuning.adaptive, probeMs: tuning.probeMs, signal: options.ctx.signal }
    await runSpans(spans, schedule, counting, () => coveredBytes(part.done) - already)
    const bytes = info.size ?? coveredBytes(part.done)
    if (check !== null && follower !== null) {
      const actual = await follower.finish(bytes)
      if (actual !== check.expected) {
        part.discard()
        finished = true
        throw checksumMismatch(info.uri, check.algorithm, check.expected, actual)
      }
    }
    part.commit()
    finished = true
    return { bytes, fetched, checksum: check?.algorithm ?? "none" }
  } catch (error) {
    if (options.ctx.signal?.aborted && !(error instanceof ToolError && error.code === "interrupted")) throw interrupted(info.uri)
    // Bytes of a version that no longer exists, or of an answer that never ends, are worth nothing: drop them.
    if (error instanceof ToolError && (error.code === "storage.changed" || error.code === "http.too_large")) {
      part.discard()
      finished = true
    }
    throw error
  } finally {
    follower?.close()
    if (!finished) {
      part.save()
      part.close()
    }
  }
}

/**
 * Downloads `info` to `dest`. The partial file lives at `<dest>.part` until it is complete and verified, so
 * `dest` never holds a partial object. A checksum mismatch starts over once; a non-resumable stream that
 * breaks starts over up to `tuning.retries` times.
 */
export const transfer = async (adapter: Adapter, info: ObjectInfo, dest: string, options: TransferOptions): Promise<Transferred> => {
  let fetched = 0
  for (let round = 0; ; round++) {
    let counted = 0
    const counting: TransferOptions = {
      ...options,
      onBytes: (n) => ((fetched += n), (counted += n), options.onBytes(n)),
      onResumed: (n) => ((counted += n), options.onResumed(n)),
    }
    try {
      const result = await transferOnce(adapter, info, dest, counting)
      return { ...result, fetched }
    } catch (error) {
      const again = error instanceof Restart ? round < options.tuning.retries : error instanceof ToolError && error.code === "storage.checksum" && round === 0
      if (!again) throw error instanceof Restart ? error.cause : error
      options.onBytes(-counted)
      openPart(dest, info).discard()
    }
  }
}
