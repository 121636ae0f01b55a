// A deterministic .tar.gz of a project folder under `mlflow-project/`, the shape MLflow's Databricks backend unpacks,
// and the memory of the last one packed, so an unchanged project is neither packed nor uploaded again.
import { mkdirSync, readFileSync } from "node:fs"
import { basename, join, resolve } from "node:path"
import { ToolError } from "../errors.ts"
import type { DetTarResult } from "../util/det-tar.ts"
import { writeFileAtomic } from "../util/fs-atomic.ts"
import { mlprojectHome } from "../util/paths.ts"
import { sha256Hex } from "../util/random.ts"
import { walkTree } from "../util/tree-walk.ts"
import { buildId } from "../version.ts"

type Env = Record<string, string | undefined>

/** The folder MLflow's Databricks backend unpacks the project from. */
export const archiveRoot = "mlflow-project"

// What a run writes and what git keeps: neither belongs to the project's code, at any depth.
const excluded = new Set(["mlruns", ".git"])
const exclude = (path: string) => excluded.has(basename(path))

// A change within this long of the packing may share its timestamp tick with an earlier state (git's "racy clean"):
// a tree with such an entry is packed again rather than trusted.
const racyMs = 2000

const archiveError = (message: string, cause?: unknown) =>
  new ToolError("databricks.archive", message, { hint: "check that the project folder is readable and not being changed while the run starts", exitCode: 1, cause })

export type ArchiveResult = DetTarResult

// `build`: the binary that packed it; another build may pack the same tree differently, and reuses nothing.
type Memo = { v: 1; build: string; dir: string; stamp: string; packedAt: number; archive: ArchiveResult }

const thisBuild = buildId ?? "source"

/** Every entry the archive would hold, with its lstat, as one digest; and the latest change among them. */
const treeStamp = async (dir: string): Promise<{ stamp: string; changedMs: number }> => {
  const hash = new Bun.CryptoHasher("sha256")
  let changedMs = 0
  for await (const entry of walkTree(dir, exclude)) {
    hash.update(`${entry.kind} ${entry.relative}\0${entry.stat} ${entry.target ?? ""}\n`)
    changedMs = Math.max(changedMs, entry.changedMs)
  }
  return { stamp: hash.digest("hex"), changedMs }
}

const memoFile = (dir: string, env: Env) => join(mlprojectHome(env), "databricks", `archive-${sha256Hex(dir).slice(0, 16)}.json`)

/**
 * What packing `dir` gave last time, when every entry still has the stat it had then (size, mtime, ctime, inode,
 * mode: a write always moves ctime) and none changed near the packing; null otherwise.
 */
export const packedBefore = async (dir: string, env: Env, options: { racyMs?: number } = {}): Promise<ArchiveResult | null> => {
  const folder = resolve(dir)
  let memo: Memo
  try {
    memo = JSON.parse(readFileSync(memoFile(folder, env), "utf8")) as Memo
  } catch {
    return null
  }
  if (memo.v !== 1 || memo.build !== thisBuild || memo.dir !== folder || typeof memo.archive?.sha256 !== "string") return null
  try {
    const now = await treeStamp(folder)
    return now.stamp === memo.stamp && now.changedMs < memo.packedAt - (options.racyMs ?? racyMs) ? memo.archive : null
  } catch {
    // A folder that cannot be walked now is reported by the packing that follows.
    return null
  }
}

/**
 * Writes `dir` as a gzipped tar to `outFile`: entries in byte order, mtime 0, uid/gid 0, modes 0644 or 0755,
 * symlinks stored as links (never followed), `mlruns` and `.git` left out. The same tree gives the same bytes.
 * With `env`, the result is remembered for `packedBefore` when the tree did not change while it was packed.
 */
export const projectArchive = async (dir: string, outFile: string, env?: Env): Promise<ArchiveResult> => {
  const folder = resolve(dir)
  const packedAt = Date.now()
  const before = env ? await treeStamp(folder).catch(() => null) : null
  // Loaded only to pack: zlib and streams cost a fresh process milliseconds that a reused archive does not need.
  const { writeDeterministicTarGz } = await import("../util/det-tar.ts")
  const archive = await writeDeterministicTarGz(folder, outFile, { root: archiveRoot, exclude, level: 6, error: archiveError })
  if (!env || !before) return archive
  try {
    const after = await treeStamp(folder)
    if (after.stamp !== before.stamp) return archive
    const file = memoFile(folder, env)
    mkdirSync(join(file, ".."), { recursive: true })
    writeFileAtomic(file, JSON.stringify({ v: 1, build: thisBuild, dir: folder, stamp: before.stamp, packedAt, archive } satisfies Memo))
  } catch {
    // A read-only home packs again next time.
  }
  return archive
}
