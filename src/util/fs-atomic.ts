// Crash- and full-disk-safe file writes: temp then rename (replace) or hard link (create), undoable appends, owned temp names.
import { randomHex } from "./random.ts"
import { closeSync, fstatSync, ftruncateSync, linkSync, openSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from "node:fs"
import { dirname, join } from "node:path"
import { ownerTag, parseOwnerTag, type Owner } from "./owner.ts"

/** Every temp name this tool makes starts with this, so leftovers are easy to spot and sweep. */
export const tempPrefix = ".mlproject-tmp-"

/** `.mlproject-tmp-<host>-<pid>-<start>-<random>`: whoever finds it after a crash can tell whether its maker still runs. */
export const tempName = (): string => `${tempPrefix}${ownerTag()}-${randomHex(4)}`

// Names from before owner tags (`.mlproject-tmp-<16 hex>`) are recognised too; their maker cannot be known.
const tempPattern = /^\.mlproject-tmp-(?:([0-9a-f]{8}-\d+-\d+)-[0-9a-f]{8}|[0-9a-f]{16})(?:\.trash)?$/

/** undefined: not one of our temp names; null: ours, but from a version that did not record its maker. */
export const tempOwner = (name: string): Owner | null | undefined => {
  const match = tempPattern.exec(name)
  if (!match) return undefined
  return match[1] === undefined ? null : parseOwnerTag(match[1])
}

export const errnoOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined

/** The errors that mean "no room": the filesystem is full, or the user's quota is spent. */
export const isNoSpace = (error: unknown): boolean => errnoOf(error) === "ENOSPC" || errnoOf(error) === "EDQUOT"

export const removeQuietly = (path: string): void => {
  try {
    unlinkSync(path)
  } catch {
    // Already gone.
  }
}

/**
 * Writes `data` to a new temp file in `tempDir`. A write that fails part-way (a full disk) removes the temp file,
 * so nothing half-written is left behind.
 */
const writeTemp = (tempDir: string, data: string): string => {
  const temp = join(tempDir, tempName())
  try {
    // "wx": never follow or reuse a path someone else made; the default mode keeps the umask's permissions.
    writeFileSync(temp, data, { flag: "wx" })
  } catch (error) {
    if (errnoOf(error) !== "EEXIST") removeQuietly(temp)
    throw error
  }
  return temp
}

/**
 * Replaces `target` in one step, so a reader sees the old or the new content, never a partial file.
 * `tempDir` must be on the same filesystem; it defaults to the target's own folder.
 */
export const writeFileAtomic = (target: string, data: string, tempDir = dirname(target)): void => {
  const temp = writeTemp(tempDir, data)
  try {
    renameSync(temp, target)
  } catch (error) {
    removeQuietly(temp)
    throw error
  }
}

/**
 * Creates `target` with `data` only if nothing is there yet, atomically: a hard link never replaces a
 * file. Returns false when the target already existed (its content is untouched).
 */
export const createFileAtomic = (target: string, data: string, tempDir = dirname(target)): boolean => {
  const temp = writeTemp(tempDir, data)
  try {
    linkSync(temp, target)
    return true
  } catch (error) {
    if (errnoOf(error) === "EEXIST") return false
    // Filesystems without hard links (some network and FUSE mounts): check, then rename.
    if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK", "EXDEV"].includes(errnoOf(error) ?? "")) throw error
    if (pathExists(target)) return false
    renameSync(temp, target)
    return true
  } finally {
    removeQuietly(temp)
  }
}

const noSpaceError = (target: string, written: number, wanted: number): Error =>
  Object.assign(new Error(`ENOSPC: no space left on device, write '${target}' (${written} of ${wanted} bytes)`), { code: "ENOSPC", errno: -28, syscall: "write", path: target })

/** True when the file's last `tail.length` bytes are `tail`: our own partial write is still the end of the file. */
const endsWith = (fd: number, size: number, tail: Uint8Array): boolean => {
  if (tail.length === 0 || size < tail.length) return false
  const found = new Uint8Array(tail.length)
  readSync(fd, found, 0, tail.length, size - tail.length)
  return found.every((byte, i) => byte === tail[i])
}

/**
 * Cuts a failed append back off. What landed is measured rather than taken from write()'s answer: a runtime may retry
 * a short write itself and then throw with no count.
 */
const undoAppend = (fd: number, bytes: Uint8Array, sizeBefore: number): void => {
  try {
    const size = fstatSync(fd).size
    const landed = size - sizeBefore
    // Another writer may have appended meanwhile; then its bytes end the file and nothing is cut.
    if (landed > 0 && landed < bytes.length && endsWith(fd, size, bytes.subarray(0, landed))) ftruncateSync(fd, sizeBefore)
  } catch {
    // Best effort: the original error is what the caller reports.
  }
}

/**
 * Appends `data` (whole lines) to `target`. Metric files are appended to by the entry point's own MLflow client while
 * we write, so an existing file is never replaced: one O_APPEND write, which does not interleave with other writers'
 * lines on local filesystems. A new file is made whole, in `tempDir`, and linked into place, so no reader ever sees it
 * empty or half-written (MLflow's reader fails on an empty metric file and on a partial line, for the whole run).
 * A write the disk cannot hold (ENOSPC, EDQUOT, a short write) is cut back off: a failed append leaves the file
 * exactly as it was.
 */
export const appendAtomic = (target: string, data: string, tempDir = dirname(target)): void => {
  if (!pathExists(target) && createFileAtomic(target, data, tempDir)) return
  const bytes = new TextEncoder().encode(data)
  // Opened for reading too: the undo reads the file's tail to be sure it cuts only its own bytes.
  const fd = openSync(target, "a+")
  let sizeBefore = 0
  try {
    sizeBefore = fstatSync(fd).size
    const written = writeSync(fd, bytes)
    // A short write is the kernel saying it ran out of room part-way; a second write would only report ENOSPC.
    if (written !== bytes.length) throw noSpaceError(target, written, bytes.length)
  } catch (error) {
    undoAppend(fd, bytes, sizeBefore)
    closeSync(fd)
    throw error
  }
  closeSync(fd)
}

/**
 * What is at `path`, or undefined when nothing is: also for ENOTDIR, a file where the path needs a folder
 * (`notes.txt/x`), which statSync's throwIfNoEntry does not cover. Other errors (EACCES, ELOOP) still throw.
 */
export const statIfPresent = (path: string): Stats | undefined => {
  try {
    return statSync(path, { throwIfNoEntry: false })
  } catch (error) {
    if (errnoOf(error) === "ENOTDIR") return undefined
    throw error
  }
}

export const pathExists = (path: string): boolean => {
  try {
    statSync(path)
    return true
  } catch {
    return false
  }
}

export const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
