// Hashing a part file while it is written, reading back what has landed: in pieces for CRCs (combined at the end),
// in order for MD5 and SHA. Runs in the hash worker, or on the main thread for small objects.
import { readSync } from "node:fs"
import { digestOf, type ChecksumAlgorithm } from "./checksum.ts"
import { crc32, crc32Combine, crc32c, crc32cCombine, crc64nvme, crc64nvmeCombine, crc64nvmeScratch, crcBase64 } from "./crc.ts"

export type FileHasher = {
  /**
   * Bytes [start, upTo) are final: `start` is where a stream began writing, which it does in order. `bytes`, when
   * given, are the last ones written (ending at `upTo`): a CRC takes them as they are instead of reading them back.
   */
  advance(start: number, upTo: number, bytes?: Uint8Array): void
  /** Every piece is final and together they make [0, size): the digest as the service prints it. */
  digest(size: number): string
}

let ownBuffer: Uint8Array | null = null

/** Where reads land: for CRC-64/NVME its WebAssembly data area, hashed in place (no copy); else a buffer of our own. */
const bufferFor = (algorithm: ChecksumAlgorithm): Uint8Array =>
  (algorithm === "crc64nvme" ? crc64nvmeScratch() : null) ?? (ownBuffer ??= new Uint8Array(4 * 1024 * 1024))

/** Feeds [from, to) of the file to `update` in buffer-sized reads. */
const readRange = (fd: number, buffer: Uint8Array, from: number, to: number, update: (bytes: Uint8Array) => void) => {
  for (let at = from; at < to; ) {
    const read = readSync(fd, buffer, 0, Math.min(buffer.length, to - at), at)
    if (read === 0) throw new Error(`the file ends at ${at} bytes, before ${to}`)
    update(buffer.subarray(0, read))
    at += read
  }
}

type Crc<T> = { zero: T; step: (bytes: Uint8Array, crc: T) => T; combine: (a: T, b: T, bLength: number) => T; print: (crc: T) => string }

const crcs = {
  crc32c: { zero: 0, step: crc32c, combine: crc32cCombine, print: (c: number) => crcBase64(c, 4) } satisfies Crc<number>,
  crc32: { zero: 0, step: crc32, combine: crc32Combine, print: (c: number) => crcBase64(c, 4) } satisfies Crc<number>,
  crc64nvme: { zero: 0n, step: crc64nvme, combine: crc64nvmeCombine, print: (c: bigint) => crcBase64(c, 8) } satisfies Crc<bigint>,
}

/**
 * One running CRC per stream's piece, so parallel parts are hashed as they land, not when the parts before
 * them are done; the pieces must tile the object exactly, else the digest is refused.
 */
const pieces = <T>(fd: number, crc: Crc<T>, buffer: Uint8Array): FileHasher => {
  const byStart = new Map<number, { end: number; value: T }>()
  return {
    advance(start, upTo, bytes) {
      const piece = byStart.get(start) ?? { end: start, value: crc.zero }
      byStart.set(start, piece)
      if (bytes && piece.end === upTo - bytes.length) piece.value = crc.step(bytes, piece.value)
      else readRange(fd, buffer, piece.end, upTo, (read) => void (piece.value = crc.step(read, piece.value)))
      piece.end = Math.max(piece.end, upTo)
    },
    digest(size) {
      let at = 0
      let value = crc.zero
      for (const [start, piece] of [...byStart].sort((a, b) => a[0] - b[0])) {
        if (piece.end === start) continue
        if (start !== at) throw new Error(`hashed pieces do not tile the file: a gap or overlap at byte ${at}`)
        value = crc.combine(value, piece.value, piece.end - start)
        at = piece.end
      }
      if (at !== size) throw new Error(`hashed ${at} bytes of ${size}`)
      return crc.print(value)
    },
  }
}

/** MD5 and SHA cannot be combined: the completed prefix (the piece at 0, and each that joins it) is hashed in order. */
const ordered = (fd: number, algorithm: ChecksumAlgorithm, buffer: Uint8Array): FileHasher => {
  const digest = digestOf(algorithm)
  const reached = new Map<number, number>()
  let hashed = 0
  const catchUp = () => {
    for (let end = reached.get(hashed); end !== undefined && end > hashed; end = reached.get(hashed)) {
      readRange(fd, buffer, hashed, end, (bytes) => digest.update(bytes))
      reached.delete(hashed)
      hashed = end
    }
  }
  return {
    advance(start, upTo) {
      // A piece's bytes below `hashed` were hashed as part of the prefix already; the rest waits its turn.
      const from = Math.max(start, hashed)
      if (upTo <= from) return
      if (start <= hashed) {
        readRange(fd, buffer, hashed, upTo, (bytes) => digest.update(bytes))
        hashed = upTo
      } else reached.set(start, Math.max(reached.get(start) ?? start, upTo))
      catchUp()
    },
    digest(size) {
      catchUp()
      if (hashed !== size) throw new Error(`hashed ${hashed} bytes of ${size}`)
      return digest.digest()
    },
  }
}

export const isCrc = (algorithm: ChecksumAlgorithm): algorithm is keyof typeof crcs => algorithm in crcs

export const fileHasher = (fd: number, algorithm: ChecksumAlgorithm): FileHasher =>
  isCrc(algorithm) ? pieces(fd, crcs[algorithm] as Crc<unknown>, bufferFor(algorithm)) : ordered(fd, algorithm, bufferFor(algorithm))
