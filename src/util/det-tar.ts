// A deterministic .tar.gz of a folder: sorted entries, normalised headers, streamed to a file while its sha256 is taken.
import { createHash } from "node:crypto"
import { createWriteStream } from "node:fs"
import { open } from "node:fs/promises"
import { Readable, Transform } from "node:stream"
import { pipeline } from "node:stream/promises"
import { createGzip } from "node:zlib"
import { ToolError } from "../errors.ts"
import { walkTree, type Exclude, type TreeEntry } from "./tree-walk.ts"

const block = 512
const chunk = 1024 * 1024

/** An entry written from memory before the folder's own (a manifest a reader wants first). */
export type MemoryEntry = { relative: string; data: Uint8Array }

export type DetTarOptions = {
  /** The one folder every entry sits under (`mlflow-project`), or null for entries at the top. */
  root: string | null
  /** Leaves an entry (and, for a folder, all below it) out. */
  exclude?: Exclude
  /** gzip level, 1 (fast) to 9 (small); 6 unless told. */
  level?: number
  /** Files written first, in this order, before the sorted tree. */
  prepend?: MemoryEntry[]
  /** Called with each regular file's sha256 as it is written, so a caller can check a file did not change since it looked. */
  onFile?: (relativePath: string, sha256: string) => void
  /** The caller's error for a folder that cannot be read or changes while it is read. */
  error: (message: string, cause?: unknown) => ToolError
}

export type DetTarResult = { sha256: string; bytes: number; files: number }

const octal = (value: number, width: number): string => value.toString(8).padStart(width - 1, "0") + "\0"

/** A pax extended header record: "<length> <key>=<value>\n", the length counting itself. */
const paxRecord = (key: string, value: string): string => {
  const body = ` ${key}=${value}\n`
  let length = Buffer.byteLength(body) + 1
  while (String(length).length + Buffer.byteLength(body) !== length) length++
  return `${length}${body}`
}

/** A ustar header: fixed mtime 0, uid/gid 0, no user or group names. */
const header = (name: string, type: string, size: number, mode: number, linkname = ""): Buffer => {
  const buffer = Buffer.alloc(block)
  buffer.write(name, 0, 100, "utf8")
  buffer.write(octal(mode, 8), 100, "ascii")
  buffer.write(octal(0, 8), 108, "ascii")
  buffer.write(octal(0, 8), 116, "ascii")
  buffer.write(octal(size, 12), 124, "ascii")
  buffer.write(octal(0, 12), 136, "ascii")
  buffer.fill(" ", 148, 156)
  buffer.write(type, 156, "ascii")
  buffer.write(linkname, 157, 100, "utf8")
  buffer.write("ustar\0", 257, "ascii")
  buffer.write("00", 263, "ascii")
  let sum = 0
  for (const byte of buffer) sum += byte
  buffer.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii")
  return buffer
}

const padding = (size: number): Buffer => Buffer.alloc((block - (size % block)) % block)

type Header = { name: string; kind: TreeEntry["kind"]; size: number; mode: number; target?: string }

/** The header blocks of an entry: a pax header first when a name or link does not fit ustar's 100 bytes (or the size its 8 GiB). */
const headersOf = (entry: Header): Buffer[] => {
  const type = entry.kind === "dir" ? "5" : entry.kind === "symlink" ? "2" : "0"
  const long = (text: string) => Buffer.byteLength(text) > 100 || /[^\x20-\x7e]/.test(text)
  const records = [
    ...(long(entry.name) ? [paxRecord("path", entry.name)] : []),
    ...(entry.target !== undefined && long(entry.target) ? [paxRecord("linkpath", entry.target)] : []),
    ...(entry.size >= 8 ** 11 ? [paxRecord("size", String(entry.size))] : []),
  ]
  const own = header(entry.name.slice(0, 100), type, entry.size >= 8 ** 11 ? 0 : entry.size, entry.mode, (entry.target ?? "").slice(0, 100))
  if (records.length === 0) return [own]
  const pax = Buffer.from(records.join(""), "utf8")
  return [header(`PaxHeader/${entry.name}`.slice(0, 100), "x", pax.length, 0o644), pax, padding(pax.length), own]
}

/** A file's bytes, one chunk at a time, hashed on the way; a file that shrank or grew since it was listed fails the archive. */
async function* contents(entry: TreeEntry, hash: ReturnType<typeof createHash>, error: DetTarOptions["error"]): AsyncGenerator<Buffer> {
  const handle = await open(entry.path, "r")
  try {
    let offset = 0
    while (offset < entry.size) {
      const buffer = Buffer.alloc(Math.min(chunk, entry.size - offset))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset)
      if (bytesRead === 0) throw error(`${entry.path} shrank while it was being archived`)
      offset += bytesRead
      const data = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead)
      hash.update(data)
      yield data
    }
    if ((await handle.stat()).size !== entry.size) throw error(`${entry.path} grew while it was being archived`)
  } finally {
    await handle.close()
  }
}

async function* tarStream(dir: string, options: DetTarOptions, counted: { files: number }): AsyncGenerator<Buffer> {
  const named = (relative: string) => (options.root === null ? relative : `${options.root}/${relative}`)
  for (const entry of options.prepend ?? []) {
    yield* headersOf({ name: named(entry.relative), kind: "file", size: entry.data.length, mode: 0o644 })
    yield Buffer.from(entry.data)
    yield padding(entry.data.length)
  }
  if (options.root !== null) yield* headersOf({ name: `${options.root}/`, kind: "dir", size: 0, mode: 0o755 })
  for await (const entry of walkTree(dir, options.exclude)) {
    const name = named(entry.relative)
    yield* headersOf({ ...entry, name: entry.kind === "dir" ? `${name}/` : name })
    if (entry.kind !== "file") continue
    counted.files++
    const hash = createHash("sha256")
    yield* contents(entry, hash, options.error)
    yield padding(entry.size)
    options.onFile?.(entry.relative, hash.digest("hex"))
  }
  // The end of an archive: two zero blocks.
  yield Buffer.alloc(2 * block)
}

/**
 * Writes `sourceDir` as a gzipped tar to `outFile`: entries in byte order, mtime 0, uid/gid 0, modes 0644 or 0755,
 * symlinks stored as links (never followed). The same tree gives the same bytes; memory stays at a chunk or two.
 */
export const writeDeterministicTarGz = async (sourceDir: string, outFile: string, options: DetTarOptions): Promise<DetTarResult> => {
  const hash = createHash("sha256")
  const counted = { files: 0 }
  let bytes = 0
  const tap = new Transform({
    transform(data: Buffer, _encoding, done) {
      hash.update(data)
      bytes += data.length
      done(null, data)
    },
  })
  try {
    // gzip's header carries no name and mtime 0 here: zlib's stream writes neither.
    await pipeline(Readable.from(tarStream(sourceDir, options, counted)), createGzip({ level: options.level ?? 6 }), tap, createWriteStream(outFile))
  } catch (error) {
    if (error instanceof ToolError) throw error
    const code = (error as NodeJS.ErrnoException).code
    throw options.error(`cannot archive the folder ${sourceDir}${code ? ` (${code}: ${(error as Error).message})` : `: ${String(error)}`}`, error)
  }
  return { sha256: hash.digest("hex"), bytes, files: counted.files }
}
