// Reads a pack's gzipped tar one entry at a time, pulling file bodies in chunks, hashing the compressed bytes as they pass.
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { open } from "node:fs/promises"
import { Transform, pipeline } from "node:stream"
import { createGunzip } from "node:zlib"
import { ToolError } from "../errors.ts"
import { invalidPack } from "./manifest.ts"

export type TarEntry = { name: string; type: "file" | "dir" | "symlink"; size: number; mode: number; target?: string }

const block = 512
// A pax header holds a long path or link: anything near this size is not one our writer made.
const maxPax = 64 * 1024

export const truncatedPack = (pack: string, detail: string, cause?: unknown): ToolError =>
  new ToolError("pack.truncated", `${pack} is truncated: ${detail}`, { hint: "copy the pack again: the copy stopped before its end", cause })

export const unsafePack = (pack: string, detail: string): ToolError =>
  new ToolError("pack.unsafe", `refusing ${pack}: ${detail}`, { hint: "nothing was unpacked; the pack was not written by `mlproject pack` or was altered after" })

const damaged = (pack: string, cause: unknown): ToolError =>
  new ToolError("pack.corrupt", `${pack} is damaged: its compressed data does not decompress (${(cause as Error).message})`, { hint: "copy the pack again", cause })

/** Pulls exact byte counts from a stream of chunks. */
class Bytes {
  private chunks: Buffer[] = []
  private length = 0
  private ended = false
  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async pull(): Promise<boolean> {
    if (this.ended) return false
    const next = await this.source.next()
    if (next.done) {
      this.ended = true
      return false
    }
    this.chunks.push(next.value)
    this.length += next.value.length
    return true
  }

  /** Exactly `n` bytes (small n), or null when the stream ends first. */
  async take(n: number): Promise<Buffer | null> {
    while (this.length < n) if (!(await this.pull())) return null
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks)
    this.chunks = all.length > n ? [all.subarray(n)] : []
    this.length -= n
    return all.subarray(0, n)
  }

  /** `n` bytes as the chunks come, or `onShort` thrown when the stream ends first. */
  async *stream(n: number, onShort: () => Error): AsyncGenerator<Buffer> {
    let left = n
    while (left > 0) {
      if (this.length === 0 && !(await this.pull())) throw onShort()
      const head = this.chunks.shift() as Buffer
      const piece = head.length > left ? head.subarray(0, left) : head
      if (head.length > left) this.chunks.unshift(head.subarray(left))
      this.length -= piece.length
      left -= piece.length
      yield piece
    }
  }

  /** Reads to the end (so gzip's checksum is checked); true when everything left is zeros. */
  async drain(): Promise<boolean> {
    let zeros = true
    for (;;) {
      for (const chunk of this.chunks) if (zeros && chunk.some((byte) => byte !== 0)) zeros = false
      this.chunks = []
      this.length = 0
      if (!(await this.pull())) return zeros
    }
  }
}

const text = (buffer: Buffer, from: number, length: number): string => {
  const field = buffer.subarray(from, from + length)
  const end = field.indexOf(0)
  return field.subarray(0, end === -1 ? length : end).toString("utf8")
}

const number = (buffer: Buffer, from: number, length: number): number | null => {
  const raw = text(buffer, from, length).trim()
  return /^[0-7]*$/.test(raw) ? (raw === "" ? 0 : parseInt(raw, 8)) : null
}

const checksumOk = (header: Buffer): boolean => {
  let sum = 0
  for (let i = 0; i < block; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] as number)
  return number(header, 148, 8) === sum
}

const paxRecords = (data: Buffer): Map<string, string> => {
  const records = new Map<string, string>()
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(32, at)
    const length = parseInt(data.subarray(at, space).toString("ascii"), 10)
    if (space === -1 || !Number.isSafeInteger(length) || length <= 0) break
    const record = data.subarray(space + 1, at + length - 1).toString("utf8")
    const equals = record.indexOf("=")
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1))
    at += length
  }
  return records
}

const kinds: Record<string, TarEntry["type"]> = { "0": "file", "\0": "file", "7": "file", "5": "dir", "2": "symlink" }
const refused: Record<string, string> = { "1": "a hard link", "3": "a character device", "4": "a block device", "6": "a fifo" }

export type PackReader = {
  /** The next entry, or null at the end of the archive; its body must be read with `body` before the next call. */
  next(): Promise<TarEntry | null>
  body(entry: TarEntry): AsyncGenerator<Buffer>
  /** Reads what is left, checks it is only the archive's zero padding, and returns the sha256 of the whole file. */
  finish(): Promise<string>
  close(): void
}

/** Opens a pack for reading; a file that is not gzip at all is refused before anything is decompressed. */
export const openPack = async (pack: string): Promise<PackReader> => {
  const unreadable = (error: NodeJS.ErrnoException): never => {
    throw new ToolError("pack.invalid", `cannot read the pack ${pack} (${error.code ?? error.message})`, { hint: "check the path", cause: error })
  }
  const handle = await open(pack, "r").catch(unreadable)
  const magic = Buffer.alloc(2)
  const { bytesRead } = await handle.read(magic, 0, 2, 0).catch(unreadable).finally(() => handle.close())
  if (bytesRead === 0) throw truncatedPack(pack, "the file is empty")
  if (bytesRead < 2 || magic[0] !== 0x1f || magic[1] !== 0x8b) throw invalidPack(pack, "it is not a gzip file")

  const hash = createHash("sha256")
  const tap = new Transform({
    transform(data: Buffer, _encoding, done) {
      hash.update(data)
      done(null, data)
    },
  })
  const gunzip = createGunzip()
  const file = createReadStream(pack)
  pipeline(file, tap, gunzip, () => undefined)
  const iterator = gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const translate = (error: unknown): never => {
    if (error instanceof ToolError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === "Z_BUF_ERROR" || /unexpected end/i.test((error as Error).message)) throw truncatedPack(pack, "its compressed data stops before the end", error)
    if (code === "Z_DATA_ERROR") throw damaged(pack, error)
    throw invalidPack(pack, `it cannot be read (${(error as Error).message})`, error)
  }
  const bytes = new Bytes({ next: () => iterator.next().catch(translate) })
  const short = () => truncatedPack(pack, "the archive stops inside an entry")
  let first = true

  const header = async (): Promise<Buffer | null> => {
    const data = await bytes.take(block)
    if (data === null) throw first ? invalidPack(pack, "it holds no tar archive") : truncatedPack(pack, "the archive has no end marker")
    if (data.every((byte) => byte === 0)) return null
    if (!checksumOk(data)) throw first ? invalidPack(pack, "it is not a tar archive") : new ToolError("pack.corrupt", `${pack} is damaged: a tar header's checksum is wrong`, { hint: "copy the pack again" })
    first = false
    return data
  }

  const next = async (): Promise<TarEntry | null> => {
    let pax = new Map<string, string>()
    for (;;) {
      const data = await header()
      if (data === null) return null
      const type = String.fromCharCode(data[156] as number)
      const size = number(data, 124, 12)
      if (size === null) throw invalidPack(pack, "a tar header has a size that is not octal")
      if (type === "x") {
        if (size > maxPax) throw invalidPack(pack, `a pax header of ${size} bytes`)
        const body = Buffer.concat(await Array.fromAsync(bytes.stream(size + ((block - (size % block)) % block), short)))
        pax = paxRecords(body.subarray(0, size))
        continue
      }
      const ustarPrefix = text(data, 257, 5) === "ustar" ? text(data, 345, 155) : ""
      const name = pax.get("path") ?? (ustarPrefix ? `${ustarPrefix}/${text(data, 0, 100)}` : text(data, 0, 100))
      if (refused[type]) throw unsafePack(pack, `entry '${name}' is ${refused[type]}, which a pack may not contain`)
      const kind = kinds[type]
      if (!kind) throw invalidPack(pack, `entry '${name}' has the tar type '${type}', which a pack does not use`)
      const paxSize = pax.get("size")
      const entrySize = paxSize !== undefined && /^\d+$/.test(paxSize) ? Number(paxSize) : size
      const target = kind === "symlink" ? (pax.get("linkpath") ?? text(data, 157, 100)) : undefined
      return { name, type: kind, size: kind === "file" ? entrySize : 0, mode: number(data, 100, 8) ?? 0o644, ...(target === undefined ? {} : { target }) }
    }
  }

  async function* body(entry: TarEntry): AsyncGenerator<Buffer> {
    yield* bytes.stream(entry.size, short)
    for await (const _ of bytes.stream((block - (entry.size % block)) % block, short));
  }

  const finish = async (): Promise<string> => {
    if (!(await bytes.drain())) throw invalidPack(pack, "it has data after the end of its archive")
    return hash.digest("hex")
  }

  return { next, body, finish, close: () => void gunzip.destroy() }
}
