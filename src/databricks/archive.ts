// A deterministic .tar.gz of a project folder under `mlflow-project/`, streamed to a file while its sha256 is taken.
import { createHash } from "node:crypto"
import { createWriteStream } from "node:fs"
import { lstat, open, readdir, readlink } from "node:fs/promises"
import { join } from "node:path"
import { Readable, Transform } from "node:stream"
import { pipeline } from "node:stream/promises"
import { createGzip } from "node:zlib"
import { ToolError } from "../errors.ts"

/** The folder MLflow's Databricks backend unpacks the project from. */
export const archiveRoot = "mlflow-project"

// What a run writes and what git keeps: neither belongs to the project's code.
const excluded = new Set(["mlruns", ".git"])

const block = 512
const chunk = 1024 * 1024

type Entry = { name: string; kind: "dir" | "file" | "symlink"; path: string; size: number; mode: number; target?: string }

const archiveError = (message: string, cause?: unknown) =>
  new ToolError("databricks.archive", message, { hint: "check that the project folder is readable and not being changed while the run starts", exitCode: 1, cause })

/** Every entry below `dir`, depth first, each folder's names in byte order, so the same tree always lists the same way. */
async function* walk(dir: string, prefix: string): AsyncGenerator<Entry> {
  const names = (await readdir(dir)).filter((name) => !excluded.has(name)).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))))
  for (const name of names) {
    const path = join(dir, name)
    const stat = await lstat(path)
    const entryName = `${prefix}/${name}`
    if (stat.isSymbolicLink()) yield { name: entryName, kind: "symlink", path, size: 0, mode: 0o777, target: await readlink(path) }
    else if (stat.isDirectory()) {
      yield { name: `${entryName}/`, kind: "dir", path, size: 0, mode: 0o755 }
      yield* walk(path, entryName)
    } else if (stat.isFile()) yield { name: entryName, kind: "file", path, size: stat.size, mode: stat.mode & 0o111 ? 0o755 : 0o644 }
    // Sockets, fifos and devices are not project code.
  }
}

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

/** The header blocks of an entry: a pax header first when a name or link does not fit ustar's 100 bytes (or the size its 8 GiB). */
const headersOf = (entry: Entry): Buffer[] => {
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

/** A file's bytes, one chunk at a time; a file that shrank or grew since it was listed fails the archive. */
async function* contents(entry: Entry): AsyncGenerator<Buffer> {
  const handle = await open(entry.path, "r")
  try {
    let offset = 0
    while (offset < entry.size) {
      const buffer = Buffer.alloc(Math.min(chunk, entry.size - offset))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset)
      if (bytesRead === 0) throw archiveError(`${entry.path} shrank while it was being archived`)
      offset += bytesRead
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead)
    }
    if ((await handle.stat()).size !== entry.size) throw archiveError(`${entry.path} grew while it was being archived`)
  } finally {
    await handle.close()
  }
}

async function* tarStream(dir: string, counted: { files: number }): AsyncGenerator<Buffer> {
  yield* headersOf({ name: `${archiveRoot}/`, kind: "dir", path: dir, size: 0, mode: 0o755 })
  for await (const entry of walk(dir, archiveRoot)) {
    yield* headersOf(entry)
    if (entry.kind !== "file") continue
    counted.files++
    yield* contents(entry)
    yield padding(entry.size)
  }
  // The end of an archive: two zero blocks.
  yield Buffer.alloc(2 * block)
}

export type ArchiveResult = { sha256: string; bytes: number; files: number }

/**
 * Writes `dir` as a gzipped tar to `outFile`: entries in byte order, mtime 0, uid/gid 0, modes 0644 or 0755,
 * symlinks stored as links (never followed), `mlruns` and `.git` left out. The same tree gives the same bytes.
 */
export const projectArchive = async (dir: string, outFile: string): Promise<ArchiveResult> => {
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
    await pipeline(Readable.from(tarStream(dir, counted)), createGzip({ level: 6 }), tap, createWriteStream(outFile))
  } catch (error) {
    if (error instanceof ToolError) throw error
    const code = (error as NodeJS.ErrnoException).code
    throw archiveError(`cannot archive the project folder ${dir}${code ? ` (${code}: ${(error as Error).message})` : `: ${String(error)}`}`, error)
  }
  return { sha256: hash.digest("hex"), bytes, files: counted.files }
}
