// A download in progress: `<dest>.part` written at offsets, and a `<dest>.part.json` sidecar recording what is done.
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync, writevSync } from "node:fs"
import type { ObjectInfo } from "./types.ts"

/** Done byte ranges as [start, end) pairs, sorted and merged. */
export type Spans = Array<[number, number]>

type Sidecar = { uri: string; version: string; size: number; done: Spans }

export type PartFile = {
  readonly path: string
  /** Bytes already on disk from an earlier attempt or run. */
  readonly done: Spans
  /** Writes chunks back to back from `position`: one system call for all that a stream had ready. */
  write(chunks: readonly Uint8Array[], position: number): void
  /** Persists the done ranges so a later attempt or run can resume; cheap enough to call every second. */
  save(): void
  /** Renames the finished file to its final name (atomic on one filesystem) and drops the sidecar. */
  commit(): void
  /** Throws the partial download away (a checksum mismatch, a changed object). */
  discard(): void
  close(): void
}

/** Adds [start, end) to merged spans. */
export const addSpan = (spans: Spans, start: number, end: number): Spans => {
  if (end <= start) return spans
  const merged: Spans = []
  let [s, e] = [start, end]
  let placed = false
  for (const [a, b] of spans) {
    if (b < s) merged.push([a, b])
    else if (a > e) {
      if (!placed) merged.push([s, e])
      placed = true
      merged.push([a, b])
    } else [s, e] = [Math.min(a, s), Math.max(b, e)]
  }
  if (!placed) merged.push([s, e])
  return merged
}

/** The ranges of [0, size) not yet covered by spans. */
export const missing = (spans: Spans, size: number): Spans => {
  const gaps: Spans = []
  let at = 0
  for (const [a, b] of spans) {
    if (a > at) gaps.push([at, Math.min(a, size)])
    at = Math.max(at, b)
  }
  if (at < size) gaps.push([at, size])
  return gaps.filter(([a, b]) => b > a)
}

export const coveredBytes = (spans: Spans): number => spans.reduce((sum, [a, b]) => sum + (b - a), 0)

const readSidecar = (path: string): Sidecar | null => {
  try {
    const data = JSON.parse(readFileSync(path, "utf8")) as Sidecar
    return Array.isArray(data.done) ? data : null
  } catch {
    return null
  }
}

/**
 * Opens `<dest>.part`, resuming it when its sidecar describes the same version and size of the object;
 * otherwise starts empty. Resuming needs a version and ranges; without them every attempt starts over.
 */
export const openPart = (dest: string, info: ObjectInfo): PartFile => {
  const path = `${dest}.part`
  const sidecarPath = `${dest}.part.json`
  const resumable = info.version !== null && info.size !== null && info.ranges
  const previous = resumable && existsSync(path) ? readSidecar(sidecarPath) : null
  const resume = previous !== null && previous.version === info.version && previous.size === info.size
  let done: Spans = resume ? previous.done : []
  const fd = openSync(path, resume ? "r+" : "w")
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    closeSync(fd)
  }
  const part: PartFile = {
    path,
    get done() {
      return done
    },
    write(chunks, position) {
      let length = 0
      for (const chunk of chunks) length += chunk.length
      let written = chunks.length > 1 ? writevSync(fd, chunks as Uint8Array[], position) : 0
      // A short write (rare on a file, or a single chunk) is finished chunk by chunk.
      for (let i = 0, start = 0; written < length; start += (chunks[i++] as Uint8Array).length) {
        const chunk = chunks[i] as Uint8Array
        while (written < start + chunk.length) written += writeSync(fd, chunk, written - start, start + chunk.length - written, position + written)
      }
      done = addSpan(done, position, position + length)
    },
    save() {
      if (!resumable) return
      const sidecar: Sidecar = { uri: info.uri, version: info.version as string, size: info.size as number, done }
      writeFileSync(sidecarPath, JSON.stringify(sidecar))
    },
    commit() {
      close()
      renameSync(path, dest)
      rmSync(sidecarPath, { force: true })
    },
    discard() {
      close()
      rmSync(path, { force: true })
      rmSync(sidecarPath, { force: true })
    },
    close,
  }
  return part
}
