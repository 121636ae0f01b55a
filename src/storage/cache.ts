// The download cache in MLPROJECT_HOME/downloads: one file per URI and version, filled under a lock, linked into runs.
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from "node:fs"
import { dirname, join } from "node:path"
import { writeFileAtomic } from "../util/fs-atomic.ts"
import { cacheDir } from "../util/paths.ts"
import { withLock } from "../util/lock.ts"
import { redactUrl } from "../util/redact.ts"
import type { ChecksumUsed } from "./checksum.ts"
import type { Env, ObjectInfo } from "./types.ts"

export type Filled = { bytes: number; fetched: number; checksum: ChecksumUsed }
export type CacheResult = Filled & { cached: boolean }
export type CacheOptions = { env: Env; signal?: AbortSignal; noCache: boolean }

/** The cache key: the redacted URI (no credentials) and the version, hashed. */
export const cacheKey = (info: ObjectInfo): string =>
  new Bun.CryptoHasher("sha256").update(`${redactUrl(info.uri)}\n${info.version}`).digest("hex").slice(0, 40)

const isHit = (entry: string, info: ObjectInfo): boolean => {
  try {
    const size = statSync(entry).size
    return info.size === null || size === info.size
  } catch {
    return false
  }
}

/**
 * Puts the cached file at `dest`: a hard link (instant, no extra disk), or a copy when linking fails
 * (another filesystem, a filesystem without links). The link appears under its final name atomically.
 */
export const place = (entry: string, dest: string): void => {
  mkdirSync(dirname(dest), { recursive: true })
  const temporary = `${dest}.link-${process.pid}-${Math.random().toString(36).slice(2)}`
  try {
    linkSync(entry, temporary)
  } catch {
    copyFileSync(entry, temporary)
    chmodSync(temporary, 0o644)
  }
  try {
    renameSync(temporary, dest)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
}

/** The record's mtime is the entry's last use, for `mlproject cache gc`. */
const touchRecord = (record: string): void => {
  try {
    const now = new Date()
    utimesSync(record, now, now)
  } catch {
    // No record (an entry from before records) or a read-only cache: only the last-use time is lost.
  }
}

/** The check made when the entry was filled; "none" when its record predates the field or is gone. */
const recordedChecksum = (record: string): ChecksumUsed => {
  try {
    return (JSON.parse(readFileSync(record, "utf8")) as { checksum?: ChecksumUsed }).checksum ?? "none"
  } catch {
    return "none"
  }
}

/**
 * Makes `dest` hold the object: from the cache when this URI and version were downloaded before, else by
 * `fill` into the cache (under a lock, so concurrent runs download it once) and then linked. Objects
 * without a version, and `noCache`, download straight to `dest`.
 */
export const throughCache = async (info: ObjectInfo, dest: string, options: CacheOptions, fill: (path: string) => Promise<Filled>): Promise<CacheResult> => {
  if (options.noCache || info.version === null) {
    mkdirSync(dirname(dest), { recursive: true })
    return { ...(await fill(dest)), cached: false }
  }
  const dir = cacheDir("downloads", options.env)
  mkdirSync(dir, { recursive: true })
  const entry = join(dir, cacheKey(info))
  const hit = (): CacheResult => {
    place(entry, dest)
    touchRecord(`${entry}.json`)
    return { bytes: statSync(entry).size, fetched: 0, checksum: recordedChecksum(`${entry}.json`), cached: true }
  }
  if (isHit(entry, info)) return hit()
  return withLock(
    `${entry}.lock`,
    async () => {
      // Another run may have filled it while we waited for the lock.
      if (isHit(entry, info)) return hit()
      if (existsSync(entry)) rmSync(entry, { force: true })
      const filled = await fill(entry)
      // Read-only, because runs get hard links to this very file: a program writing its input must not change the cache.
      chmodSync(entry, 0o444)
      writeFileAtomic(`${entry}.json`, JSON.stringify({ uri: redactUrl(info.uri), version: info.version, size: filled.bytes, checksum: filled.checksum, time: new Date().toISOString() }))
      place(entry, dest)
      return { ...filled, cached: false }
    },
    { signal: options.signal, what: "storage" },
  )
}
