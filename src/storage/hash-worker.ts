// Worker thread: hashes a file that is still being written, following the pieces streams have written, off the main thread.
// The build must list this file as an entrypoint (bun build --compile src/bin.ts src/storage/hash-worker.ts).
import type { ChecksumAlgorithm } from "./checksum.ts"
import { fileHasher, type FileHasher } from "./file-hash.ts"

declare const self: Worker

// The whole life of this thread is a hot loop: the normal JIT policy, not the binary's reluctant startup one.
Bun.unsafe.setJITPolicy(1)

export type HashRequest =
  // The main thread opens and closes the file: a worker that is terminated must not leak a descriptor.
  | { type: "start"; fd: number; algorithm: ChecksumAlgorithm }
  | { type: "advance"; start: number; upTo: number }
  | { type: "finish"; size: number }
export type HashReply = { type: "digest"; value: string } | { type: "error"; message: string }

let hasher: FileHasher | null = null

self.onmessage = (event: MessageEvent<HashRequest>) => {
  try {
    const message = event.data
    if (message.type === "start") hasher = fileHasher(message.fd, message.algorithm)
    else if (hasher === null) throw new Error("hash worker used before start")
    else if (message.type === "advance") hasher.advance(message.start, message.upTo)
    else self.postMessage({ type: "digest", value: hasher.digest(message.size) } satisfies HashReply)
  } catch (error) {
    self.postMessage({ type: "error", message: (error as Error).message } satisfies HashReply)
  }
}
