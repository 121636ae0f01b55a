// Shared (reader) leases on cache entries: one file per holder, named by its owner, so removers can tell who still runs.
import { randomHex } from "./random.ts"
import { mkdirSync, readdirSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { errnoOf } from "./fs-atomic.ts"
import { hostTag, ownerGone, ownerTag, parseOwnerTag, type Owner } from "./owner.ts"

/**
 * A shared (reader) lease: one empty file per holder in `dir`, named by its owner tag, so any number of processes can
 * hold one at once and a remover can tell which holders still run. It says "I am using this entry", nothing more:
 * whoever removes the entry takes its lock, un-publishes it, and only then looks for leases (see `liveLeases`).
 */
export type Lease = { path: string; release(): void; [Symbol.dispose](): void }

const leaseName = /^([0-9a-f]{8}-\d+-\d+)-[0-9a-f]+\.lease$/

/** Leases from another host cannot be checked by pid: they count as live for this long after they were taken. */
const foreignLeaseMs = 7 * 86_400_000

/** Takes a lease, for this process or, with `owner`, for another one (a supervisor taking a run over). */
export const takeLease = (dir: string, owner: string = ownerTag()): Lease => {
  const path = join(dir, `${owner}-${randomHex(4)}.lease`)
  // A remover may rmdir the (empty) folder between our mkdir and our create: make it again.
  for (let attempt = 0; ; attempt++) {
    mkdirSync(dir, { recursive: true })
    try {
      writeFileSync(path, "", { flag: "wx" })
      break
    } catch (error) {
      if (errnoOf(error) !== "ENOENT" || attempt >= 5) throw error
    }
  }
  let held = true
  const release = () => {
    if (!held) return
    held = false
    rmSync(path, { force: true })
    try {
      rmdirSync(dir)
    } catch {
      // Other holders remain, or it is already gone.
    }
  }
  return { path, release, [Symbol.dispose]: release }
}

/**
 * The owners of the live leases in `dir`. Lease files of processes that are gone are deleted on the way; files that
 * are not lease files are left alone. `exceptOwn` leaves out this process's own leases.
 */
export const liveLeases = (dir: string, options: { exceptOwn?: boolean; now?: number } = {}): Owner[] => {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const now = options.now ?? Date.now()
  const live: Owner[] = []
  for (const name of names) {
    const tag = leaseName.exec(name)?.[1]
    const owner = tag === undefined ? null : parseOwnerTag(tag)
    if (!owner) continue
    if (options.exceptOwn && tag === ownerTag()) continue
    const path = join(dir, name)
    const foreignExpired = (() => {
      try {
        return owner.host !== hostTag() && now - statSync(path).mtimeMs > foreignLeaseMs
      } catch {
        return true
      }
    })()
    if (ownerGone(owner) || foreignExpired) {
      try {
        unlinkSync(path)
      } catch {
        // Released meanwhile.
      }
      continue
    }
    live.push(owner)
  }
  return live
}

/**
 * A lease when one can be taken, else null: on a cache this process cannot write (read-only, full), nobody sharing its
 * permissions can remove entries either, and refusing to run would help no one.
 */
export const tryLease = (dir: string): Lease | null => {
  try {
    return takeLease(dir)
  } catch (error) {
    if (errnoOf(error) === undefined) throw error
    return null
  }
}

/** Removes the lease folder if no lease is left in it (never a folder with files: a lease may be arriving). */
export const dropLeaseDir = (dir: string): void => {
  liveLeases(dir)
  try {
    rmdirSync(dir)
  } catch {
    // Not empty (a live lease, or a file we did not make), or already gone.
  }
}

/** Releases every lease this process holds in `dir` (also those another process took for it). */
export const releaseOwnLeases = (dir: string): void => {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) if (name.startsWith(`${ownerTag()}-`) && name.endsWith(".lease")) rmSync(join(dir, name), { force: true })
  try {
    rmdirSync(dir)
  } catch {
    // Other holders remain, or it is already gone.
  }
}
