// Looking for a leaked credential: its encodings, the processes whose argv shows one, the files that hold one.
import { lstatSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

/**
 * The forms a credential can leak in: each part raw, percent-encoded (both hex cases), as written in the URL, and the
 * base64 of `user:password` a Basic header carries. Parts under 3 characters are left out (they match by chance).
 */
export const encodings = (credential: { user: string; password?: string; raw?: string }): string[] => {
  const forms = new Set<string>()
  const add = (value: string | undefined) => {
    if (!value || value.length < 3) return
    const encoded = encodeURIComponent(value)
    for (const form of [value, encoded, encoded.toLowerCase(), Buffer.from(value).toString("base64")]) forms.add(form)
  }
  if (credential.password !== undefined) add(credential.password)
  if (!credential.password) add(credential.user)
  add(credential.raw)
  forms.add(Buffer.from(`${credential.user}:${credential.password ?? ""}`).toString("base64"))
  return [...forms]
}

export type Seen = { pid: number; argv: string[] }

/**
 * Every process whose command line holds one of `needles`, and every one matching `watch` (to prove the scan saw
 * them). A command line equal to `own` is the process the user gave the credential to, or a fork of it that has not
 * yet run another program (its command line is still the parent's until exec): not a leak.
 */
export const scanProcesses = (needles: string[], own: string[], watch: (argv: string[]) => boolean): { leaking: Seen[]; watched: Seen[] } => {
  const leaking: Seen[] = []
  const watched: Seen[] = []
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    let raw: string
    try {
      raw = readFileSync(`/proc/${name}/cmdline`, "latin1")
    } catch {
      continue
    }
    const argv = raw.split("\0").filter((part) => part !== "")
    const seen = { pid: Number(name), argv }
    if (argv.length === own.length && argv.every((part, i) => part === own[i])) continue
    if (needles.some((needle) => raw.includes(needle))) leaking.push(seen)
    if (watch(argv)) watched.push(seen)
  }
  return { leaking, watched }
}

/** Every file under `dir` (recursively, symlinks not followed) whose name or content holds one of `needles`, with the needle. */
export const filesWith = (dir: string, needles: string[]): string[] => {
  const found: string[] = []
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name)
      const stat = lstatSync(path, { throwIfNoEntry: false })
      if (!stat) continue
      for (const needle of needles) if (name.includes(needle)) found.push(`${path} (name has ${needle})`)
      if (stat.isDirectory()) walk(path)
      else if (stat.isFile()) {
        const content = readFileSync(path)
        for (const needle of needles) if (content.includes(needle)) found.push(`${path} (has ${needle})`)
      }
    }
  }
  walk(dir)
  return found
}
