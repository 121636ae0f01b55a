// Where cached environments live and their completion manifests: the root, one entry's paths, read, touch, list.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from "node:fs"
import { join } from "node:path"
import { writeFileAtomic } from "../util/fs-atomic.ts"
import { liveLeases } from "../util/lease.ts"
import { ownerTag } from "../util/owner.ts"
import { cacheDir } from "../util/paths.ts"
import type { EnvEntry, EnvTool } from "./events.ts"

type Env = Record<string, string | undefined>

/**
 * MLFLOW_ENV_ROOT, when set, replaces `$MLPROJECT_HOME/envs` for every manager (MLflow uses it for its
 * virtualenvs). Our folders are named `<manager>-<16 hex>`, MLflow's `mlflow-<sha1>`, so the two never
 * collide, and list/gc only touch folders that carry our manifest or our lock.
 */
export const envRoot = (env: Env = process.env): string =>
  env.MLFLOW_ENV_ROOT && env.MLFLOW_ENV_ROOT !== "" ? env.MLFLOW_ENV_ROOT : cacheDir("envs", env)

export type Manifest = {
  format: 1
  key: string
  manager: EnvTool
  python: string | null
  prefix: string
  /** The environment file it was built from. */
  source: string
  created: string
  build_ms: number
}

export type EntryPaths = { root: string; key: string; prefix: string; manifest: string; lock: string; log: string; logDir: string; leases: string }

/**
 * The manifest sits beside the prefix, not in it: deleting it first un-publishes the entry before its files go.
 * `leases` holds one file per run using the environment (util/lock.ts takeLease).
 */
export const entryPaths = (root: string, key: string): EntryPaths => ({
  root,
  key,
  prefix: join(root, key),
  manifest: join(root, `${key}.json`),
  lock: join(root, `${key}.lock`),
  logDir: join(root, ".logs"),
  log: join(root, ".logs", `${key}.log`),
  leases: join(root, ".leases", key),
})

export const keyPattern = /^(virtualenv|uv|conda)-[0-9a-f]{16}$/

/** The file a usable prefix must still have: an environment someone half-deleted by hand is not trusted. */
const vital = (manifest: Manifest): string => (manifest.manager === "conda" ? "conda-meta" : join("bin", "python"))

export const readManifest = (paths: EntryPaths): Manifest | null => {
  try {
    const manifest = JSON.parse(readFileSync(paths.manifest, "utf8")) as Manifest
    return manifest.format === 1 && manifest.key === paths.key && existsSync(join(paths.prefix, vital(manifest))) ? manifest : null
  } catch {
    return null
  }
}

/** Written last, atomically: its presence is the one promise that the prefix is complete. */
export const writeManifest = (paths: EntryPaths, manifest: Manifest): void =>
  writeFileAtomic(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`)

/**
 * Takes the manifest out of its place, so a run that looks from now on finds no environment and waits for the entry's
 * lock (which the caller holds). Together with "lease first, then read the manifest" on the run's side, a remover that
 * withdraws and then finds no live lease knows that no run is using the prefix, nor will. Null when there is none.
 */
export const withdrawManifest = (paths: EntryPaths): { restore(): void; discard(): void } | null => {
  const aside = `${paths.manifest}.${ownerTag()}.withdrawn`
  try {
    renameSync(paths.manifest, aside)
  } catch {
    return null
  }
  return {
    restore: () => renameSync(aside, paths.manifest),
    discard: () => rmSync(aside, { force: true }),
  }
}

/**
 * "Last used" is the manifest's mtime. Touching a time (rather than rewriting the file) cannot resurrect a
 * manifest that `env gc` just deleted: utimes on a missing file fails.
 */
export const touchManifest = (paths: EntryPaths): void => {
  try {
    const now = new Date()
    utimesSync(paths.manifest, now, now)
  } catch {
    // Removed meanwhile by gc: nothing to record.
  }
}

/** Apparent size of a tree, each inode once, symlinks not followed. */
export const treeBytes = (path: string): number => {
  const seen = new Set<string>()
  const walk = (p: string): number => {
    let stat
    try {
      stat = lstatSync(p)
    } catch {
      return 0
    }
    const id = `${stat.dev}:${stat.ino}`
    if (seen.has(id)) return 0
    seen.add(id)
    if (!stat.isDirectory()) return stat.size
    let total = stat.size
    for (const name of readdirSync(p)) total += walk(join(p, name))
    return total
  }
  return walk(path)
}

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Every entry under the root: complete ones (with a manifest), folders left by a crashed or running build (they still
 * have our lock file or manifest), and folders that merely look like ours (`owned: false`), which nothing removes.
 */
export const listEntries = (root: string): EnvEntry[] => {
  if (!existsSync(root)) return []
  const keys = new Set(
    readdirSync(root)
      .map((name) => name.replace(/\.(json|lock)$/, ""))
      .filter((name) => keyPattern.test(name)),
  )
  return [...keys].sort().map((key) => {
    const paths = entryPaths(root, key)
    const manifest = readManifest(paths)
    const owned = manifest !== null || existsSync(paths.lock) || existsSync(paths.manifest)
    const touched = manifest ? statSync(paths.manifest).mtimeMs : existsSync(paths.prefix) ? statSync(paths.prefix).mtimeMs : 0
    return {
      key,
      manager: (manifest?.manager ?? key.slice(0, key.lastIndexOf("-"))) as EnvTool,
      python: manifest?.python ?? null,
      prefix: paths.prefix,
      bytes: existsSync(paths.prefix) ? treeBytes(paths.prefix) : 0,
      created: manifest?.created ?? iso(touched),
      last_used: iso(touched),
      source: manifest?.source ?? "",
      complete: manifest !== null,
      owned,
      in_use: liveLeases(paths.leases).length,
    }
  })
}

export const ensureDir = (path: string): void => void mkdirSync(path, { recursive: true })
