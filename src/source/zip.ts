// A small ZIP reader on node:zlib: the central directory (zip64 too), stored and deflated entries, streamed with limits.
import { closeSync, createReadStream, createWriteStream, fstatSync, mkdirSync, openSync, readSync, symlinkSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { Transform } from "node:stream"
import { pipeline } from "node:stream/promises"
import { crc32, createInflateRaw, inflateRawSync } from "node:zlib"
import { ToolError } from "../errors.ts"
import { checkEntries, entryPath, tally, tooLarge, type ArchiveEntry, type Limits } from "./archive-rules.ts"
import type { Reporter } from "./progress.ts"

type ZipEntry = ArchiveEntry & { method: number; crc: number; compressed: number; header: number; mode: number; encrypted: boolean }

const invalid = (name: string, detail: string): ToolError =>
  new ToolError("source.archive.invalid", `${name} is not a readable zip archive: ${detail}`, {
    hint: "check that the file is a complete .zip (a failed download is often an HTML error page)",
  })

const readAt = (fd: number, position: number, length: number): Buffer => {
  const buffer = Buffer.alloc(length)
  const read = readSync(fd, buffer, 0, length, position)
  return buffer.subarray(0, read)
}

/** Where the central directory is and how many entries it has (from the end record, or its zip64 form). */
const directory = (fd: number, size: number, name: string) => {
  const tailLength = Math.min(size, 22 + 65_535)
  const tail = readAt(fd, size - tailLength, tailLength)
  let eocd = -1
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50) {
      eocd = i
      break
    }
  }
  if (eocd === -1) throw invalid(name, "no end-of-central-directory record")
  let count = tail.readUInt16LE(eocd + 10)
  let length = tail.readUInt32LE(eocd + 12)
  let offset = tail.readUInt32LE(eocd + 16)
  if (count === 0xffff || length === 0xffffffff || offset === 0xffffffff) {
    const locator = eocd - 20
    if (locator < 0 || tail.readUInt32LE(locator) !== 0x07064b50) throw invalid(name, "zip64 locator missing")
    const record = readAt(fd, Number(tail.readBigUInt64LE(locator + 8)), 56)
    if (record.length < 56 || record.readUInt32LE(0) !== 0x06064b50) throw invalid(name, "zip64 end record missing")
    count = Number(record.readBigUInt64LE(32))
    length = Number(record.readBigUInt64LE(40))
    offset = Number(record.readBigUInt64LE(48))
  }
  if (offset + length > size) throw invalid(name, "central directory lies past the end of the file")
  return { count, length, offset }
}

/** Zip64 extra field: the 64-bit values for whichever 32-bit fields are saturated, in this order. */
const zip64 = (extra: Buffer, sizes: { size: number; compressed: number; header: number }) => {
  for (let i = 0; i + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(i)
    const length = extra.readUInt16LE(i + 2)
    if (id === 0x0001) {
      let at = i + 4
      const next = () => {
        const value = Number(extra.readBigUInt64LE(at))
        at += 8
        return value
      }
      if (sizes.size === 0xffffffff) sizes.size = next()
      if (sizes.compressed === 0xffffffff) sizes.compressed = next()
      if (sizes.header === 0xffffffff) sizes.header = next()
    }
    i += 4 + length
  }
  return sizes
}

const S_IFMT = 0o170000
const S_IFLNK = 0o120000
const S_IFDIR = 0o040000

/** The central directory as checked entries; symlink targets are read (they are the entry's data). */
const listZip = (fd: number, size: number, name: string, limits: Limits): ZipEntry[] => {
  const { count, length, offset } = directory(fd, size, name)
  if (count > limits.maxEntries) throw tooLarge(name, `${count} entries (limit ${limits.maxEntries})`)
  const cd = readAt(fd, offset, length)
  const count_ = tally(limits, name)
  const entries: ZipEntry[] = []
  let at = 0
  for (let n = 0; n < count; n++) {
    if (at + 46 > cd.length || cd.readUInt32LE(at) !== 0x02014b50) throw invalid(name, `central directory entry ${n} is damaged`)
    const flags = cd.readUInt16LE(at + 8)
    const nameLength = cd.readUInt16LE(at + 28)
    const extraLength = cd.readUInt16LE(at + 30)
    const commentLength = cd.readUInt16LE(at + 32)
    const raw = cd.subarray(at + 46, at + 46 + nameLength)
    const rawName = flags & 0x800 ? raw.toString("utf8") : raw.toString("latin1")
    const sizes = zip64(cd.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength), {
      size: cd.readUInt32LE(at + 24),
      compressed: cd.readUInt32LE(at + 20),
      header: cd.readUInt32LE(at + 42),
    })
    const unix = cd.readUInt16LE(at + 4) >> 8 === 3
    const mode = unix ? cd.readUInt32LE(at + 38) >>> 16 : 0
    const isDir = rawName.endsWith("/") || (mode & S_IFMT) === S_IFDIR || (cd.readUInt32LE(at + 38) & 0x10) !== 0
    const type: ArchiveEntry["type"] = isDir ? "dir" : (mode & S_IFMT) === S_IFLNK ? "symlink" : "file"
    const entry: ZipEntry = {
      path: "",
      type,
      size: sizes.size,
      method: cd.readUInt16LE(at + 10),
      crc: cd.readUInt32LE(at + 16),
      compressed: sizes.compressed,
      header: sizes.header,
      mode: mode & 0o7777,
      encrypted: (flags & 0x1) !== 0,
    }
    at += 46 + nameLength + extraLength + commentLength
    count_({ size: type === "file" ? entry.size : 0 })
    const path = entryPath(rawName, name)
    if (path === null) continue
    entry.path = path
    if (entry.encrypted) throw invalid(name, `entry '${path}' is encrypted`)
    if (type !== "dir" && entry.method !== 0 && entry.method !== 8) throw invalid(name, `entry '${path}' uses compression method ${entry.method} (only stored and deflate are supported)`)
    if (type === "symlink") entry.target = readSymlink(fd, entry, name)
    entries.push(entry)
  }
  return entries
}

/** Where an entry's data starts: after its local header, whose name and extra lengths may differ from the directory's. */
const dataStart = (fd: number, entry: ZipEntry, name: string): number => {
  const local = readAt(fd, entry.header, 30)
  if (local.length < 30 || local.readUInt32LE(0) !== 0x04034b50) throw invalid(name, `local header of '${entry.path}' is damaged`)
  return entry.header + 30 + local.readUInt16LE(26) + local.readUInt16LE(28)
}

const readSymlink = (fd: number, entry: ZipEntry, name: string): string => {
  if (entry.compressed > 4096 || entry.size > 4096) throw invalid(name, `symlink '${entry.path}' has an overlong target`)
  const data = readAt(fd, dataStart(fd, entry, name), entry.compressed)
  return (entry.method === 8 ? inflateRawSync(data, { maxOutputLength: 4096 }) : data).toString("utf8")
}

/** Streams one file out, refusing more bytes than the directory declared (a lying bomb) and a wrong CRC. */
const writeFile = async (file: string, fd: number, entry: ZipEntry, target: string, name: string): Promise<void> => {
  const start = dataStart(fd, entry, name)
  let written = 0
  let crc = 0
  const guard = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      written += chunk.length
      if (written > entry.size) return callback(tooLarge(name, `entry '${entry.path}' inflates past its declared ${entry.size} bytes`))
      crc = crc32(chunk, crc)
      callback(null, chunk)
    },
  })
  const mode = entry.mode & 0o777 ? entry.mode & 0o777 : 0o644
  // 'wx': never follow or replace something already at the path.
  if (entry.compressed === 0) {
    if (entry.size !== 0) throw invalid(name, `entry '${entry.path}' declares ${entry.size} bytes but holds none`)
    return writeFileSync(target, new Uint8Array(), { flag: "wx", mode })
  }
  const source = createReadStream(file, { start, end: start + entry.compressed - 1 })
  const out = createWriteStream(target, { flags: "wx", mode })
  if (entry.method === 8) await pipeline(source, createInflateRaw(), guard, out)
  else await pipeline(source, guard, out)
  if (written !== entry.size) throw invalid(name, `entry '${entry.path}' holds ${written} bytes, not the ${entry.size} declared`)
  if (crc >>> 0 !== entry.crc >>> 0) throw invalid(name, `entry '${entry.path}' fails its CRC check`)
}

/** Extracts a zip archive into the empty folder `dest`. The caller removes `dest` on failure. */
export const extractZip = async (file: string, dest: string, name: string, limits: Limits, report: Reporter): Promise<void> => {
  const fd = openSync(file, "r")
  try {
    const entries = listZip(fd, fstatSync(fd).size, name, limits)
    checkEntries(entries, name)
    let done = 0
    // Symlinks last: no file is ever written after a link exists.
    const ordered = [...entries.filter((e) => e.type !== "symlink"), ...entries.filter((e) => e.type === "symlink")]
    for (const entry of ordered) {
      const target = join(dest, entry.path)
      if (entry.type === "dir") mkdirSync(target, { recursive: true })
      else {
        mkdirSync(dirname(target), { recursive: true })
        if (entry.type === "symlink") symlinkSync(entry.target ?? "", target)
        else await writeFile(file, fd, entry, target, name)
      }
      report.progress("extracting", ++done, entries.length)
    }
  } finally {
    closeSync(fd)
  }
}
