// The one cache/store lock: an O_EXCL file naming its holder (pid, start time, host) and the processes it started.
import { randomBytes } from "node:crypto"
import { linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { ToolError } from "../errors.ts"
import { sleep as abortableSleep } from "./abort.ts"

type Proc = { pid: number; start: string | null }
export type Holder = Proc & { host: string; since: number; token: string; children: Proc[] }

export type Lock = {
  holder: Holder
  /** Records an installer process group, so whoever takes over after a crash can stop it first. */
  track(pid: number): void
  untrack(pid: number): void
  release(): void
}

const errno = (error: unknown): string | undefined => (error as { code?: string }).code

const procStat = (pid: number): { state: string; start: string } | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state: fields[0] ?? "", start: fields[19] ?? "" }
  } catch {
    return null
  }
}

/**
 * The kernel's start time of a process (field 22 of /proc/PID/stat). With the pid it names one process
 * for good: a pid reused after a crash has another start time. Null where /proc does not exist.
 */
export const processStart = (pid: number): string | null => procStat(pid)?.start ?? null

const alive = (proc: Proc): boolean => {
  try {
    process.kill(proc.pid, 0)
  } catch (error) {
    if (errno(error) === "ESRCH") return false
  }
  const stat = procStat(proc.pid)
  if (stat === null) return true
  // A zombie has exited; an init that does not reap keeps it around for good.
  if (stat.state === "Z" || stat.state === "X") return false
  return proc.start === null || stat.start === proc.start
}

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
  const aside = `${path}.${randomBytes(6).toString("hex")}.stale`
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

export const acquireLock = async (path: string, options: LockOptions = {}): Promise<Lock> => {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs
  const holder: Holder = {
    pid: process.pid,
    start: processStart(process.pid),
    host: hostname(),
    since: Date.now(),
    token: randomBytes(12).toString("hex"),
    children: [],
  }
  const write = (flag: "wx" | "w") => {
    if (flag === "wx") return writeFileSync(path, JSON.stringify(holder), { flag })
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
