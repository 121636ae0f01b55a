// Safety rules every archive must pass before anything is written: paths and link targets stay inside, size and count limits.
import { ToolError } from "../errors.ts"

export type ArchiveEntry = {
  /** Normalised relative path: no leading '/', no '.' or '..' parts, '/' separators. */
  path: string
  type: "file" | "dir" | "symlink" | "hardlink"
  /** Bytes the entry writes (uncompressed). */
  size: number
  /** Symlink target as stored, or hardlink target (a path in the archive). */
  target?: string
}

export type Limits = { maxBytes: number; maxEntries: number }

const defaults: Limits = { maxBytes: 2 * 1024 ** 3, maxEntries: 100_000 }

// A limit that cannot be read is an error, not the default in silence: the user meant some other limit. Counts are
// compared exactly, so they stop at 2^53.
const positive = (env: Record<string, string | undefined>, name: string, fallback: number): number => {
  const raw = env[name]
  if (raw === undefined || raw.trim() === "") return fallback
  const value = Number(raw)
  if (Number.isSafeInteger(value) && value > 0) return value
  throw new ToolError("http.config.invalid", `${name}=${raw}: expected a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`, { hint: `unset ${name} to use the default`, exitCode: 2 })
}

/** MLPROJECT_ARCHIVE_MAX_BYTES / MLPROJECT_ARCHIVE_MAX_ENTRIES override the defaults (2 GiB, 100,000 entries). */
export const limitsFrom = (env: Record<string, string | undefined>): Limits => ({
  maxBytes: positive(env, "MLPROJECT_ARCHIVE_MAX_BYTES", defaults.maxBytes),
  maxEntries: positive(env, "MLPROJECT_ARCHIVE_MAX_ENTRIES", defaults.maxEntries),
})

export const unsafe = (name: string, detail: string): ToolError =>
  new ToolError("source.archive.unsafe", `refusing to extract ${name}: ${detail}`, {
    hint: "the archive tries to write outside its folder; nothing was extracted. Rebuild it with relative paths only",
  })

export const tooLarge = (name: string, detail: string): ToolError =>
  new ToolError("source.archive.too_large", `refusing to extract ${name}: ${detail}`, {
    hint: "nothing was extracted; raise MLPROJECT_ARCHIVE_MAX_BYTES / MLPROJECT_ARCHIVE_MAX_ENTRIES if the archive is trusted",
  })

/** A relative path inside the archive, or null for the archive root itself ("./"). Absolute and climbing paths are refused. */
export const entryPath = (raw: string, name: string): string | null => {
  const path = raw.replace(/\\/g, "/")
  if (path.startsWith("/") || /^[a-zA-Z]:/.test(path)) throw unsafe(name, `entry '${raw}' has an absolute path`)
  if (path.includes("\0")) throw unsafe(name, `entry '${raw}' has a NUL byte in its name`)
  const parts = path.split("/").filter((part) => part !== "" && part !== ".")
  if (parts.includes("..")) throw unsafe(name, `entry '${raw}' climbs out with '..'`)
  return parts.length === 0 ? null : parts.join("/")
}

/** Counts entries and bytes as they are listed, so a bomb is refused before its end is even read. */
export const tally = (limits: Limits, name: string) => {
  let entries = 0
  let bytes = 0
  return (entry: { size: number }) => {
    entries += 1
    bytes += entry.size
    if (entries > limits.maxEntries) throw tooLarge(name, `more than ${limits.maxEntries} entries`)
    if (bytes > limits.maxBytes) throw tooLarge(name, `more than ${limits.maxBytes} bytes uncompressed`)
  }
}

/**
 * Resolves a symlink target the way the file system will once every entry is written, following the symlinks the
 * archive itself creates. Returns the landing path's parts, or null when it leaves the archive folder.
 */
const resolveLink = (from: string[], target: string, links: Map<string, string>, depth = 0): string[] | null => {
  if (depth > 40 || target.startsWith("/") || /^[a-zA-Z]:/.test(target)) return null
  let stack = [...from]
  for (const part of target.replace(/\\/g, "/").split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") {
      if (stack.length === 0) return null
      stack.pop()
      continue
    }
    stack.push(part)
    const link = links.get(stack.join("/"))
    if (link === undefined) continue
    stack.pop()
    const landed = resolveLink(stack, link, links, depth + 1)
    if (!landed) return null
    stack = landed
  }
  return stack
}

/** Checks the whole listing: no entry under a symlink, symlinks resolve inside, hardlinks name earlier regular files. */
export const checkEntries = (entries: ArchiveEntry[], name: string): void => {
  const links = new Map<string, string>()
  for (const entry of entries) if (entry.type === "symlink") links.set(entry.path, entry.target ?? "")
  const files = new Set<string>()
  for (const entry of entries) {
    const parts = entry.path.split("/")
    for (let i = 1; i < parts.length; i++) {
      if (links.has(parts.slice(0, i).join("/"))) throw unsafe(name, `entry '${entry.path}' would be written through the symlink '${parts.slice(0, i).join("/")}'`)
    }
    if (entry.type === "symlink" && !resolveLink(parts.slice(0, -1), entry.target ?? "", links)) {
      throw unsafe(name, `symlink '${entry.path}' points outside the archive ('${entry.target}')`)
    }
    if (entry.type === "hardlink") {
      const raw = (entry.target ?? "").replace(/\\/g, "/")
      const climbs = raw.startsWith("/") || /^[a-zA-Z]:/.test(raw) || raw.split("/").includes("..")
      const target = climbs ? null : entryPath(raw, name)
      if (target === null || !files.has(target)) throw unsafe(name, `hardlink '${entry.path}' points at '${entry.target}', which is not a file earlier in the archive`)
    }
    if (entry.type === "file") files.add(entry.path)
  }
}
