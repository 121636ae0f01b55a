// Opens the files and folders a project names: inside the project root once symlinks are followed, regular files only, read under a size limit through one descriptor.
import { closeSync, constants, fstatSync, openSync, readSync, readlinkSync, realpathSync, statSync, type Stats } from "node:fs"
import { resolve, sep } from "node:path"
import { ToolError } from "../errors.ts"

/**
 * Real MLproject and env files are a few KiB (the largest of 238 real ones is 14 KiB); the cap keeps parsing under a
 * second. Here rather than in yaml.ts: the parse cache hashes files under the same cap without loading the YAML parser.
 */
export const maxYamlBytes = 128 * 1024

/**
 * What a caller says about the file it opens: the name shown in messages, what the file is for, and the most
 * bytes it may hold (checked on the open descriptor before anything is read). `tooLarge` builds the error, so
 * YAML files keep their own code.
 */
export type FileRule = {
  display: string
  what: string
  maxBytes: number
  tooLarge?: (size: number, grew: boolean) => ToolError
}

/** "requirements file x.txt", or just "MLproject" when the name says what it is. */
const named = (what: string, display: string): string => (what ? `${what} ${printable(display)}` : printable(display))

/** Paths come from symlinks and file names a project chose: never let them put control characters on a terminal. */
export const printable = (path: string): string => path.replace(/[\x00-\x1f\x7f-\x9f]/g, "?")

const realRoot = (root: string): string => {
  try {
    return realpathSync(root)
  } catch {
    return resolve(root)
  }
}

export const isInside = (root: string, real: string): boolean => real === root || real.startsWith(root.endsWith(sep) ? root : `${root}${sep}`)

const outside = (path: string, display: string, what: string, real: string, root: string): ToolError =>
  new ToolError("project.outside", `${named(what, display)} resolves to ${printable(real)}, outside the project folder ${printable(root)}: mlproject reads project files only from inside the project`, {
    hint: "replace the symbolic link by the file itself, or name a folder that contains both (FOLDER#SUBDIR runs SUBDIR with FOLDER as the project root)",
    location: { file: path },
  })

const kindOf = (stats: Stats): string =>
  stats.isDirectory()
    ? "a folder"
    : stats.isFIFO()
      ? "a FIFO (named pipe)"
      : stats.isCharacterDevice()
        ? "a character device"
        : stats.isBlockDevice()
          ? "a block device"
          : stats.isSocket()
            ? "a socket"
            : "not a regular file"

const notRegular = (path: string, display: string, what: string, kind: string): ToolError =>
  new ToolError("project.not_regular", `${named(what, display)} is ${kind}, not a regular file: it is not read`, {
    hint: "point it at a regular file inside the project",
    location: { file: path },
  })

const unreadable = (path: string, display: string, what: string, error: unknown): ToolError => {
  const code = (error as NodeJS.ErrnoException).code
  const reason = code === "EACCES" || code === "EPERM" ? "permission denied" : code === "ELOOP" ? "too many levels of symbolic links" : (error as Error).message
  return new ToolError("project.unreadable", `cannot read ${named(what, display)}: ${reason}`, { location: { file: path } })
}

const missingCodes = new Set(["ENOENT", "ENOTDIR"])

/**
 * The real path of `path` when it exists, or null when it does not (a dangling symlink included). Throws
 * `project.outside` when it resolves outside `root` (compared after following symlinks on both sides).
 */
export const containedPath = (root: string, path: string, display: string, what: string): string | null => {
  let real: string
  try {
    real = realpathSync(path)
  } catch (error) {
    if (missingCodes.has((error as NodeJS.ErrnoException).code ?? "")) return null
    throw unreadable(resolve(path), display, what, error)
  }
  const base = realRoot(root)
  if (!isInside(base, real)) throw outside(resolve(path), display, what, real, base)
  return real
}

/** A file that must exist inside the project as a regular file (a script entry point): its real path, or null. */
export const containedFile = (root: string, path: string, display: string, what: string): string | null => {
  const real = containedPath(root, path, display, what)
  if (real === null) return null
  const stats = statSync(real)
  if (!stats.isFile()) throw notRegular(resolve(path), display, what, kindOf(stats))
  return real
}

/** A folder inside the project (a `#subdir`): its real path, or null when it is missing or not a folder. */
export const containedDir = (root: string, path: string, display: string, what: string): string | null => {
  const real = containedPath(root, path, display, what)
  return real !== null && statSync(real).isDirectory() ? real : null
}

// O_NONBLOCK: opening a FIFO for reading must not wait for a writer. O_NOFOLLOW: the real path was checked; a
// symlink swapped in since is refused rather than followed.
const openFlags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0)

/** Where the kernel says the descriptor points (Linux): catches a parent folder swapped for a symlink after the check. */
const descriptorPath = (fd: number): string | null => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return null
  }
}

/**
 * Reads to the end, stopping as soon as the limit is passed: a file that grows while read never fills memory. The
 * buffer starts at the size fstat gave plus one byte (which shows growth), so a file that keeps its size is read by
 * one read() into one buffer, with nothing copied: chunk buffers and a concat cost describe about 0.1 ms.
 */
const readAll = (fd: number, rule: FileRule, path: string, size: number): Buffer => {
  // Slow: its own memory, never a view into Buffer's shared pool that a reader of `.buffer` would see whole.
  let buffer = Buffer.allocUnsafeSlow(Math.min(size, rule.maxBytes) + 1)
  let total = 0
  for (;;) {
    if (total === buffer.length) {
      const larger = Buffer.allocUnsafeSlow(Math.min(buffer.length * 2, rule.maxBytes + 1))
      buffer.copy(larger, 0, 0, total)
      buffer = larger
    }
    const n = readSync(fd, buffer, total, buffer.length - total, null)
    if (n === 0) break
    total += n
    if (total > rule.maxBytes) throw tooLargeError(rule, path, total, true)
  }
  return buffer.subarray(0, total)
}

const tooLargeError = (rule: FileRule, path: string, size: number, grew = false): ToolError =>
  rule.tooLarge?.(size, grew) ??
  new ToolError("project.too_large", `${named(rule.what, rule.display)} ${grew ? "grew past" : `is ${size} bytes, over`} the limit of ${rule.maxBytes} bytes${grew ? " while being read" : ""}`, {
    hint: "check that this is the right file",
    location: { file: path },
  })

/**
 * The bytes of a project file, or null when it does not exist. Throws `project.outside`, `project.not_regular`,
 * `project.unreadable` or the rule's too-large error; never reads a byte of a file that breaks a rule.
 */
export const readProjectFile = (root: string, path: string, rule: FileRule): { real: string; bytes: Buffer } | null => {
  const absolute = resolve(path)
  const real = containedPath(root, absolute, rule.display, rule.what)
  if (real === null) return null
  // A device or FIFO is not even opened (opening some devices does something); fstat below still decides.
  const before = statSync(real, { throwIfNoEntry: false })
  if (before && !before.isFile()) throw notRegular(absolute, rule.display, rule.what, kindOf(before))
  let fd: number
  try {
    fd = openSync(real, openFlags)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "ENXIO") throw notRegular(absolute, rule.display, rule.what, "a socket")
    if (code === "ELOOP") throw unreadable(absolute, rule.display, rule.what, error)
    if (missingCodes.has(code ?? "")) return null
    throw unreadable(absolute, rule.display, rule.what, error)
  }
  try {
    const opened = descriptorPath(fd)
    const base = realRoot(root)
    if (opened !== null && opened.startsWith("/") && !isInside(base, opened)) throw outside(absolute, rule.display, rule.what, opened, base)
    const stats = fstatSync(fd)
    if (!stats.isFile()) throw notRegular(absolute, rule.display, rule.what, kindOf(stats))
    if (stats.size > rule.maxBytes) throw tooLargeError(rule, absolute, stats.size)
    return { real, bytes: readAll(fd, rule, absolute, stats.size) }
  } catch (error) {
    if (error instanceof ToolError) throw error
    throw unreadable(absolute, rule.display, rule.what, error)
  } finally {
    closeSync(fd)
  }
}
