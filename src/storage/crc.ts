// CRC-32C (Castagnoli) and CRC-64/NVME in TypeScript (CRC-64's hot loop in WebAssembly), and IEEE CRC-32 (native):
// the checksums S3 and GCS publish.
// Bun has no native CRC-32C or CRC-64, so these are table-driven, reading the data as 32-bit words: JavaScript's
// cost is per load, and one word load replaces four byte loads (about twice as fast as byte-wise slicing-by-8).

import { crc64Lanes, type Crc64Lanes } from "./crc-wasm.ts"

// Word reads take the machine's byte order; on a big-endian machine the byte-wise loop does all the work.
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** `n` slicing tables for a reflected 32-bit polynomial, laid end to end (table k at k * 256). */
const tables32 = (poly: number, n: number): Int32Array => {
  const t = new Int32Array(n * 256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? poly ^ (c >>> 1) : c >>> 1
    t[i] = c
  }
  for (let k = 1; k < n; k++) {
    for (let i = 0; i < 256; i++) {
      const previous = t[(k - 1) * 256 + i] as number
      t[k * 256 + i] = (t[previous & 0xff] as number) ^ (previous >>> 8)
    }
  }
  return t
}

const c32 = tables32(0x82f63b78, 16)
const empty = new Int32Array(0)

// The `as number` casts only satisfy noUncheckedIndexedAccess: every index is in range by construction.
/** Continues a CRC-32C over `bytes`; start from 0. Slicing-by-16. */
export const crc32c = (bytes: Uint8Array, crc = 0): number => {
  const t = c32
  let c = ~crc
  let i = 0
  const n = bytes.length
  while (i < n && (!littleEndian || ((bytes.byteOffset + i) & 3) !== 0)) c = (t[(c ^ (bytes[i++] as number)) & 0xff] as number) ^ (c >>> 8)
  const blocks = littleEndian && i < n ? (n - i) >>> 4 : 0
  // Short input may end before the alignment; the view is then empty (and its offset need not be aligned).
  const w = blocks > 0 ? new Int32Array(bytes.buffer, bytes.byteOffset + i, blocks * 4) : empty
  for (let j = 0; j < w.length; j += 4) {
    const a = (w[j] as number) ^ c
    const b = w[j + 1] as number
    const d = w[j + 2] as number
    const e = w[j + 3] as number
    c =
      (t[3840 + (a & 255)] as number) ^
      (t[3584 + ((a >>> 8) & 255)] as number) ^
      (t[3328 + ((a >>> 16) & 255)] as number) ^
      (t[3072 + (a >>> 24)] as number) ^
      (t[2816 + (b & 255)] as number) ^
      (t[2560 + ((b >>> 8) & 255)] as number) ^
      (t[2304 + ((b >>> 16) & 255)] as number) ^
      (t[2048 + (b >>> 24)] as number) ^
      (t[1792 + (d & 255)] as number) ^
      (t[1536 + ((d >>> 8) & 255)] as number) ^
      (t[1280 + ((d >>> 16) & 255)] as number) ^
      (t[1024 + (d >>> 24)] as number) ^
      (t[768 + (e & 255)] as number) ^
      (t[512 + ((e >>> 8) & 255)] as number) ^
      (t[256 + ((e >>> 16) & 255)] as number) ^
      (t[e >>> 24] as number)
  }
  i += blocks * 16
  while (i < n) c = (t[(c ^ (bytes[i++] as number)) & 0xff] as number) ^ (c >>> 8)
  return ~c >>> 0
}

/** Slicing-by-8 tables for CRC-64/NVME (reflected 0x9a6c9329ac4bc9b5), each entry split in low and high words. */
const c64 = (() => {
  const poly = 0x9a6c9329ac4bc9b5n
  const wide: bigint[] = new Array(8 * 256)
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i)
    for (let k = 0; k < 8; k++) c = c & 1n ? poly ^ (c >> 1n) : c >> 1n
    wide[i] = c
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const previous = wide[(k - 1) * 256 + i] as bigint
      wide[k * 256 + i] = (wide[Number(previous & 0xffn)] as bigint) ^ (previous >> 8n)
    }
  }
  const lo = new Int32Array(8 * 256)
  const hi = new Int32Array(8 * 256)
  wide.forEach((value, index) => {
    lo[index] = Number(value & 0xffffffffn) | 0
    hi[index] = Number(value >> 32n) | 0
  })
  return { lo, hi }
})()

/** The slicing tables as 64-bit entries, for the WebAssembly loops. */
const wideTables = () => {
  const wide = new BigUint64Array(8 * 256)
  for (let i = 0; i < wide.length; i++) wide[i] = (BigInt((c64.hi[i] as number) >>> 0) << 32n) | BigInt((c64.lo[i] as number) >>> 0)
  return wide
}

// Below this a block is not worth three lanes (and the module is not built for a few bytes).
const laneUnit = 64 * 1024

/** CRC-64/NVME of `length` bytes at `at` in the module's data area: three lanes as far as they go, joined, then the rest. */
const crc64InPlace = (wasm: Crc64Lanes, at: number, length: number, crc: bigint): bigint => {
  const lane = Math.floor(length / 3 / laneUnit) * laneUnit
  wasm.lane[0] = crc
  if (lane > 0) {
    wasm.lane[1] = 0n
    wasm.lane[2] = 0n
    wasm.lanes(3, at, lane / 8, lane)
    wasm.lane[0] = crc64nvmeCombine(crc64nvmeCombine(wasm.lane[0] as bigint, wasm.lane[1] as bigint, lane), wasm.lane[2] as bigint, lane)
  }
  const rest = length - 3 * lane
  const words = Math.floor(rest / 8)
  wasm.lanes(1, at + 3 * lane, words, 0)
  return BigInt.asUintN(64, wasm.bytes(at + 3 * lane + 8 * words, rest - 8 * words, wasm.lane[0] as bigint))
}

/** Where the file hasher may read bytes to have them hashed without a copy (null: no WebAssembly here). */
export const crc64nvmeScratch = (): Uint8Array | null => crc64Lanes(wideTables)?.scratch ?? null

/** Continues a CRC-64/NVME over `bytes`; start from 0n. In WebAssembly (crc-wasm.ts) when it runs here. */
export const crc64nvme = (bytes: Uint8Array, crc = 0n): bigint => {
  const wasm = bytes.length >= laneUnit ? crc64Lanes(wideTables) : null
  if (wasm === null) return crc64nvmeJs(bytes, crc)
  if (bytes.buffer === wasm.scratch.buffer) return crc64InPlace(wasm, bytes.byteOffset - wasm.scratch.byteOffset, bytes.length, crc)
  for (let at = 0; at < bytes.length; at += wasm.scratch.length) {
    const piece = bytes.subarray(at, at + wasm.scratch.length)
    wasm.scratch.set(piece)
    crc = crc64InPlace(wasm, 0, piece.length, crc)
  }
  return crc
}

/** Continues a CRC-64/NVME over `bytes`; start from 0n. Slicing-by-8 on two 32-bit halves. */
export const crc64nvmeJs = (bytes: Uint8Array, crc = 0n): bigint => {
  const { lo: L, hi: H } = c64
  let lo = ~Number(crc & 0xffffffffn)
  let hi = ~Number(crc >> 32n)
  let i = 0
  const n = bytes.length
  // Byte-wise until word-aligned, and for the tail (no closure: captured variables would slow the main loop).
  for (; i < n && (!littleEndian || ((bytes.byteOffset + i) & 3) !== 0); i++) {
    const x = (lo ^ (bytes[i] as number)) & 255
    lo = ((lo >>> 8) | (hi << 24)) ^ (L[x] as number)
    hi = (hi >>> 8) ^ (H[x] as number)
  }
  const blocks = littleEndian && i < n ? (n - i) >>> 3 : 0
  const w = blocks > 0 ? new Int32Array(bytes.buffer, bytes.byteOffset + i, blocks * 2) : empty
  for (let j = 0; j < w.length; j += 2) {
    const a = (w[j] as number) ^ lo
    const b = (w[j + 1] as number) ^ hi
    const i0 = 1792 + (a & 255)
    const i1 = 1536 + ((a >>> 8) & 255)
    const i2 = 1280 + ((a >>> 16) & 255)
    const i3 = 1024 + (a >>> 24)
    const i4 = 768 + (b & 255)
    const i5 = 512 + ((b >>> 8) & 255)
    const i6 = 256 + ((b >>> 16) & 255)
    const i7 = b >>> 24
    lo = (L[i0] as number) ^ (L[i1] as number) ^ (L[i2] as number) ^ (L[i3] as number) ^ (L[i4] as number) ^ (L[i5] as number) ^ (L[i6] as number) ^ (L[i7] as number)
    hi = (H[i0] as number) ^ (H[i1] as number) ^ (H[i2] as number) ^ (H[i3] as number) ^ (H[i4] as number) ^ (H[i5] as number) ^ (H[i6] as number) ^ (H[i7] as number)
  }
  for (i += blocks * 8; i < n; i++) {
    const x = (lo ^ (bytes[i] as number)) & 255
    lo = ((lo >>> 8) | (hi << 24)) ^ (L[x] as number)
    hi = (hi >>> 8) ^ (H[x] as number)
  }
  return (BigInt(~hi >>> 0) << 32n) | BigInt(~lo >>> 0)
}

/** Continues an IEEE CRC-32 (zlib's, S3's `crc32`) over `bytes`; start from 0. Native. */
export const crc32 = (bytes: Uint8Array, crc = 0): number => Bun.hash.crc32(bytes, crc)

/** S3 and GCS publish CRCs as base64 of the big-endian bytes. */
export const crcBase64 = (value: number | bigint, width: 4 | 8): string => {
  const bytes = new Uint8Array(width)
  const view = new DataView(bytes.buffer)
  if (width === 4) view.setUint32(0, Number(value) >>> 0, false)
  else view.setBigUint64(0, BigInt(value), false)
  return Buffer.from(bytes).toString("base64")
}

// Combining the CRCs of two adjacent pieces (zlib's crc32_combine, for any reflected CRC whose initial value and
// final xor are equal): crc(A‖B) = crc(A)·x^(8·|B|) mod P ⊕ crc(B). Parts fetched in parallel are hashed apart
// and joined this way, so no part waits for the one before it.

type Field<T> = { one: T; zero: T; bit: (n: number) => T; and: (a: T, b: T) => boolean; xor: (a: T, b: T) => T; shr: (a: T) => T; poly: T; low: (a: T) => boolean }

/** a·b mod P in the reflected representation (the top bit is x^0). */
const multiply = <T>(f: Field<T>, a: T, b: T, width: number): T => {
  let p = f.zero
  for (let k = 0; k < width; k++) {
    if (f.and(a, f.bit(width - 1 - k))) p = f.xor(p, b)
    b = f.low(b) ? f.xor(f.shr(b), f.poly) : f.shr(b)
  }
  return p
}

/** x^(8·bytes) mod P, by repeated squaring. */
const shiftFor = <T>(f: Field<T>, bytes: number, width: number): T => {
  let p = f.one
  let square = multiply(f, f.bit(width - 2), f.bit(width - 2), width) // x^2
  square = multiply(f, square, square, width) // x^4
  square = multiply(f, square, square, width) // x^8: one byte
  for (let n = bytes; n > 0; n = Math.floor(n / 2)) {
    if (n % 2 === 1) p = multiply(f, square, p, width)
    square = multiply(f, square, square, width)
  }
  return p
}

const field32 = (poly: number): Field<number> => ({
  one: 0x80000000,
  zero: 0,
  bit: (n) => (2 ** n) >>> 0,
  and: (a, b) => (a & b) !== 0,
  xor: (a, b) => (a ^ b) >>> 0,
  shr: (a) => a >>> 1,
  poly,
  low: (a) => (a & 1) === 1,
})

const field64: Field<bigint> = {
  one: 1n << 63n,
  zero: 0n,
  bit: (n) => 1n << BigInt(n),
  and: (a, b) => (a & b) !== 0n,
  xor: (a, b) => a ^ b,
  shr: (a) => a >> 1n,
  poly: 0x9a6c9329ac4bc9b5n,
  low: (a) => (a & 1n) === 1n,
}

const f32c = field32(0x82f63b78)
const f32 = field32(0xedb88320)

/** The CRC of A‖B from crc(A), crc(B) and B's length. */
export const crc32cCombine = (a: number, b: number, bLength: number): number => (multiply(f32c, shiftFor(f32c, bLength, 32), a >>> 0, 32) ^ b) >>> 0
export const crc32Combine = (a: number, b: number, bLength: number): number => (multiply(f32, shiftFor(f32, bLength, 32), a >>> 0, 32) ^ b) >>> 0
// The shifts of the lengths seen last: the lanes of equal blocks (and equal parts) share one.
const shifts64 = new Map<number, bigint>()
export const crc64nvmeCombine = (a: bigint, b: bigint, bLength: number): bigint => {
  let shift = shifts64.get(bLength)
  if (shift === undefined) {
    if (shifts64.size >= 64) shifts64.clear()
    shift = shiftFor(field64, bLength, 64)
    shifts64.set(bLength, shift)
  }
  return multiply(field64, shift, a, 64) ^ b
}
