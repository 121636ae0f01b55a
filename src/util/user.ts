// Who runs us: the login name as Python's getpass.getuser() finds it, and the home folder when HOME is unset.
import { readFileSync } from "node:fs"
import { userInfo } from "./os-info.ts"

type Env = Readonly<Record<string, string | undefined>>

const uid = (): number | null => (typeof process.getuid === "function" ? process.getuid() : null)

/** The passwd entry of the current uid, read from /etc/passwd (Bun's userInfo needs HOME or a working NSS). */
const passwdEntry = (): { name: string; home: string } | null => {
  const id = uid()
  if (id === null) return null
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [name, , entryUid, , , home] = line.split(":")
      if (name && Number(entryUid) === id && entryUid !== "") return { name, home: home ?? "" }
    }
  } catch {
    // No readable passwd file: the next source decides.
  }
  return null
}

const fromUserInfo = (): { name: string; home: string } | null => {
  try {
    const info = userInfo()
    return info.username ? { name: info.username, home: info.homedir } : null
  } catch {
    return null
  }
}

/**
 * getpass.getuser()'s order: LOGNAME, USER, LNAME, USERNAME, then the passwd entry of the uid. MLflow records
 * "unknown" when all of them fail; uid 0 without any entry (a bare container) is still root.
 */
export const loginName = (env: Env): string => {
  for (const name of ["LOGNAME", "USER", "LNAME", "USERNAME"]) {
    const value = env[name]
    if (value) return value
  }
  const entry = passwdEntry() ?? fromUserInfo()
  if (entry) return entry.name
  return uid() === 0 ? "root" : "unknown"
}

/** HOME, else the passwd home of the uid (a service or cron job may run without HOME); null when neither exists. */
export const homeFolder = (env: Env): string | null => env.HOME || passwdEntry()?.home || fromUserInfo()?.home || null
