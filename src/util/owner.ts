// Which process made a file: an owner tag (host, pid, start time) for temp, staging and lease names, and whether it is gone.
import { sha256Hex } from "./random.ts"
import { readFileSync } from "node:fs"
import { hostname } from "./os-info.ts"

export type Proc = { pid: number; start: string | null }

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

/** True while that very process runs (same pid and start time); a zombie counts as gone. */
export const isAlive = (proc: Proc): boolean => {
  try {
    process.kill(proc.pid, 0)
  } catch (error) {
    if ((error as { code?: string }).code === "ESRCH") return false
  }
  const stat = procStat(proc.pid)
  if (stat === null) return true
  // A zombie has exited; an init that does not reap keeps it around for good.
  if (stat.state === "Z" || stat.state === "X") return false
  return proc.start === null || stat.start === proc.start
}

/** 8 hex digits of the host name: safe in a file name, and enough to tell the hosts sharing one NFS folder apart. */
export const hostTag = (name: string = hostname()): string => sha256Hex(name).slice(0, 8)

let own: string | undefined

/** `<host>-<pid>-<start>` of this process (start 0 where /proc is missing: then the pid alone is checked). */
export const ownerTag = (): string => (own ??= `${hostTag()}-${process.pid}-${processStart(process.pid) ?? 0}`)

export type Owner = { host: string; pid: number; start: string | null }

const tagPattern = /^([0-9a-f]{8})-(\d+)-(\d+)$/

export const parseOwnerTag = (tag: string): Owner | null => {
  const match = tagPattern.exec(tag)
  if (!match) return null
  const pid = Number(match[2])
  return pid > 0 ? { host: match[1] as string, pid, start: match[3] === "0" ? null : (match[3] as string) } : null
}

/**
 * True only when the owner ran on this host and no longer runs. A process on another host (a store or cache shared
 * over NFS) cannot be checked from here: callers fall back to the file's age for those.
 */
export const ownerGone = (owner: Owner): boolean => owner.host === hostTag() && !isAlive(owner)
