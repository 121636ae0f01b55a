// Builds tar and zip archives byte by byte, so tests can make hostile ones no archiver would write.
import { crc32, deflateRawSync } from "node:zlib"

export type TarEntry = { name: string; type?: "file" | "dir" | "symlink" | "hardlink"; data?: string | Uint8Array; link?: string; mode?: number }

const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0") + "\0"

const tarHeader = (entry: TarEntry, size: number): Uint8Array => {
  const header = Buffer.alloc(512)
  const put = (text: string, at: number, length: number) => header.write(text.slice(0, length), at, length, "utf8")
  const type = { file: "0", dir: "5", symlink: "2", hardlink: "1" }[entry.type ?? "file"]
  put(entry.name, 0, 100)
  put(octal(entry.mode ?? (entry.type === "dir" ? 0o755 : 0o644), 8), 100, 8)
  put(octal(0, 8), 108, 8)
  put(octal(0, 8), 116, 8)
  put(octal(size, 12), 124, 12)
  put(octal(1_700_000_000, 12), 136, 12)
  put("        ", 148, 8)
  put(type, 156, 1)
  put(entry.link ?? "", 157, 100)
  put("ustar\0", 257, 6)
  put("00", 263, 2)
  let sum = 0
  for (const byte of header) sum += byte
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8)
  return header
}

/** A tar stream; entries are written exactly as given (names are not sanitised). */
export const tar = (entries: TarEntry[], gzip = false): Uint8Array => {
  const blocks: Uint8Array[] = []
  for (const entry of entries) {
    const data = typeof entry.data === "string" ? Buffer.from(entry.data) : (entry.data ?? new Uint8Array())
    const size = entry.type === undefined || entry.type === "file" ? data.length : 0
    blocks.push(tarHeader(entry, size))
    if (size > 0) {
      blocks.push(data)
      if (size % 512) blocks.push(new Uint8Array(512 - (size % 512)))
    }
  }
  blocks.push(new Uint8Array(1024))
  const out = Buffer.concat(blocks)
  return gzip ? Bun.gzipSync(out) : out
}

export type ZipEntry = {
  name: string
  data?: string | Uint8Array
  deflate?: boolean
  /** Unix mode bits including the file type (e.g. 0o120777 for a symlink whose data is its target). */
  mode?: number
  /** Lie about the uncompressed size in both headers (a bomb that declares less than it holds). */
  declaredSize?: number
}

/** A zip file with a central directory; entries are written exactly as given. */
export const zip = (entries: ZipEntry[]): Uint8Array => {
  const locals: Uint8Array[] = []
  const central: Uint8Array[] = []
  let offset = 0
  for (const entry of entries) {
    const raw = typeof entry.data === "string" ? Buffer.from(entry.data) : Buffer.from(entry.data ?? new Uint8Array())
    const body = entry.deflate ? deflateRawSync(raw) : raw
    const name = Buffer.from(entry.name)
    const crc = crc32(raw) >>> 0
    const size = entry.declaredSize ?? raw.length
    const method = entry.deflate ? 8 : 0
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(0x800, 6)
    local.writeUInt16LE(method, 8)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(body.length, 18)
    local.writeUInt32LE(size, 22)
    local.writeUInt16LE(name.length, 26)
    const header = Buffer.alloc(46)
    header.writeUInt32LE(0x02014b50, 0)
    header.writeUInt16LE((3 << 8) | 20, 4)
    header.writeUInt16LE(20, 6)
    header.writeUInt16LE(0x800, 8)
    header.writeUInt16LE(method, 10)
    header.writeUInt32LE(crc, 16)
    header.writeUInt32LE(body.length, 20)
    header.writeUInt32LE(size, 24)
    header.writeUInt16LE(name.length, 28)
    header.writeUInt32LE(((entry.mode ?? (entry.name.endsWith("/") ? 0o40755 : 0o100644)) << 16) >>> 0, 38)
    header.writeUInt32LE(offset, 42)
    locals.push(local, name, body)
    central.push(header, name)
    offset += local.length + name.length + body.length
  }
  const directory = Buffer.concat(central)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, directory, end])
}
