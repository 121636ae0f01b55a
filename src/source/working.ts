// From a cache entry to a ProjectSource: the run's own working copy, its project folder, and its cleanup.
import { rmSync, utimesSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { takeLease, tryLease } from "../util/lease.ts"
import type { SourceRequest, ProjectSource } from "./index.ts"
import { copyOf, leasesOf, locate, readEntry, subdirMissing, workingCopy, type CopyPlan, type Entry } from "./cache.ts"
import { containedSubdir } from "./local.ts"
import type { Target } from "./uri.ts"

/** One fetcher per kind of source, all with this shape. */
export type Fetcher = (target: Target, request: SourceRequest) => Promise<ProjectSource>

/**
 * The working copy, made while holding a lease on the entry so `mlproject cache gc` cannot remove the tree under the
 * copy. The lease comes first and the entry is looked at again after it: a gc that withdrew the entry before the lease
 * existed is seen here, and one that comes later sees the lease. Each copy is the entry's "last use" (meta.json mtime).
 */
const copyLeased = async (entry: Entry, plan: CopyPlan, env: Record<string, string | undefined>) => {
  using _lease = tryLease(`${entry.dir}.leases`)
  if (readEntry(entry.dir) === null) {
    throw new ToolError("source.cache.removed", `the cached project ${entry.dir} was removed (mlproject cache gc) while this run started`, {
      hint: "run again: it is fetched anew",
      exitCode: 1,
    })
  }
  try {
    const now = new Date()
    utimesSync(join(entry.dir, "meta.json"), now, now)
  } catch {
    // A read-only cache only loses the last-use time.
  }
  return await workingCopy(plan, env)
}

export const sourceFrom = async (
  entry: Entry,
  target: Target,
  subdir: string,
  kind: ProjectSource["kind"],
  git: ProjectSource["git"] | undefined,
  env: Record<string, string | undefined>,
  name = target.name,
  /** Where the project root is inside the copied tree: "" (the repository or archive) or the local folder a --version run named. */
  rootInner = "",
  /** How the run's folder is made when the entry holds no tree to copy (a Git entry's objects, checked out into it). */
  checkout?: CopyPlan,
): Promise<ProjectSource> => {
  // Without a tree in the cache, `#subdir` is looked for in the run's own folder (below), once it is checked out.
  const located = checkout ? null : locate(entry, subdir, name)
  const plan = located ? copyOf(located.from) : (checkout as CopyPlan)
  const inner = located?.inner ?? subdir
  const copy = await copyLeased(entry, plan, env)
  const dir = join(copy.root, inner)
  const root = join(copy.root, rootInner)
  try {
    if (containedSubdir(root, dir, inner) === null) throw subdirMissing(inner, name)
  } catch (error) {
    await copy.remove()
    throw error
  }
  let handedOver = false
  return {
    dir,
    root,
    name,
    kind,
    ...(git ? { git } : {}),
    ...(kind === "archive" ? { archive: { sha256: entry.meta.id } } : {}),
    cleanup: async () => {
      if (handedOver) return
      await copy.remove()
      // Leases other processes held on a shared copy (a sweep's trials) have ended with them.
      rmSync(leasesOf(copy.root), { recursive: true, force: true })
    },
    handOver(owner) {
      takeLease(leasesOf(copy.root), owner)
      handedOver = true
      return [copy.root]
    },
    lease(owner) {
      takeLease(leasesOf(copy.root), owner)
    },
  }
}
