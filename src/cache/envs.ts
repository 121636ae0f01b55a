// The environment cache (MLFLOW_ENV_ROOT or $MLPROJECT_HOME/envs) as a cache kind: the same rules as `mlproject env gc`.
import { envRoot, listEntries, readManifest } from "../env/cache.ts"
import { removeEntry } from "../env/gc.ts"
import { isLockHeld } from "../util/lock.ts"
import type { CacheKind } from "./types.ts"

type Env = Record<string, string | undefined>

export const envsKind = (env: Env): CacheKind => {
  const root = envRoot(env)
  return {
    name: "envs",
    root,
    async list() {
      // Folders that only look like ours are not listed: nothing here may remove them.
      return listEntries(root)
        .filter((entry) => entry.owned)
        .map((entry) => {
          const building = isLockHeld(`${entry.prefix}.lock`)
          return {
            kind: "envs",
            id: entry.key,
            path: entry.prefix,
            bytes: entry.bytes,
            last_used: entry.last_used,
            in_use: entry.in_use > 0 || building,
            leftover: !entry.complete && !building,
          }
        })
    },
    async remove(entry) {
      // Decided again under the entry's lock: a crash leftover must still be one, a complete entry still complete.
      return removeEntry(root, entry.id, (paths) => (readManifest(paths) === null) === entry.leftover)
    },
  }
}
