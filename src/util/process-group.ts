// Process groups and trees: whether a group still has live members (zombies do not count: PID 1 in a container may
// never reap them), and the descendants of a process, for signalling a tree that shares our terminal.
import { readdirSync, readFileSync } from "node:fs"

const liveMembersFromProc = (pgid: number): number | null => {
  let entries: string[]
  try {
    entries = readdirSync("/proc")
  } catch {
    return null
  }
  let live = 0
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // Fields after the parenthesised command name: state is the 1st, pgrp the 3rd.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") live++
    } catch {
      // The process ended while we looked.
    }
  }
  return live
}

export const groupAlive = (pgid: number): boolean => {
  const live = liveMembersFromProc(pgid)
  if (live !== null) return live > 0
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** Every process's parent, from /proc; null where there is no /proc (macOS): then `ps` answers. */
const parentsFromProc = (): Map<number, number> | null => {
  let entries: string[]
  try {
    entries = readdirSync("/proc")
  } catch {
    return null
  }
  const parents = new Map<number, number>()
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      // Fields after the parenthesised command name: the parent pid is the 2nd.
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch {
      // The process ended while we looked.
    }
  }
  return parents
}

const parentsFromPs = (): Map<number, number> => {
  const parents = new Map<number, number>()
  try {
    const listing = Bun.spawnSync(["ps", "-A", "-o", "pid=,ppid="], { stdout: "pipe", stderr: "ignore" }).stdout.toString()
    for (const line of listing.split("\n")) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number)
      if (pid && ppid !== undefined) parents.set(pid, ppid)
    }
  } catch {
    // No ps either: only the process itself can be signalled.
  }
  return parents
}

/** The live descendants of `pid` (children, grandchildren, …), found by walking parent links once. */
export const descendants = (pid: number): number[] => {
  const parents = parentsFromProc() ?? parentsFromPs()
  const children = new Map<number, number[]>()
  for (const [child, parent] of parents) children.set(parent, [...(children.get(parent) ?? []), child])
  const found: number[] = []
  const queue = [...(children.get(pid) ?? [])]
  while (queue.length > 0) {
    const next = queue.shift() as number
    found.push(next)
    queue.push(...(children.get(next) ?? []))
  }
  return found
}
