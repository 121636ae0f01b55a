// Cache kinds made of plain files: the download cache, the parse cache, and the records of runs.
import { readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { tempOwner } from "../util/fs-atomic.ts"
import { dropLeaseDir, liveLeases } from "../util/lease.ts"
import { isLockHeld, tryLock } from "../util/lock.ts"
import { hostTag, isAlive, ownerGone, ownerTag, parseOwnerTag } from "../util/owner.ts"
import { treeBytes } from "../env/cache.ts"
import { cacheDir } from "../util/paths.ts"
import type { CacheEntry, CacheKind } from "./types.ts"

type Env = Record<string, string | undefined>

const iso = (ms: number) => new Date(ms).toISOString()

const names = (dir: string): string[] => {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

const stat = (path: string) => statSync(path, { throwIfNoEntry: false })

/** Temp files we made (util/fs-atomic.ts names, or the older `<name>.<pid>.tmp`) whose maker is gone. */
const deadTemps = (kind: string, dir: string): CacheEntry[] =>
  names(dir).flatMap((name): CacheEntry[] => {
    const owner = tempOwner(name)
    const legacy = /\.(\d+)\.tmp$/.exec(name)
    const gone = owner ? ownerGone(owner) : legacy ? !isAlive({ pid: Number(legacy[1]), start: null }) : false
    const info = gone ? stat(join(dir, name)) : undefined
    return info ? [{ kind, id: name, path: join(dir, name), bytes: info.size, last_used: iso(info.mtimeMs), in_use: false, leftover: true }] : []
  })

/**
 * Downloads: `<40 hex>` files (read-only; runs get hard links to them, which survive the removal) with a `.json`
 * record, and resumable `.part` files. Filled under `<entry>.lock`: an entry whose lock a live process holds is in use.
 */
export const downloadsKind = (env: Env): CacheKind => {
  const root = cacheDir("downloads", env)
  const files = (key: string) => [key, `${key}.json`, `${key}.part`, `${key}.part.json`].map((name) => join(root, name))
  return {
    name: "downloads",
    root,
    async list() {
      const all = new Set(names(root))
      const keys = new Set([...all].map((name) => name.slice(0, 40)).filter((key) => /^[0-9a-f]{40}$/.test(key)))
      return [...keys].flatMap((key): CacheEntry[] => {
        // Ours: a record, a resumable part, or a lock; a bare file of that name is someone else's.
        if (![`${key}.json`, `${key}.part.json`, `${key}.lock`].some((name) => all.has(name))) return []
        const stats = files(key).map(stat)
        const used = stat(join(root, `${key}.json`))?.mtimeMs ?? Math.max(0, ...stats.map((s) => s?.mtimeMs ?? 0))
        return [{
          kind: "downloads",
          id: key,
          path: join(root, key),
          bytes: stats.reduce((sum, s) => sum + (s?.size ?? 0), 0),
          last_used: iso(used),
          in_use: isLockHeld(`${join(root, key)}.lock`),
          leftover: false,
        }]
      })
    },
    async remove(entry) {
      const lock = await tryLock(`${entry.path}.lock`)
      if (lock === null) return "busy"
      try {
        for (const file of files(entry.id)) rmSync(file, { force: true })
      } finally {
        lock.release()
      }
      return "removed"
    },
  }
}

/** Parsed projects: `<64 hex>.json` records written whole (temp and rename), read whole: never in use. */
export const parsedKind = (env: Env): CacheKind => {
  const root = cacheDir("parsed", env)
  return {
    name: "parsed",
    root,
    async list() {
      const records = names(root).flatMap((name): CacheEntry[] => {
        const info = /^[0-9a-f]{64}\.json$/.test(name) ? stat(join(root, name)) : undefined
        // The loader touches a record each time it answers from it (project/load-cached.ts).
        return info ? [{ kind: "parsed", id: name, path: join(root, name), bytes: info.size, last_used: iso(info.mtimeMs), in_use: false, leftover: false }] : []
      })
      return [...records, ...deadTemps("parsed", root)]
    },
    async remove(entry) {
      rmSync(entry.path, { force: true })
      return "removed"
    },
  }
}

/** A run's record that has not ended and whose owner (its `mlproject run` or supervisor) is alive: still in use. */
const runLives = (dir: string): boolean => {
  try {
    const record = JSON.parse(readFileSync(join(dir, "record.json"), "utf8")) as { ended?: number; owner?: string }
    const owner = record.ended === undefined && record.owner ? parseOwnerTag(record.owner) : null
    return owner !== null && (owner.host !== hostTag() || isAlive(owner))
  } catch {
    return false
  }
}

/**
 * Records of runs (`runs/<run id>/`, older `runs/<run id>.json`), for status/wait/cancel from a later process. A process that
 * follows a live run holds a lease in `runs/.leases/<run id>`: such a record is in use and stays.
 */
export const runsKind = (env: Env): CacheKind => {
  const root = cacheDir("runs", env)
  const leases = (id: string) => join(root, ".leases", id)
  return {
    name: "runs",
    root,
    async list() {
      return names(root).flatMap((name): CacheEntry[] => {
        const id = /^([0-9a-f]{32})(?:\.json)?$/.exec(name)?.[1]
        const info = id ? stat(join(root, name)) : undefined
        if (!id || !info) return []
        const path = join(root, name)
        return [{ kind: "runs", id: name, path, bytes: info.isDirectory() ? treeBytes(path) : info.size, last_used: iso(info.mtimeMs), in_use: liveLeases(leases(id)).length > 0 || runLives(path), leftover: false }]
      })
    },
    async remove(entry) {
      const id = entry.id.slice(0, 32)
      // Withdrawn before the leases are read: a follower takes its lease first, then reads the record.
      const aside = join(root, `.gc-${ownerTag()}-${entry.id}`)
      try {
        renameSync(entry.path, aside)
      } catch {
        return "kept"
      }
      if (liveLeases(leases(id)).length > 0) {
        renameSync(aside, entry.path)
        return "busy"
      }
      rmSync(aside, { recursive: true, force: true })
      dropLeaseDir(leases(id))
      return "removed"
    },
  }
}
