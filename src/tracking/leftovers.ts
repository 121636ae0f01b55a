// Removes what killed writers left in a file store: staging folders in the root and temp files in run folders.
//
// Every temp name we make says who made it (`.mlproject-tmp-<host>-<pid>-<start>-<hex>`, see util/fs-atomic.ts), so a
// later process removes it only once that maker is gone; MLflow never reads these names (staging folders end in
// `.trash`, which its experiment listing skips, and a run folder's loose files are not params, tags or metrics), so
// they are litter, not damage. The sweeps are cheap: the root has a few entries, one run folder a handful; walking
// every run folder of an experiment happens at most once an hour per experiment (and host).
import { sha256Hex } from "../util/random.ts"
import { lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { tempOwner, tempPrefix } from "../util/fs-atomic.ts"
import { hostTag, ownerGone } from "../util/owner.ts"
import { isRunId } from "./experiment-id.ts"

/** A temp whose maker cannot be checked (another host sharing the store, an older version) is removed once this old. */
const uncheckableAfterMs = 24 * 3600_000

/** How often the run folders of one experiment are all looked through. */
export const experimentSweepMs = 3600_000

const isLeftover = (dir: string, name: string, now: number): boolean => {
  const owner = tempOwner(name)
  if (owner === undefined) return false
  if (owner !== null && owner.host === hostTag()) return ownerGone(owner)
  try {
    return now - lstatSync(join(dir, name)).mtimeMs > uncheckableAfterMs
  } catch {
    return false
  }
}

/** Removes the leftovers directly in `dir`; returns how many. Never fails: a sweep must not fail the write it precedes. */
export const sweepFolder = (dir: string, now: number = Date.now()): number => {
  let removed = 0
  try {
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(tempPrefix) || !isLeftover(dir, name, now)) continue
      rmSync(join(dir, name), { recursive: true, force: true })
      removed++
    }
  } catch {
    // Unreadable or gone: nothing to sweep.
  }
  return removed
}

/**
 * The file whose mtime is the last full sweep of one experiment. It lives in `$MLPROJECT_HOME/sweeps`, not in the
 * store: the store holds nothing but MLflow's own files once every writer is done.
 */
export const sweepStamp = (stamps: string, root: string, experimentId: string): string =>
  join(stamps, `${sha256Hex(root).slice(0, 16)}-${experimentId}`)

/** Sweeps every run folder of an experiment, unless that was done within the last hour. */
export const sweepExperiment = (stamps: string, root: string, experimentDir: string, experimentId: string, now: number = Date.now()): void => {
  const stamp = sweepStamp(stamps, root, experimentId)
  try {
    if (now - statSync(stamp).mtimeMs < experimentSweepMs) return
  } catch {
    // Never swept.
  }
  try {
    // Stamped first, so runs starting together do not all walk the experiment; unstampable means skip it this time.
    mkdirSync(stamps, { recursive: true })
    writeFileSync(stamp, "")
    for (const name of readdirSync(experimentDir)) if (isRunId(name)) sweepFolder(join(experimentDir, name), now)
  } catch {
    // A full disk, a read-only home: the sweep waits for a later run.
  }
}
