// Deterministic test data of any size, made quickly and in constant memory, with its SHA-256.
import { closeSync, openSync, writeSync } from "node:fs"

/** `size` pseudo-random bytes from `seed` (xorshift32): different seeds give different content. */
export const pseudoRandom = (size: number, seed = 1): Uint8Array => {
  const words = new Uint32Array(Math.ceil(size / 4))
  let x = seed >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
  return new Uint8Array(words.buffer, 0, size)
}

export const sha256 = (bytes: Uint8Array): string => new Bun.CryptoHasher("sha256").update(bytes).digest("hex")
export const md5 = (bytes: Uint8Array): string => new Bun.CryptoHasher("md5").update(bytes).digest("hex")

/**
 * Writes `size` bytes to `path` in 8 MiB blocks (each block a different seed) and returns their SHA-256 and
 * MD5, so a 1 GiB file costs 8 MiB of memory; `onBlock` sees each block (to compute other checksums).
 */
export const writeLargeFile = (path: string, size: number, seed = 7, onBlock?: (bytes: Uint8Array) => void): { sha256: string; md5: string } => {
  const block = 8 * 1024 * 1024
  const shaHasher = new Bun.CryptoHasher("sha256")
  const md5Hasher = new Bun.CryptoHasher("md5")
  const fd = openSync(path, "w")
  try {
    for (let offset = 0, n = 0; offset < size; offset += block, n++) {
      const bytes = pseudoRandom(Math.min(block, size - offset), seed * 1_000_003 + n)
      shaHasher.update(bytes)
      md5Hasher.update(bytes)
      onBlock?.(bytes)
      for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written)
    }
  } finally {
    closeSync(fd)
  }
  return { sha256: shaHasher.digest("hex"), md5: md5Hasher.digest("hex") }
}

/** SHA-256 of a file, streamed. */
export const sha256File = async (path: string): Promise<string> => {
  const hasher = new Bun.CryptoHasher("sha256")
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk)
  return hasher.digest("hex")
}
