// Digests and random values from Bun's native hashers and Web Crypto: node:crypto costs a command milliseconds to load.
// (node:crypto brings node's whole stream implementation with it, for Hash objects short commands never stream into.)

/** SHA-256 of `data` as lower-case hex, as `createHash("sha256").update(data).digest("hex")` gives it. */
export const sha256Hex = (data: string | Uint8Array): string => new Bun.CryptoHasher("sha256").update(data).digest("hex")

/** SHA-256 of a file's bytes as lower-case hex, read as a stream (one chunk in memory at a time). */
export const sha256FileHex = async (path: string): Promise<string> => {
  const hash = new Bun.CryptoHasher("sha256")
  for await (const chunk of Bun.file(path).stream()) hash.update(chunk)
  return hash.digest("hex")
}

const hexDigits = "0123456789abcdef"

/**
 * `bytes` random bytes as hex, as `randomBytes(bytes).toString("hex")` gives them. An indexed loop: Buffer's hex
 * encoder costs its first call about 0.1 ms, and every temp name of a run asks for one.
 */
export const randomHex = (bytes: number): string => {
  const random = crypto.getRandomValues(new Uint8Array(bytes))
  let hex = ""
  for (let i = 0; i < random.length; i++) {
    const byte = random[i] as number
    hex += (hexDigits[byte >> 4] as string) + (hexDigits[byte & 15] as string)
  }
  return hex
}

/** A uniformly random integer in [0, max), as node's `randomInt(max)`: values past the last whole range are drawn again. */
export const randomInt = (max: number): number => {
  if (!Number.isSafeInteger(max) || max <= 0 || max > 2 ** 32) throw new RangeError(`randomInt: max must be a whole number from 1 to 2^32, got ${max}`)
  const limit = 2 ** 32 - (2 ** 32 % max)
  const word = new Uint32Array(1)
  for (;;) {
    const value = crypto.getRandomValues(word)[0] as number
    if (value < limit) return value % max
  }
}

/** A random UUID (version 4), as `randomUUID()` gives it. */
export const randomUUID = (): string => crypto.randomUUID()
