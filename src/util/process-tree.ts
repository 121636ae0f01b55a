// Process trees from /proc: an entry point's tree (its group, its descendants, orphans re-parented to us) and any program's descendants.
import { readdirSync, readFileSync } from "node:fs"
import { reapOrphan } from "./subreaper.ts"
import { isDigits } from "./ascii.ts"

type Proc = { pid: number; ppid: number; pgid: number; zombie: boolean }

const readProc = (pid: string): Proc | null => {
  try {
    // Fields after the parenthesised command name (which may hold spaces): state, ppid, pgrp, …
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { pid: Number(pid), ppid: Number(fields[1]), pgid: Number(fields[2]), zombie: fields[0] === "Z" || fields[0] === "X" }
  } catch {
    // It ended while we looked.
    return null
  }
}

const readAll = (): Proc[] | null => {
  let entries: string[]
  try {
    entries = readdirSync("/proc")
  } catch {
    return null
  }
  return entries.filter(isDigits).flatMap((entry) => readProc(entry) ?? [])
}

/** A scan of the tree: its live members, and how many of its processes had just ended (zombies, reaped if ours). */
export type TreeScan = { live: number[]; ended: number }

/**
 * Every process that belongs to the tree led by `leader`: members of its process group, its descendants, and the
 * orphans re-parented to this (subreaper) process that we did not start ourselves (`ours`), with their descendants.
 * Zombie orphans are reaped on the way. Null where /proc is unavailable.
 */
export const scanTree = (leader: number, ours: ReadonlySet<number>): TreeScan | null => {
  const procs = readAll()
  if (procs === null) return null
  const self = process.pid
  const children = new Map<number, Proc[]>()
  for (const proc of procs) {
    const siblings = children.get(proc.ppid)
    if (siblings) siblings.push(proc)
    else children.set(proc.ppid, [proc])
  }
  const roots = procs.filter((proc) => proc.pid === leader || proc.pgid === leader || (proc.ppid === self && !ours.has(proc.pid)))
  const members = new Map<number, Proc>()
  const queue = [...roots]
  for (let proc = queue.pop(); proc; proc = queue.pop()) {
    if (members.has(proc.pid) || proc.pid === self) continue
    members.set(proc.pid, proc)
    queue.push(...(children.get(proc.pid) ?? []))
  }
  const scan: TreeScan = { live: [], ended: 0 }
  for (const proc of members.values()) {
    if (!proc.zombie) scan.live.push(proc.pid)
    else {
      scan.ended++
      if (proc.ppid === self && !ours.has(proc.pid)) reapOrphan(proc.pid)
    }
  }
  return scan
}

/** The live members of the tree (see scanTree); null where /proc is unavailable. */
export const treeMembers = (leader: number, ours: ReadonlySet<number>): number[] | null => scanTree(leader, ours)?.live ?? null

/**
 * Whether the tree is certainly gone: no live member and no process that just ended. One that just ended may have
 * forked a child after /proc was listed, which only the next scan sees; so "gone" needs a scan with neither.
 */
export const treeGone = (leader: number, ours: ReadonlySet<number>): boolean => {
  if (plainlyGone(leader, ours)) return true
  const scan = scanTree(leader, ours)
  return scan === null ? !groupAlive(leader) : scan.live.length === 0 && scan.ended === 0
}

/** Our children, from each of our threads' /proc children list; null where the kernel does not offer that list. */
const ownChildrenNow = (): number[] | null => {
  let tasks: string[]
  try {
    tasks = readdirSync("/proc/self/task")
  } catch {
    return null
  }
  const children: number[] = []
  for (const task of tasks) {
    try {
      for (const pid of readFileSync(`/proc/self/task/${task}/children`, "utf8").split(" ")) if (pid.trim() !== "") children.push(Number(pid))
    } catch (error) {
      // A thread that ended while we looked has no children left; a kernel without the list has none for any.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || task === String(process.pid)) return null
    }
  }
  return children
}

/**
 * The common end, told without reading every process of the machine: the leader's group is empty (not even a
 * zombie) and we have no child we did not start. A descendant that left the group either has a parent still in it or
 * was re-parented to us, so none can be missed. False means "look properly", not "alive".
 */
const plainlyGone = (leader: number, ours: ReadonlySet<number>): boolean => {
  try {
    process.kill(-leader, 0)
    return false
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") return false
  }
  const children = ownChildrenNow()
  return children !== null && children.every((pid) => ours.has(pid))
}

/** Signals one process (a negative number: a process group); one that is already gone is fine. */
export const signalProcess = (target: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(target, signal)
  } catch {
    // Already gone.
  }
}

/** Signals the leader's group and every other live member of its tree; false when none is left. */
export const signalTree = (leader: number, ours: ReadonlySet<number>, signal: NodeJS.Signals): boolean => {
  signalProcess(-leader, signal)
  const members = treeMembers(leader, ours)
  for (const pid of members ?? []) signalProcess(pid, signal)
  return members === null ? groupAlive(leader) : members.length > 0
}


const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
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

/** The live descendants of `pid` (children, grandchildren, …), found by walking parent links once (ps without /proc). */
export const descendants = (pid: number): number[] => {
  const procs = readAll()
  const parents = procs ? new Map(procs.filter((proc) => !proc.zombie).map((proc) => [proc.pid, proc.ppid])) : parentsFromPs()
  const children = new Map<number, number[]>()
  for (const [child, parent] of parents) {
    const siblings = children.get(parent)
    if (siblings) siblings.push(child)
    else children.set(parent, [child])
  }
  const found: number[] = []
  const queue = [...(children.get(pid) ?? [])]
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    found.push(next)
    queue.push(...(children.get(next) ?? []))
  }
  return found
}
