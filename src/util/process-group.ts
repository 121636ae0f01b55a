// Whether a process group still has live members; zombies do not count (PID 1 in a container may never reap them).
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
