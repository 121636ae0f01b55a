// Crash-safe file writes: a temp file then a rename (replace) or a hard link (create only if absent), and appends.
import { randomBytes } from "node:crypto"
import { appendFileSync, linkSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"

/** Every temp name this tool makes starts with this, so leftovers are easy to spot and sweep. */
export const tempPrefix = ".mlproject-tmp-"

export const tempName = (): string => `${tempPrefix}${randomBytes(8).toString("hex")}`

export const errnoOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined

const writeTemp = (tempDir: string, data: string): string => {
  const temp = join(tempDir, tempName())
  // "wx": never follow or reuse a path someone else made; the default mode keeps the umask's permissions.
  writeFileSync(temp, data, { flag: "wx" })
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

const removeQuietly = (path: string): void => {
  try {
    unlinkSync(path)
  } catch {
    // Already gone.
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

/**
 * Appends in a single O_APPEND write. Metric files are appended to by the entry point's own MLflow
 * client while we write, and a rename would drop its lines; O_APPEND writes of one short line do not
 * interleave on local filesystems.
 */
export const appendInOneWrite = (target: string, data: string): void => appendFileSync(target, data)

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
