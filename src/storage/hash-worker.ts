// Worker thread: hashes a file that is still being written, following its completed prefix, off the main thread.
// The build must list this file as an entrypoint (bun build --compile src/bin.ts src/storage/hash-worker.ts).
import { readSync } from "node:fs"
import { crc32c, crc32cBase64 } from "./checksum.ts"

declare const self: Worker

export type HashRequest =
  // The main thread opens and closes the file: a worker that is terminated must not leak a descriptor.
  | { type: "start"; fd: number; algorithm: "md5" | "crc32c" }
  | { type: "advance"; frontier: number }
  | { type: "finish"; size: number }
export type HashReply = { type: "digest"; value: string } | { type: "error"; message: string }

let fd = -1
let algorithm: "md5" | "crc32c" = "md5"
let md5 = new Bun.CryptoHasher("md5")
let crc = 0
let hashed = 0
let target = 0
let finalSize: number | null = null
const buffer = new Uint8Array(4 * 1024 * 1024)

const catchUp = () => {
  while (hashed < target) {
    const read = readSync(fd, buffer, 0, Math.min(buffer.length, target - hashed), hashed)
    if (read === 0) break
    const bytes = buffer.subarray(0, read)
    if (algorithm === "md5") md5.update(bytes)
    else crc = crc32c(bytes, crc)
    hashed += read
  }
  if (finalSize !== null && hashed >= finalSize) {
    const value = algorithm === "md5" ? md5.digest("hex") : crc32cBase64(crc)
    self.postMessage({ type: "digest", value } satisfies HashReply)
  }
}

self.onmessage = (event: MessageEvent<HashRequest>) => {
  try {
    const message = event.data
    if (message.type === "start") {
      fd = message.fd
      algorithm = message.algorithm
      md5 = new Bun.CryptoHasher("md5")
      crc = 0
      hashed = 0
      target = 0
      finalSize = null
      return
    }
    if (message.type === "advance") target = Math.max(target, message.frontier)
    if (message.type === "finish") target = finalSize = message.size
    catchUp()
  } catch (error) {
    self.postMessage({ type: "error", message: (error as Error).message } satisfies HashReply)
  }
}
