// The one cache/store lock: an O_EXCL file naming its holder (pid, start time, host) and the processes it started.
import { randomHex } from "./random.ts"
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs"
import { hostname } from "./os-info.ts"
import { ToolError } from "../errors.ts"
import { sleep as abortableSleep } from "./abort.ts"
import { isAlive, processStart, type Proc } from "./owner.ts"
export type Holder = Proc & { host: string; since: number; token: string; children: Proc[] }

export type Lock = {
  holder: Holder
  /** Records an installer process group, so whoever takes over after a crash can stop it first. */
  track(pid: number): void
  untrack(pid: number): void
  release(): void
}

const errno = (error: unknown): string | undefined => (error as { code?: string }).code

/** Kept here for callers that already import it; the process identity lives in owner.ts. */
export { processStart }

const alive = isAlive

const readHolder = (path: string): { holder: Holder | null; text: string } | null => {
  try {
    const text = readFileSync(path, "utf8")
    try {
      const holder = JSON.parse(text) as Holder
      // Anything without a pid we can check counts as unreadable: stale after a short grace period.
      return { holder: Number.isInteger(holder?.pid) && holder.pid > 0 ? { ...holder, children: holder.children ?? [] } : null, text }
    } catch {
      return { holder: null, text }
    }
  } catch (error) {
    if (errno(error) === "ENOENT") return null
    throw error
  }
}

const ageMs = (path: string): number => {
  try {
    return Date.now() - statSync(path).mtimeMs
  } catch {
    return 0
  }
}

/** A lock from another host (a shared cache on NFS) cannot be checked by pid; past this age it is abandoned. */
const defaultForeignStaleMs = 6 * 3600_000

const isStale = (path: string, holder: Holder | null, foreignStaleMs = defaultForeignStaleMs): boolean => {
  // The holder writes its JSON right after creating the file; one still unreadable after 2 s was orphaned.
  if (holder === null) return ageMs(path) > 2000
  if (holder.host !== hostname()) return Date.now() - holder.since > foreignStaleMs
  return !alive(holder)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Stops installer groups a crashed holder left running: they would keep writing into the prefix we rebuild. */
const stopOrphans = async (holder: Holder | null): Promise<void> => {
  if (!holder || holder.host !== hostname()) return
  const orphans = holder.children.filter(alive)
  for (const child of orphans) {
    try {
      process.kill(-child.pid, "SIGKILL")
    } catch {
      // Already gone.
    }
  }
  for (let waited = 0; waited < 3000 && orphans.some(alive); waited += 25) await sleep(25)
}

/**
 * Moves the stale lock aside (rename is atomic, so one waiter wins), checks that it moved the lock it
 * judged, stops that holder's orphans, and only then lets the lock go. A fresh lock moved by mistake
 * is linked back.
 */
const breakStale = async (path: string, judged: { holder: Holder | null; text: string }): Promise<void> => {
  const aside = `${path}.${randomHex(6)}.stale`
  try {
    renameSync(path, aside)
  } catch (error) {
    if (errno(error) === "ENOENT") return
    throw error
  }
  const moved = readHolder(aside)
  if (moved !== null && moved.text !== judged.text) {
    try {
      linkSync(aside, path)
    } catch {
      // Someone already holds a newer lock; the displaced one is gone for good.
    }
    rmSync(aside, { force: true })
    return
  }
  // Keep the aside file until the orphans are stopped, so no one else has to wonder about them.
  await stopOrphans(judged.holder)
  rmSync(aside, { force: true })
}

/**
 * Takes the lock, waiting as long as a live process holds it (a build may take many minutes), breaking it
 * when its holder is dead. `onWait` is called once, with the holder, when we have to wait.
 */
export type LockOptions = {
  signal?: AbortSignal
  onWait?: (holder: Holder | null) => void
  pollMs?: number
  /** Give up after this long (a clear error naming the holder); by default wait as long as the holder lives. */
  timeoutMs?: number
  foreignStaleMs?: number
  /** The error code of a timeout or an interrupt, e.g. `env.interrupted`, `tracking.lock.timeout`. */
  /** Names the error codes of a wait that is interrupted or times out (`source.interrupted`, `env.timeout`, …). */
  what?: "source" | "env" | "storage" | "tracking.lock"
}

/**
 * Creates `path` (failing with EEXIST when it exists) holding `text`. A write that fails after the create (a full disk)
 * removes the file again: an empty lock file would make every later taker wait out the unreadable-holder grace period.
 */
const createWith = (path: string, text: string): void => {
  const fd = openSync(path, "wx")
  try {
    writeSync(fd, text)
  } catch (error) {
    closeSync(fd)
    rmSync(path, { force: true })
    throw error
  }
  closeSync(fd)
}

export const acquireLock = async (path: string, options: LockOptions = {}): Promise<Lock> => {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs
  const holder: Holder = {
    pid: process.pid,
    start: processStart(process.pid),
    host: hostname(),
    since: Date.now(),
    token: randomHex(12),
    children: [],
  }
  const write = (flag: "wx" | "w") => {
    if (flag === "wx") return createWith(path, JSON.stringify(holder))
    // While we hold it, rewrites go through a rename so a reader never sees half a file.
    const temporary = `${path}.${holder.token}.tmp`
    writeFileSync(temporary, JSON.stringify(holder))
    renameSync(temporary, path)
  }
  let waited = false
  let delay = 20
  for (;;) {
    if (options.signal?.aborted) throw new ToolError(`${options.what ?? "lock"}.interrupted` as const, `interrupted while waiting for ${path}`, { exitCode: 130 })
    try {
      write("wx")
      break
    } catch (error) {
      if (errno(error) !== "EEXIST") throw error
    }
    const seen = readHolder(path)
    if (seen === null) continue
    if (isStale(path, seen.holder, options.foreignStaleMs)) {
      await breakStale(path, seen)
      continue
    }
    if (Date.now() > deadline) {
      const who = seen.holder ? `process ${seen.holder.pid} on ${seen.holder.host}` : "another process"
      throw new ToolError(`${options.what ?? "lock"}.timeout` as const, `timed out waiting for ${path}, held by ${who}`, {
        hint: `if no other mlproject is running, delete ${path}`,
        exitCode: 1,
      })
    }
    if (!waited) options.onWait?.(seen.holder)
    waited = true
    // An interrupt ends the wait at once; the loop's first line turns it into the error.
    await abortableSleep(delay + Math.random() * delay, options.signal).catch(() => {})
    delay = Math.min(delay * 2, options.pollMs ?? 250)
  }
  const ours = () => readHolder(path)?.holder?.token === holder.token
  return {
    holder,
    track(pid) {
      holder.children.push({ pid, start: processStart(pid) })
      if (ours()) write("w")
    },
    untrack(pid) {
      holder.children = holder.children.filter((c) => c.pid !== pid)
      if (ours()) write("w")
    },
    release() {
      if (ours()) rmSync(path, { force: true })
    },
  }
}

/** Takes the lock only if it is free (or stale) right now; null when a live process holds it. */
export const tryLock = async (path: string): Promise<Lock | null> => {
  const seen = readHolder(path)
  if (seen !== null && !isStale(path, seen.holder)) return null
  const controller = new AbortController()
  let busy = false
  const lock = await acquireLock(path, {
    signal: controller.signal,
    onWait: () => {
      busy = true
      controller.abort()
    },
  }).catch((error) => {
    if (busy) return null
    throw error
  })
  return lock
}

/** Runs `fn` while holding the lock at `path`. */
export const withLock = async <T>(path: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> => {
  const lock = await acquireLock(path, options)
  try {
    return await fn()
  } finally {
    lock.release()
  }
}

/** True while a live process holds the lock at `path` (a build under way); nothing is taken or changed. */
export const isLockHeld = (path: string): boolean => {
  const seen = readHolder(path)
  return seen !== null && !isStale(path, seen.holder)
}
