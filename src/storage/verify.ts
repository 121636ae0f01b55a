// Checks a download's checksum while it is written: each stream's piece of the part file is hashed as it grows
// (CRCs per piece, combined; MD5 and SHA in order), by a worker for large objects or on this thread for small ones.
import { closeSync, openSync } from "node:fs"
import type { HashReply, HashRequest } from "./hash-worker.ts"
import type { ChecksumAlgorithm } from "./checksum.ts"
import { fileHasher, isCrc } from "./file-hash.ts"

export type Follower = {
  /** Bytes [start, upTo) of the file are final; `start` is where the stream writing them began; `bytes` the last written. */
  advance(start: number, upTo: number, bytes?: Uint8Array): void
  /** The file is complete at `size` bytes: its digest. */
  finish(size: number): Promise<string>
  close(): void
}

// A worker costs a thread start; below this size hashing on this thread is cheaper.
const workerThreshold = 8 * 1024 * 1024
// Pieces are hashed in steps of this size: few messages (on this thread, few pauses in the transfer).
const step = 4 * 1024 * 1024

/** Remembers how far each piece got and passes it on in steps; `flush` passes on the rest. */
const stepper = (pass: (start: number, upTo: number) => void) => {
  const latest = new Map<number, { upTo: number; passed: number }>()
  return {
    advance(start: number, upTo: number) {
      const piece = latest.get(start) ?? { upTo: start, passed: start }
      latest.set(start, piece)
      piece.upTo = Math.max(piece.upTo, upTo)
      if (piece.upTo - piece.passed < step) return
      piece.passed = piece.upTo
      pass(start, piece.upTo)
    },
    flush() {
      for (const [start, piece] of latest) if (piece.upTo > piece.passed) pass(start, (piece.passed = piece.upTo))
    },
  }
}

/** Hashes on this thread as the pieces grow: a CRC each chunk as it is written (no read-back), MD5 and SHA in steps. */
const inline = (path: string, algorithm: ChecksumAlgorithm): Follower => {
  const fd = openSync(path, "r")
  const hasher = fileHasher(fd, algorithm)
  const pieces = stepper(hasher.advance)
  return {
    advance: isCrc(algorithm) ? hasher.advance : pieces.advance,
    async finish(size) {
      pieces.flush()
      return hasher.digest(size)
    },
    close: () => closeSync(fd),
  }
}

// Compiled with `bun build --compile src/bin.ts src/storage/hash-worker.ts`, modules live under one virtual root
// (the entrypoints' common folder, src/), so the worker's path is relative to that root, not to this file.
const workerUrl = (): string =>
  import.meta.url.startsWith("file:///$bunfs/") ? "/$bunfs/root/storage/hash-worker.ts" : new URL("./hash-worker.ts", import.meta.url).href

const startWorker = (): Worker | null => {
  try {
    return new Worker(workerUrl())
  } catch {
    return null
  }
}

export const followHash = (path: string, algorithm: ChecksumAlgorithm, size: number | null, signal?: AbortSignal): Follower => {
  // Native CRC-32 (~16 GB/s) costs this thread less than a worker's reading the bytes back would cost the machine.
  const worker = size !== null && size >= workerThreshold && algorithm !== "crc32" ? startWorker() : null
  if (worker === null) return inline(path, algorithm)
  // A worker that cannot load (a build without its entrypoint) or fails must not fail the download: this thread
  // takes over, hashing every piece again from its start (what the worker hashed is lost with it).
  const seen = new Map<number, number>()
  let fallback: Follower | null = null
  const takeOver = (): Follower => {
    if (fallback) return fallback
    fallback = inline(path, algorithm)
    for (const [start, upTo] of seen) fallback.advance(start, upTo)
    return fallback
  }
  let settle: { resolve(value: string): void; reject(error: unknown): void } | null = null
  worker.onmessage = (event: MessageEvent<HashReply>) => {
    if (event.data.type === "digest") settle?.resolve(event.data.value)
    else settle?.reject(new Error(event.data.message))
  }
  worker.onerror = () => {
    takeOver()
    settle?.reject(new Error("hash worker failed"))
  }
  const send = (message: HashRequest) => worker.postMessage(message)
  const pieces = stepper((start, upTo) => send({ type: "advance", start, upTo }))
  const fd = openSync(path, "r")
  send({ type: "start", fd, algorithm })
  return {
    advance(start, upTo, bytes) {
      seen.set(start, Math.max(seen.get(start) ?? start, upTo))
      if (fallback) return fallback.advance(start, upTo, bytes)
      pieces.advance(start, upTo)
    },
    async finish(total) {
      if (fallback) return fallback.finish(total)
      try {
        return await new Promise<string>((resolve, reject) => {
          settle = { resolve, reject }
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true })
          pieces.flush()
          send({ type: "finish", size: total })
        })
      } catch {
        signal?.throwIfAborted()
        return takeOver().finish(total)
      }
    },
    close() {
      worker.terminate()
      closeSync(fd)
      fallback?.close()
    },
  }
}
