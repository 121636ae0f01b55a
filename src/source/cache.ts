// The fetch cache (MLPROJECT_HOME/projects): entries built beside their place and renamed in under a lock, and per-run working copies.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { hostname } from "../util/os-info.ts"
import { basename, dirname, join } from "node:path"
import { ToolError } from "../errors.ts"
import { run, spawnDetached } from "../util/exec.ts"
import { liveLeases } from "../util/lease.ts"
import { cacheDir } from "../util/paths.ts"
import { acquireLock } from "../util/lock.ts"
import { claimPooled, returnToPool, snapshot } from "./working-pool.ts"

/** What a cache entry holds besides its `tree/`: enough to use it without asking the network again. */
export type EntryMeta = {
  kind: "git" | "github" | "archive" | "pack"
  /** The Git commit (git, github) or the archive's sha256. */
  id: string
  /** The project root inside `tree/` ("" or an archive's single top-level folder). */
  root: string
  /** The source, credentials removed (for people reading the cache). */
  source: string
  created: string
}

export type Entry = { dir: string; meta: EntryMeta }

export const projectsDir = (env: Record<string, string | undefined>): string => cacheDir("projects", env)

/** A readable, collision-free folder name for a repository or URL (credentials already removed). */
export const keyFor = (text: string): string => {
  const slug = text
    .replace(/^[a-z+]+:\/\//i, "")
    .replace(/\.git$/i, "")
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._]+/, "")
    .slice(-60)
  return `${slug}-${new Bun.CryptoHasher("sha256").update(text).digest("hex").slice(0, 12)}`
}

export const readEntry = (dir: string): Entry | null => {
  try {
    return { dir, meta: JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as EntryMeta }
  } catch {
    return null
  }
}

/** Cached entries under `parent` whose id starts with `prefix` (abbreviated commits). */
export const entriesWithPrefix = (parent: string, prefix: string): Entry[] => {
  if (!existsSync(parent)) return []
  return readdirSync(parent)
    .filter((name) => name.startsWith(prefix) && !name.startsWith("."))
    .map((name) => readEntry(join(parent, name)))
    .filter((entry): entry is Entry => entry !== null)
}

const randomId = () => Math.random().toString(36).slice(2, 10)

/** A fresh temporary folder beside `dir`: same file system, so the final rename is atomic. */
export const tempBeside = (dir: string, label = basename(dir)): string => {
  const tmp = join(dirname(dir), `.${label}.tmp-${process.pid}-${randomId()}`)
  mkdirSync(tmp, { recursive: true })
  return tmp
}

/** Call holding the lock of `dir`: any temp folder beside it was left by a builder that died. */
export const reapTemps = (dir: string, label = basename(dir)) => {
  const prefix = `.${label}.tmp-`
  for (const name of readdirSync(dirname(dir))) {
    if (name.startsWith(prefix)) rmSync(join(dirname(dir), name), { recursive: true, force: true })
  }
}

/** Renames a finished temp folder into place; when another run got there first, its entry wins and the temp is removed. */
export const publish = (tmp: string, dir: string, meta: EntryMeta): Entry => {
  writeFileSync(join(tmp, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`)
  try {
    renameSync(tmp, dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    rmSync(tmp, { recursive: true, force: true })
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error
  }
  const entry = readEntry(dir)
  if (!entry) throw new ToolError("source.cache", `cache entry ${dir} is unreadable`, { exitCode: 1, hint: "remove it and run again" })
  return entry
}

/**
 * The entry at `dir`, built by `build(tmp)` (which fills `tmp/tree`) under a lock when it is missing.
 * Concurrent runs of the same entry wait for the first builder instead of building it again.
 */
export const ensureEntry = async (
  dir: string,
  build: (tmp: string) => Promise<EntryMeta>,
  options: { signal?: AbortSignal; onWait?: () => void } = {},
): Promise<{ entry: Entry; cached: boolean }> => {
  const existing = readEntry(dir)
  if (existing) return { entry: existing, cached: true }
  mkdirSync(dirname(dir), { recursive: true })
  const lock = await acquireLock(`${dir}.lock`, { signal: options.signal, onWait: () => options.onWait?.(), what: "source" })
  try {
    const built = readEntry(dir)
    if (built) return { entry: built, cached: true }
    reapTemps(dir)
    const tmp = tempBeside(dir)
    try {
      const meta = await build(tmp)
      return { entry: publish(tmp, dir, meta), cached: false }
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true })
      throw error
    }
  } finally {
    lock.release()
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const host = () => hostname().replace(/[^A-Za-z0-9.-]/g, "_")

/** A name for a run's scratch folder or file: `<host>-<pid>-<random>`, so a later run can tell when its owner died. */
export const scratchName = (): string => `${host()}-${process.pid}-${randomId()}`

/** Removes scratch folders and files (working copies, downloads) left by processes on this host that died. */
export const reapDead = (dir: string) => {
  if (!existsSync(dir)) return
  for (const name of readdirSync(dir)) {
    if (name.endsWith(leasesSuffix)) continue
    const match = /^(.+)-(\d+)-[a-z0-9]+(?:\.[a-z]+)?$/.exec(name)
    if (match?.[1] !== host() || alive(Number(match[2]))) continue
    const path = join(dir, name)
    // A copy handed over to a detached run's supervisor lives as long as that supervisor does.
    if (liveLeases(leasesOf(path)).length > 0) continue
    rmSync(path, { recursive: true, force: true })
    rmSync(leasesOf(path), { recursive: true, force: true })
  }
}

const leasesSuffix = ".leases"

/** The leases of a working copy taken over by another process (a detached run's supervisor). */
export const leasesOf = (copy: string): string => `${copy}${leasesSuffix}`

/** Copies a tree (never hard links: nothing a run writes may reach the cache); reflinks where the file system has them. */
export const copyTree = async (from: string, to: string): Promise<void> => {
  const argv =
    process.platform === "linux"
      ? ["cp", "-a", "--reflink=auto", "--", from, to]
      : process.platform === "darwin"
        ? ["cp", "-a", "-c", "--", from, to]
        : null
  if (argv) {
    const result = await run(argv).catch(() => null)
    if (result?.code === 0) return
    rmSync(to, { recursive: true, force: true })
  }
  cpSync(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true })
}

export type WorkingCopy = { root: string; remove(): Promise<void> }

/** How a run's folder is made when no pooled copy fits: `from` names what it is made of (and keys the pool). */
export type CopyPlan = { from: string; make(root: string): Promise<void> }

/** The plain plan: a copy of the folder `from`. */
export const copyOf = (from: string): CopyPlan => ({ from, make: (root) => copyTree(from, root) })

/**
 * A private working folder for one run, made by `plan`. `remove()` returns an untouched copy to the pool, where the
 * next run of the same plan claims it instead of writing every file again; a changed copy is deleted.
 */
export const workingCopy = async (plan: CopyPlan, env: Record<string, string | undefined>): Promise<WorkingCopy> => {
  const runs = join(projectsDir(env), "runs")
  const pool = join(projectsDir(env), "pool")
  mkdirSync(runs, { recursive: true })
  mkdirSync(pool, { recursive: true })
  reapDead(runs)
  const root = join(runs, scratchName())
  let made = claimPooled(pool, plan.from, root, removeInBackground)
  if (!made) {
    try {
      await plan.make(root)
      made = snapshot(root)
    } catch (error) {
      rmSync(root, { recursive: true, force: true })
      // Our own failures (an interrupt, a failed checkout) already say what happened.
      if (error instanceof ToolError) throw error
      throw new ToolError("source.cache.copy", `could not copy ${plan.from} into a working folder: ${(error as Error).message}`, {
        exitCode: 1,
        hint: `check free space and permissions under ${runs}`,
        cause: error,
      })
    }
  }
  const pristine = made
  return {
    root,
    remove: async () => {
      if (!returnToPool(pool, plan.from, root, pristine)) removeInBackground(root)
    },
  }
}

/**
 * Deleting thousands of files can take longer than the run itself on some disks: the folder is renamed away at once
 * and deleted by a detached `rm`. If that dies, the name still carries our pid and the next run's reapDead removes it.
 */
const removeInBackground = (root: string): void => {
  const doomed = `${root}.trash`
  try {
    renameSync(root, doomed)
  } catch {
    rmSync(root, { recursive: true, force: true })
    return
  }
  if (!spawnDetached(["rm", "-rf", "--", doomed])) rmSync(doomed, { recursive: true, force: true })
}

/**
 * What to copy for a run and where the project is inside that copy: the entry's project root and `#subdir` in it,
 * which must exist. `x.zip#top/sub` written for mlflow (which keeps an archive's top folder) still works.
 */
export const locate = (entry: Entry, subdir: string, name: string): { from: string; inner: string } => {
  const isDir = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false
  const tree = join(entry.dir, "tree")
  if (isDir(join(tree, entry.meta.root, subdir))) return { from: join(tree, entry.meta.root), inner: subdir }
  if (entry.meta.root !== "" && subdir !== "" && isDir(join(tree, subdir))) return { from: tree, inner: subdir }
  throw subdirMissing(subdir, name)
}

export const subdirMissing = (subdir: string, name: string): ToolError =>
  new ToolError("source.subdir", `Could not find subdirectory ${subdir} of ${name}`, {
    hint: "check the part after '#' in the project URI (it is relative to the repository or archive root)",
  })
