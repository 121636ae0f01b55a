// Checksums the services publish: MD5 (native) and CRC32C (Castagnoli, slicing-by-8 in TypeScript).
import { open } from "node:fs/promises"
import type { ObjectInfo } from "./types.ts"

const tables = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256))
  const first = t[0] as Uint32Array
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    first[n] = c >>> 0
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const previous = (t[k - 1] as Uint32Array)[n] as number
      ;(t[k] as Uint32Array)[n] = (first[previous & 0xff] as number) ^ (previous >>> 8)
    }
  }
  return t as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array]
})()

/** Continues a CRC32C over `bytes`; start from 0. */
export const crc32c = (bytes: Uint8Array, crc = 0): number => {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables
  let c = ~crc >>> 0
  let i = 0
  const fast = bytes.length - (bytes.length % 8)
  // Indexing typed arrays with in-range values; the `as number` casts only satisfy noUncheckedIndexedAccess.
  for (; i < fast; i += 8) {
    const lo = (c ^ ((bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24))) >>> 0
    c =
      ((t7[lo & 0xff] as number) ^
        (t6[(lo >>> 8) & 0xff] as number) ^
        (t5[(lo >>> 16) & 0xff] as number) ^
        (t4[lo >>> 24] as number) ^
        (t3[bytes[i + 4] as number] as number) ^
        (t2[bytes[i + 5] as number] as number) ^
        (t1[bytes[i + 6] as number] as number) ^
        (t0[bytes[i + 7] as number] as number)) >>>
      0
  }
  for (; i < bytes.length; i++) c = ((t0[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8)) >>> 0
  return ~c >>> 0
}

/** GCS and S3 publish CRC32C as base64 of the 4 big-endian bytes. */
export const crc32cBase64 = (value: number): string => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, value >>> 0, false)
  return Buffer.from(bytes).toString("base64")
}

export type Hasher = { algorithm: "md5" | "crc32c"; expected: string; update(bytes: Uint8Array): void; digest(): string }

/** A hasher for the best checksum the service published (MD5 is native and faster), or null when none. */
export const hasherFor = (info: ObjectInfo): Hasher | null => {
  if (info.md5) {
    const md5 = new Bun.CryptoHasher("md5")
    return { algorithm: "md5", expected: info.md5.toLowerCase(), update: (bytes) => void md5.update(bytes), digest: () => md5.digest("hex") }
  }
  if (info.crc32c) {
    let crc = 0
    return { algorithm: "crc32c", expected: info.crc32c, update: (bytes) => void (crc = crc32c(bytes, crc)), digest: () => crc32cBase64(crc) }
  }
  return null
}

/** Feeds a whole file to a hasher in 4 MiB reads (constant memory, yielding between reads so signals are seen). */
export const hashFile = async (path: string, hasher: Hasher, signal?: AbortSignal): Promise<string> => {
  const file = await open(path, "r")
  const buffer = new Uint8Array(4 * 1024 * 1024)
  try {
    for (let position = 0; ; ) {
      signal?.throwIfAborted()
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position)
      if (bytesRead === 0) break
      hasher.update(buffer.subarray(0, bytesRead))
      position += bytesRead
    }
  } finally {
    await file.close()
  }
  return hasher.digest()
}

/** base64 MD5 (GCS md5Hash, Content-MD5) → hex. */
export const base64ToHex = (value: string): string => Buffer.from(value, "base64").toString("hex")
