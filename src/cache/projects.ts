// Cache kinds of the fetch cache ($MLPROJECT_HOME/projects): fetched trees, pooled working copies, per-run scratch.
import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs"
import { hostname } from "../util/os-info.ts"
import { join } from "node:path"
import { treeBytes } from "../env/cache.ts"
import { projectsDir, readEntry } from "../source/cache.ts"
import { dropLeaseDir, liveLeases } from "../util/lease.ts"
import { tryLock } from "../util/lock.ts"
import { isAlive, ownerTag } from "../util/owner.ts"
import type { CacheEntry, CacheKind, RemoveVerdict } from "./types.ts"

type Env = Record<string, string | undefined>

const iso = (ms: number) => new Date(ms).toISOString()

const subdirs = (dir: string): string[] => {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
  } catch {
    return []
  }
}

const mtimeOf = (path: string): number => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return 0
  }
}

/** Where a run using a fetched tree holds its lease (source/working.ts): beside the entry, so removing it keeps them. */
export const entryLeases = (dir: string): string => `${dir}.leases`

/** A builder's temp folder beside an entry (`.<name>.tmp-<pid>-<random>`, source/cache.ts tempBeside). */
const builderTemp = /^\.(.+)\.tmp-(\d+)-[a-z0-9]+$/
/** The pid in a builder's temp name cannot say which host: on a cache shared over NFS it counts only once this old. */
const builderTempAfterMs = 86_400_000

/** Fetched trees: `git/<repo>/<commit>`, `github/<repo>/<commit>`, `archive/<sha256>`, `pack/<sha256>`, each with our meta.json. */
const fetchedDirs = (projects: string): Array<{ id: string; dir: string }> => [
  ...["git", "github"].flatMap((kind) =>
    subdirs(join(projects, kind)).flatMap((repo) =>
      subdirs(join(projects, kind, repo)).map((name) => ({ id: `${kind}/${repo}/${name}`, dir: join(projects, kind, repo, name) })),
    ),
  ),
  ...["archive", "pack"].flatMap((kind) => subdirs(join(projects, kind)).map((name) => ({ id: `${kind}/${name}`, dir: join(projects, kind, name) }))),
]

const fetchedEntry = (id: string, dir: string, now: number): CacheEntry | null => {
  const name = dir.slice(dir.lastIndexOf("/") + 1)
  const temp = builderTemp.exec(name)
  if (temp) {
    const gone = !isAlive({ pid: Number(temp[2]), start: null }) && now - mtimeOf(dir) > builderTempAfterMs
    return { kind: "projects", id, path: dir, bytes: treeBytes(dir), last_used: iso(mtimeOf(dir)), in_use: !gone, leftover: gone }
  }
  if (name.startsWith(".")) return null
  const entry = readEntry(dir)
  if (!entry || !["git", "github", "archive", "pack"].includes(entry.meta.kind)) return null
  return {
    kind: "projects",
    id,
    path: dir,
    bytes: treeBytes(dir),
    // source/working.ts touches meta.json each time a run copies the tree.
    last_used: iso(mtimeOf(join(dir, "meta.json"))),
    in_use: liveLeases(entryLeases(dir)).length > 0,
    leftover: false,
  }
}

/**
 * Removes a fetched tree under its entry lock: meta.json is withdrawn first (a run looking now waits for the lock and
 * fetches again), then the leases are read, so a run that is copying the tree keeps it.
 */
const removeFetched = async (entry: CacheEntry): Promise<RemoveVerdict> => {
  if (entry.leftover) {
    rmSync(entry.path, { recursive: true, force: true })
    return "removed"
  }
  const lock = await tryLock(`${entry.path}.lock`)
  if (lock === null) return "busy"
  try {
    const meta = join(entry.path, "meta.json")
    const aside = join(entry.path, `.meta.json.${ownerTag()}.withdrawn`)
    try {
      renameSync(meta, aside)
    } catch {
      return "kept"
    }
    if (liveLeases(entryLeases(entry.path)).length > 0) {
      renameSync(aside, meta)
      return "busy"
    }
    const doomed = join(entry.path, "..", `.gc-${ownerTag()}-${entry.path.slice(entry.path.lastIndexOf("/") + 1)}`)
    renameSync(entry.path, doomed)
    rmSync(doomed, { recursive: true, force: true })
    dropLeaseDir(entryLeases(entry.path))
    return "removed"
  } finally {
    lock.release()
  }
}

export const projectsKind = (env: Env): CacheKind => {
  const root = projectsDir(env)
  return {
    name: "projects",
    root,
    async list() {
      const now = Date.now()
      // Builders' temp folders sit among the entries, so the same walk finds them.
      return fetchedDirs(root)
        .map(({ id, dir }) => fetchedEntry(id, dir, now))
        .filter((entry): entry is CacheEntry => entry !== null)
    },
    remove: removeFetched,
  }
}

/** Pooled copies: `pool/<tree key>-<hex>` folders, each with its `.json` record (source/working-pool.ts). */
export const poolKind = (env: Env): CacheKind => {
  const root = join(projectsDir(env), "pool")
  return {
    name: "pool",
    root,
    async list() {
      return subdirs(root)
        .filter((name) => /^[0-9a-f]{16}-[0-9a-f]{12}$/.test(name))
        .map((name) => ({
          kind: "pool",
          id: name,
          path: join(root, name),
          bytes: treeBytes(join(root, name)),
          // The record is written when the copy enters the pool; a claimed copy leaves the pool at once.
          last_used: iso(mtimeOf(join(root, `${name}.json`)) || mtimeOf(join(root, name))),
          in_use: false,
          leftover: !existsSync(join(root, `${name}.json`)),
        }))
    },
    async remove(entry) {
      // Renaming it away is the claim: a run that renamed it first has it, and it is not ours to remove.
      const doomed = join(root, `.gc-${ownerTag()}-${entry.id}`)
      try {
        renameSync(entry.path, doomed)
      } catch {
        return "kept"
      }
      rmSync(`${entry.path}.json`, { force: true })
      rmSync(doomed, { recursive: true, force: true })
      return "removed"
    },
  }
}

const hostPart = () => hostname().replace(/[^A-Za-z0-9.-]/g, "_")
/** Scratch names from source/cache.ts scratchName: `<host>-<pid>-<random>`, plus `.trash` or a file extension. */
const scratchPattern = /^(.+)-(\d+)-[a-z0-9]+(?:\.[a-z.]+)?$/

/**
 * Per-run working copies (`runs/`) and fetch scratch files (`tmp/`): in use while the run that made them lives; once it
 * is gone they are leftovers, removed by every gc. One from another host is never judged.
 */
export const workdirsKind = (env: Env): CacheKind => {
  const root = projectsDir(env)
  return {
    name: "workdirs",
    root,
    async list() {
      return ["runs", "tmp"].flatMap((folder) => {
        let names: string[]
        try {
          names = readdirSync(join(root, folder))
        } catch {
          return []
        }
        return names.flatMap((name): CacheEntry[] => {
          const match = name.endsWith(".leases") ? null : scratchPattern.exec(name)
          if (!match) return []
          const path = join(root, folder, name)
          // A copy handed over to a detached run's supervisor is in use while that supervisor lives.
          const gone = match[1] === hostPart() && !isAlive({ pid: Number(match[2]), start: null }) && liveLeases(`${path}.leases`).length === 0
          return [{ kind: "workdirs", id: `${folder}/${name}`, path, bytes: treeBytes(path), last_used: iso(mtimeOf(path)), in_use: !gone, leftover: gone }]
        })
      })
    },
    async remove(entry) {
      if (!entry.leftover) return "busy"
      rmSync(entry.path, { recursive: true, force: true })
      return "removed"
    },
  }
}
