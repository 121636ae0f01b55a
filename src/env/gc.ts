// `mlproject env gc`: removes environments unused for a while (or all), and leftovers of crashed builds.
import { readdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { entryPaths, listEntries, readManifest } from "./cache.ts"
import type { EnvEmit } from "./events.ts"
import { tryLock } from "../util/lock.ts"

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }

/** "30d", "12h", "90m", "2w", "45s" → milliseconds. */
export const parseAge = (text: string): number => {
  const match = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim())
  if (!match) {
    throw new ToolError("usage", `invalid duration '${text}' for --older-than`, { hint: "use a number and a unit: 45s, 90m, 12h, 30d, 2w" })
  }
  return Number(match[1]) * (units[match[2] as string] as number)
}

export type GcOptions = { olderThanMs: number; all: boolean; emit: EnvEmit; now?: number }

/** Deletes the manifest first (un-publishing the entry), then the prefix and its logs; under the entry's lock. */
const remove = (root: string, key: string): void => {
  const paths = entryPaths(root, key)
  rmSync(paths.manifest, { force: true })
  rmSync(paths.prefix, { recursive: true, force: true })
  try {
    for (const name of readdirSync(paths.logDir)) if (name.startsWith(`${key}.`)) rmSync(join(paths.logDir, name), { force: true })
  } catch {
    // No logs folder.
  }
}

/**
 * An entry being built (its lock held by a live process) is never touched. A run that is using an
 * environment holds no lock: `--all` can remove it from under a running run, `--older-than` only when it
 * has not been used for that long.
 */
export const collectGarbage = async (root: string, options: GcOptions): Promise<{ removed: number; bytes: number; kept: number; busy: number }> => {
  const now = options.now ?? Date.now()
  const totals = { removed: 0, bytes: 0, kept: 0, busy: 0 }
  for (const entry of listEntries(root)) {
    const reason = !entry.complete ? "incomplete" : options.all ? "all" : now - Date.parse(entry.last_used) > options.olderThanMs ? "unused" : null
    if (reason === null) {
      totals.kept++
      continue
    }
    const lock = await tryLock(entryPaths(root, entry.key).lock)
    if (lock === null) {
      totals.busy++
      continue
    }
    try {
      // Decided from a listing: a build may have finished, or a run used the entry, since then.
      const paths = entryPaths(root, entry.key)
      const stillIncomplete = readManifest(paths) === null
      const usedSince = !stillIncomplete && reason === "unused" && now - statSync(paths.manifest).mtimeMs <= options.olderThanMs
      if ((reason === "incomplete" && !stillIncomplete) || usedSince) {
        totals.kept++
        continue
      }
      remove(root, entry.key)
    } finally {
      lock.release()
    }
    totals.removed++
    totals.bytes += entry.bytes
    options.emit({ type: "env.removed", key: entry.key, prefix: entry.prefix, bytes: entry.bytes, reason })
  }
  options.emit({ type: "env.collected", root, ...totals })
  return totals
}
