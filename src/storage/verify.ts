// Checks a download's checksum while it is written: a worker hashes the completed prefix as it grows, so
// verification overlaps the transfer; without a worker the file is hashed after it is complete.
import { closeSync, openSync } from "node:fs"
import type { HashReply, HashRequest } from "./hash-worker.ts"
import { hashFile, type Hasher } from "./checksum.ts"

export type Follower = {
  /** The first `frontier` bytes of the file are final. */
  advance(frontier: number): void
  /** The file is complete at `size` bytes: its digest. */
  finish(size: number): Promise<string>
  close(): void
}

// A worker costs a thread start; below this size hashing after the fact is cheaper.
const workerThreshold = 8 * 1024 * 1024
const step = 4 * 1024 * 1024

const afterwards = (path: string, hasher: Hasher, signal?: AbortSignal): Follower => ({
  advance() {},
  finish: () => hashFile(path, hasher, signal),
  close() {},
})

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

export const followHash = (path: string, hasher: Hasher, size: number | null, signal?: AbortSignal): Follower => {
  const worker = size !== null && size >= workerThreshold ? startWorker() : null
  if (worker === null) return afterwards(path, hasher, signal)
  let posted = 0
  let failed = false
  let settle: { resolve(value: string): void; reject(error: unknown): void } | null = null
  worker.onmessage = (event: MessageEvent<HashReply>) => {
    if (event.data.type === "digest") settle?.resolve(event.data.value)
    else settle?.reject(new Error(event.data.message))
  }
  // A worker that cannot load (a build without its entrypoint) must not fail the download: hash here instead.
  worker.onerror = () => {
    failed = true
    settle?.reject(new Error("hash worker failed"))
  }
  const send = (message: HashRequest) => worker.postMessage(message)
  const fd = openSync(path, "r")
  send({ type: "start", fd, algorithm: hasher.algorithm })
  return {
    advance(frontier) {
      if (failed || frontier - posted < step) return
      posted = frontier
      send({ type: "advance", frontier })
    },
    async finish(total) {
      if (failed) return hashFile(path, hasher, signal)
      try {
        return await new Promise<string>((resolve, reject) => {
          settle = { resolve, reject }
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true })
          send({ type: "finish", size: total })
        })
      } catch {
        return hashFile(path, hasher, signal)
      }
    },
    close() {
      worker.terminate()
      closeSync(fd)
    },
  }
}
