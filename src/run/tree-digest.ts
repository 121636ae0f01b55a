// The content digest of a file or folder, with a stat-keyed cache of file hashes so an unchanged tree is only stat'ed.
//
// The digest covers what a folder holds: every file's relative path, executable bit and sha256, every symlink's target
// text (links are not followed), every folder, and the type of anything else (FIFOs and devices are never opened).
// Not content: version-control folders, tracking stores and caches that runs write (notContent below), and the paths
// a caller excludes. The cache keeps, per file, (size, mtime, ctime, device and inode) → sha256 in one JSON record per
// root under $MLPROJECT_HOME/parsed/ (so `cache gc` ages it out like a parsed MLproject); a file whose stat differs
// is hashed again. A hash taken within `racyMs` of the file's last change is not trusted later, since a second change
// in the same timestamp tick would keep its stat (git's "racy clean" problem): such a file is hashed again.
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync, utimesSync, type Stats } from "node:fs"
import { join } from "node:path"
import { writeFileAtomic } from "../util/fs-atomic.ts"
import { cacheDir } from "../util/paths.ts"

type Env = Record<string, string | undefined>

const notContentFolders = new Set([".git", ".hg", ".svn", "mlruns", "mlartifacts", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", ".tox"])
const notContentFiles = new Set([".DS_Store", "mlflow.db", "mlflow.db-journal", "mlflow.db-wal", "mlflow.db-shm"])

/** Names that are never content, whatever folder they are in. */
export const notContent = (name: string, isFolder: boolean): boolean =>
  isFolder ? notContentFolders.has(name) : notContentFiles.has(name) || name.endsWith(".pyc") || name.endsWith(".pyo")

export type DigestOptions = {
  env?: Env
  /** Absolute paths left out wherever they sit in the tree (a tracking store inside the project, say). */
  exclude?: readonly string[]
  /** A hash taken this soon after the file's mtime or ctime is not trusted (default 2 s: coarse filesystems tick in seconds). */
  racyMs?: number
}

/** size, mtimeMs, ctimeMs, "dev:ino", sha256, when it was hashed (ms) */
type CachedFile = [number, number, number, string, string, number]
type Record_ = { v: 2; root: string; files: Record<string, CachedFile> }

const cacheVersion = 2
// Made on the first file hashed: a run whose files the cache answers for never touches (nor zeroes) its 1 MiB.
let chunkBuffer: Buffer | null = null

const sha256File = (path: string): string => {
  const hash = new Bun.CryptoHasher("sha256")
  const chunk = (chunkBuffer ??= Buffer.allocUnsafe(1 << 20))
  const fd = openSync(path, "r")
  try {
    for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) hash.update(chunk.subarray(0, read))
  } finally {
    closeSync(fd)
  }
  return hash.digest("hex")
}

const recordPath = (root: string, env: Env): string =>
  join(cacheDir("parsed", env), `${new Bun.CryptoHasher("sha256").update(`mlproject-tree-digest\n${root}`).digest("hex")}.json`)

const readRecord = (file: string, root: string): Record_ => {
  try {
    const record = JSON.parse(readFileSync(file, "utf8")) as Record_
    if (record.v === cacheVersion && record.root === root && record.files && typeof record.files === "object") return { ...record, files: Object.assign(Object.create(null), record.files) }
  } catch {
    // No record yet, or one we cannot read: everything is hashed.
  }
  return { v: cacheVersion, root, files: {} }
}

const errno = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? "EIO"

/** The digest of `path` (a file or a folder) and whether the hash cache answered for every file. */
export const contentDigest = (path: string, options: DigestOptions = {}): { digest: string; hashed: number } => {
  const env = options.env ?? process.env
  const racyMs = options.racyMs ?? 2000
  const exclude = new Set(options.exclude ?? [])
  const file = recordPath(path, env)
  const record = readRecord(file, path)
  // A Map: a file named `__proto__` is a key like any other.
  const next = new Map<string, CachedFile>()
  const lines: string[] = []
  let hashed = 0
  const started = Date.now()

  const fileLine = (absolute: string, relative: string, stats: Stats): string => {
    const mode = stats.mode & 0o111 ? "x" : "-"
    const identity = `${stats.dev}:${stats.ino}`
    const known = record.files[relative]
    const changedAt = Math.max(stats.mtimeMs, stats.ctimeMs)
    const trusted =
      known !== undefined && known[0] === stats.size && known[1] === stats.mtimeMs && known[2] === stats.ctimeMs && known[3] === identity && known[5] - changedAt >= racyMs
    if (trusted) {
      next.set(relative, known)
      return `f\t${JSON.stringify(relative)}\t${mode}\t${known[4]}`
    }
    try {
      const sha = sha256File(absolute)
      hashed++
      next.set(relative, [stats.size, stats.mtimeMs, stats.ctimeMs, identity, sha, started])
      return `f\t${JSON.stringify(relative)}\t${mode}\t${sha}`
    } catch (error) {
      return `f\t${JSON.stringify(relative)}\t${mode}\t!${errno(error)}`
    }
  }

  const walk = (absolute: string, relative: string): void => {
    let names: string[]
    try {
      names = readdirSync(absolute).sort()
    } catch (error) {
      lines.push(`d\t${JSON.stringify(relative)}\t!${errno(error)}`)
      return
    }
    lines.push(`d\t${JSON.stringify(relative)}`)
    for (const name of names) {
      const childAbsolute = join(absolute, name)
      const childRelative = relative === "" ? name : `${relative}/${name}`
      if (exclude.has(childAbsolute)) continue
      let stats: Stats
      try {
        stats = lstatSync(childAbsolute)
      } catch (error) {
        lines.push(`?\t${JSON.stringify(childRelative)}\t!${errno(error)}`)
        continue
      }
      if (notContent(name, stats.isDirectory())) continue
      if (stats.isDirectory()) walk(childAbsolute, childRelative)
      else if (stats.isFile()) lines.push(fileLine(childAbsolute, childRelative, stats))
      else if (stats.isSymbolicLink()) lines.push(`l\t${JSON.stringify(childRelative)}\t${JSON.stringify(readlinkSync(childAbsolute))}`)
      else lines.push(`o\t${JSON.stringify(childRelative)}`)
    }
  }

  const top = statSync(path, { throwIfNoEntry: false })
  if (top === undefined) lines.push("missing")
  else if (top.isDirectory()) walk(path, "")
  else if (top.isFile()) lines.push(fileLine(path, "", top))
  else lines.push("o\t")

  const digest = new Bun.CryptoHasher("sha256").update(lines.join("\n")).digest("hex")
  saveRecord(file, record, next)
  return { digest, hashed }
}

/** Rewrites the record only when an entry changed; otherwise touches it, as the last use `cache gc` reads. */
const saveRecord = (file: string, old: Record_, files: Map<string, CachedFile>): void => {
  const before = Object.entries(old.files)
  const same = before.length === files.size && before.every(([key, entry]) => files.get(key) === entry)
  try {
    if (same) {
      const now = new Date()
      utimesSync(file, now, now)
      return
    }
    mkdirSync(join(file, ".."), { recursive: true })
    writeFileAtomic(file, JSON.stringify({ v: cacheVersion, root: old.root, files: Object.fromEntries(files) } satisfies Record_))
  } catch {
    // A read-only or missing cache only costs the next run its hashing.
  }
}
