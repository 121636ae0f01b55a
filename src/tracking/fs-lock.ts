// An exclusive lock held as a file created with O_EXCL, with stale-lock recovery and a bounded wait.
import { randomBytes } from "node:crypto"
import { readFileSync, renameSync, rmSync, statSync, writeFileSync, linkSync } from "node:fs"
import { hostname } from "node:os"
import { ToolError } from "../errors.ts"
import { errnoOf } from "./fs-atomic.ts"

export type LockOptions = {
  /** Give up waiting after this long. */
  timeoutMs?: number
  /** A lock older than this is abandoned: holders keep it for milliseconds. */
  staleMs?: number
}

type Holder = { pid: number; host: string; since: number; token: string }

const readHolder = (path: string): { holder: Holder | null; text: string } | null => {
  try {
    const text = readFileSync(path, "utf8")
    const [pid, host, since, token] = text.split("\n")
    const holder = pid && host && since && token ? { pid: Number(pid), host, since: Number(since), token } : null
    return { holder, text }
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return null
    throw error
  }
}

const processIsGone = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return errnoOf(error) === "ESRCH"
  }
}

const ageMs = (path: string): number => {
  try {
    return Date.now() - statSync(path).mtimeMs
  } catch {
    return 0
  }
}

/** The holder crashed: its process is gone (same host), or the lock outlived any real holder. */
const isStale = (path: string, holder: Holder | null, staleMs: number): boolean => {
  // A holder writes its line right after creating the file, but a loaded machine can pause it in
  // between: an unreadable lock is only judged by its age.
  if (holder === null) return ageMs(path) > staleMs
  if (holder.host === hostname() && holder.pid !== process.pid && processIsGone(holder.pid)) return true
  return Date.now() - holder.since > staleMs
}

/**
 * Moves the stale lock aside (a rename is atomic, so only one waiter wins it), then checks that what it
 * moved is still the stale lock it judged; if a new holder slipped in, it puts that lock back.
 */
const breakStaleLock = (path: string, judged: string): void => {
  const aside = `${path}.${randomBytes(6).toString("hex")}.stale`
  try {
    renameSync(path, aside)
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return
    throw error
  }
  const moved = readHolder(aside)
  if (moved !== null && moved.text !== judged) {
    try {
      linkSync(aside, path)
    } catch {
      // Another waiter already holds a fresh lock; the displaced holder will see its token is gone.
    }
  }
  rmSync(aside, { force: true })
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Runs `fn` while holding the lock file at `path`. The lock is a FILE (not a directory) so tools that
 * list sub-directories, such as MLflow's experiment listing, never see it.
 */
export const withLockFile = async <T>(path: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> => {
  const timeoutMs = options.timeoutMs ?? 45_000
  const staleMs = options.staleMs ?? 30_000
  const token = randomBytes(12).toString("hex")
  const content = `${process.pid}\n${hostname()}\n${Date.now()}\n${token}\n`
  const deadline = Date.now() + timeoutMs
  let delay = 2
  for (;;) {
    try {
      writeFileSync(path, content, { flag: "wx" })
      break
    } catch (error) {
      if (errnoOf(error) !== "EEXIST") throw error
    }
    const seen = readHolder(path)
    if (seen === null) continue
    if (isStale(path, seen.holder, staleMs)) {
      breakStaleLock(path, seen.text)
      continue
    }
    if (Date.now() > deadline) {
      const who = seen.holder ? `process ${seen.holder.pid} on ${seen.holder.host}` : "another process"
      throw new ToolError("tracking.lock.timeout", `Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${path}, held by ${who}`, {
        hint: `if no other mlproject is running, delete ${path}`,
        exitCode: 1,
      })
    }
    // Jitter keeps many waiters from retrying in lockstep.
    await sleep(delay + Math.random() * delay)
    delay = Math.min(delay * 2, 50)
  }
  try {
    return await fn()
  } finally {
    const current = readHolder(path)
    if (current?.holder?.token === token) rmSync(path, { force: true })
  }
}
