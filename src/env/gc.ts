// `mlproject env gc`: removes environments unused for a while (or all), and leftovers of crashed builds.
import { readdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { entryPaths, listEntries, readManifest, withdrawManifest, type EntryPaths } from "./cache.ts"
import type { EnvEmit } from "./events.ts"
import { dropLeaseDir, liveLeases } from "../util/lease.ts"
import { tryLock } from "../util/lock.ts"

/** Durations are parsed once for every cache command. */
export { parseAge } from "../cache/units.ts"

export type GcOptions = { olderThanMs: number; all: boolean; emit: EnvEmit; now?: number }

/** Deletes the (withdrawn) manifest first, then the prefix, its logs and its empty lease folder; under the entry's lock. */
const remove = (root: string, key: string): void => {
  const paths = entryPaths(root, key)
  rmSync(paths.manifest, { force: true })
  rmSync(paths.prefix, { recursive: true, force: true })
  try {
    for (const name of readdirSync(paths.logDir)) if (name.startsWith(`${key}.`)) rmSync(join(paths.logDir, name), { force: true })
  } catch {
    // No logs folder.
  }
  dropLeaseDir(paths.leases)
}

export type GcVerdict = "removed" | "kept" | "busy"

/**
 * Removes one entry unless it is being built (its lock) or used (a live lease), deciding again under the lock: a build
 * may have finished, or a run used the entry, since the listing. The manifest is withdrawn before the leases are read,
 * so a run arriving meanwhile waits for the lock instead of starting in a prefix about to go.
 */
export const removeEntry = async (root: string, key: string, still: (paths: EntryPaths) => boolean): Promise<GcVerdict> => {
  const paths = entryPaths(root, key)
  const lock = await tryLock(paths.lock)
  if (lock === null) return "busy"
  try {
    if (!still(paths)) return "kept"
    const withdrawn = withdrawManifest(paths)
    if (liveLeases(paths.leases).length > 0) {
      withdrawn?.restore()
      return "busy"
    }
    withdrawn?.discard()
    remove(root, key)
    return "removed"
  } finally {
    lock.release()
  }
}

/**
 * An entry being built (its lock held by a live process) or used by a live run (a lease) is never touched, and neither
 * is a folder that only looks like ours (no manifest, no lock file: `owned` false). `--older-than` removes entries not
 * used for that long, `--all` every other one; folders left by crashed builds go in both cases.
 */
export const collectGarbage = async (
  root: string,
  options: GcOptions,
): Promise<{ removed: number; bytes: number; kept: number; busy: number; unknown: number }> => {
  const now = options.now ?? Date.now()
  const totals = { removed: 0, bytes: 0, kept: 0, busy: 0, unknown: 0 }
  for (const entry of listEntries(root)) {
    if (!entry.owned) {
      totals.unknown++
      continue
    }
    const reason = !entry.complete ? "incomplete" : options.all ? "all" : now - Date.parse(entry.last_used) > options.olderThanMs ? "unused" : null
    if (reason === null) {
      totals.kept++
      continue
    }
    const verdict = await removeEntry(root, entry.key, (paths) => {
      const manifest = readManifest(paths)
      if (reason === "incomplete") return manifest === null
      return manifest !== null && (reason === "all" || now - statSync(paths.manifest).mtimeMs > options.olderThanMs)
    })
    if (verdict !== "removed") {
      totals[verdict]++
      continue
    }
    totals.removed++
    totals.bytes += entry.bytes
    options.emit({ type: "env.removed", key: entry.key, prefix: entry.prefix, bytes: entry.bytes, reason })
  }
  options.emit({ type: "env.collected", root, ...totals })
  return totals
}
