// Which of the checksums a service publishes a download is checked against, and the hashers that compute them.
import { crc32, crc32c, crc64nvme, crcBase64 } from "./crc.ts"
import type { ObjectInfo } from "./types.ts"

export type ChecksumAlgorithm = "crc32" | "crc32c" | "crc64nvme" | "sha1" | "sha256" | "md5"

/** What a download was checked against: an algorithm, nothing, or (for a prefix) not the same for every object. */
export type ChecksumUsed = ChecksumAlgorithm | "none" | "mixed"

/** Checksums of a whole object as the service publishes them: MD5 as hex, the others as base64 of the big-endian digest. */
export type Checksums = Partial<Record<ChecksumAlgorithm, string>>

/**
 * Cheapest first, on one core under Bun: CRC-32 is native (~16 GB/s), CRC-32C is ours in TypeScript (~1.4 GB/s),
 * CRC-64/NVME ours in WebAssembly (~3 GB/s; the order is S3's, and S3 publishes only one), SHA-1/SHA-256 are native but slow without SHA instructions, MD5 (~0.6 GB/s)
 * comes last. A service publishes one of the first five at most (S3 keeps the algorithm of the upload), so the
 * real choice is between it and MD5. `scripts/bench/download.ts` measures the rates of the machine it runs on.
 */
export const preference: readonly ChecksumAlgorithm[] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256", "md5"]

export type Digest = { update(bytes: Uint8Array): void; digest(): string }

/** A running digest of `algorithm`, printed the way services publish it. */
export const digestOf = (algorithm: ChecksumAlgorithm): Digest => {
  if (algorithm === "crc32c" || algorithm === "crc32") {
    const step = algorithm === "crc32c" ? crc32c : crc32
    let crc = 0
    return { update: (bytes) => void (crc = step(bytes, crc)), digest: () => crcBase64(crc, 4) }
  }
  if (algorithm === "crc64nvme") {
    let crc = 0n
    return { update: (bytes) => void (crc = crc64nvme(bytes, crc)), digest: () => crcBase64(crc, 8) }
  }
  const hasher = new Bun.CryptoHasher(algorithm)
  return { update: (bytes) => void hasher.update(bytes), digest: () => (algorithm === "md5" ? hasher.digest("hex") : hasher.digest("base64")) }
}

export type Check = { algorithm: ChecksumAlgorithm; expected: string }

/** The cheapest checksum the service published for this object, or null when it published none. */
export const checkFor = (info: ObjectInfo): Check | null => {
  for (const algorithm of preference) {
    const expected = info.checksums?.[algorithm]
    if (expected) return { algorithm, expected: algorithm === "md5" ? expected.toLowerCase() : expected }
  }
  return null
}

/** base64 MD5 (GCS md5Hash, Content-MD5) → hex. */
export const base64ToHex = (value: string): string => Buffer.from(value, "base64").toString("hex")
