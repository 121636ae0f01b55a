// The host's name, the home folder and the passwd entry, with node:os loaded on the first question it must answer.
// Loading node:os costs ~0.6 ms of startup, and describe, log and most runs never ask it anything.
import { readFileSync } from "node:fs"

type Os = typeof import("node:os")

const os = (): Os => require("node:os") as Os

let host: string | undefined

/** gethostname(): on Linux the UTS name the kernel shows in /proc (what node:os asks too), without loading node:os. */
export const hostname = (): string => {
  if (host !== undefined) return host
  if (process.platform === "linux") {
    try {
      const name = readFileSync("/proc/sys/kernel/hostname", "utf8").trim()
      if (name) return (host = name)
    } catch {
      // No /proc (a sandbox): node:os asks the kernel itself.
    }
  }
  return (host = os().hostname())
}

export const homedir = (): string => os().homedir()

export const userInfo = (): { username: string; homedir: string } => os().userInfo()
