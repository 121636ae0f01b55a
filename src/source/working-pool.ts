// Pristine working copies kept for the next run of the same tree: reused only when lstat proves, at the claim, that nothing changed.
import { randomHex, sha256Hex } from "../util/random.ts"
import { lstatSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** Relative path → what lstat says; ctime cannot be set from user space, so any write, chmod or rename shows. */
type Snapshot = Record<string, string>

const maxPooledPerTree = 4

const walk = (root: string, relative: string, out: Snapshot): void => {
  for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
    const path = relative === "" ? entry.name : `${relative}/${entry.name}`
    const stat = lstatSync(join(root, path), { bigint: true })
    out[path] = `${stat.mode}:${stat.size}:${stat.ino}:${stat.mtimeNs}:${stat.ctimeNs}`
    if (entry.isDirectory()) walk(root, path, out)
  }
}

/** Every entry below the root (the root itself is renamed in and out of the pool, which changes its ctime). */
export const snapshot = (root: string): Snapshot => {
  const out: Snapshot = {}
  walk(root, "", out)
  return out
}

const same = (a: Snapshot, b: Snapshot): boolean => {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key])
}

const keyOf = (from: string): string => sha256Hex(from).slice(0, 16)

const pooled = (pool: string, key: string): string[] => {
  try {
    return readdirSync(pool).filter((name) => name.startsWith(`${key}-`) && !name.endsWith(".json"))
  } catch {
    return []
  }
}

/**
 * Moves a pooled copy of `from` to `to` and proves it still matches the record made when it was copied; returns that
 * record, or null when no pooled copy qualifies (another run may win the race). The proof is made now, at the claim:
 * a process the earlier run left behind may have changed the copy after it was returned.
 */
export const claimPooled = (pool: string, from: string, to: string, discard: (dir: string) => void): Snapshot | null => {
  for (const name of pooled(pool, keyOf(from))) {
    try {
      renameSync(join(pool, name), to)
    } catch {
      continue
    }
    let taken: Snapshot | null = null
    try {
      taken = JSON.parse(readFileSync(join(pool, `${name}.json`), "utf8")) as Snapshot
    } catch {
      // No record of what it looked like: it cannot be trusted as pristine.
    }
    rmSync(join(pool, `${name}.json`), { force: true })
    if (taken && unchanged(to, taken)) return taken
    discard(to)
  }
  return null
}

const unchanged = (root: string, made: Snapshot): boolean => {
  try {
    return same(made, snapshot(root))
  } catch {
    return false
  }
}

/** Puts a copy back for the next run when it is exactly as it was made; false when the run changed anything. */
export const returnToPool = (pool: string, from: string, root: string, made: Snapshot): boolean => {
  const key = keyOf(from)
  if (pooled(pool, key).length >= maxPooledPerTree) return false
  // A copy the run changed is not worth a place in the pool (the claim would refuse it anyway).
  if (!unchanged(root, made)) return false
  const name = `${key}-${randomHex(6)}`
  // The record goes first: a claimer that wins the folder always finds it.
  writeFileSync(join(pool, `${name}.json`), JSON.stringify(made))
  try {
    renameSync(root, join(pool, name))
    return true
  } catch {
    rmSync(join(pool, `${name}.json`), { force: true })
    return false
  }
}
