// .dockerignore as Docker applies it (moby/patternmatcher): Go-style globs, `**`, `!` exceptions, last match wins.
import { posix } from "node:path"

export type IgnorePattern = { source: string; regex: RegExp; exception: boolean }
export type IgnoreRules = { patterns: IgnorePattern[]; hasExceptions: boolean }

const regexSpecial = new Set([..."\\.+()|{}$^"])

/** Compiles one cleaned pattern the way patternmatcher does: `*` and `?` stop at `/`, `**` crosses directories. */
const compile = (pattern: string): RegExp => {
  let source = "^"
  let inClass = false
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string
    if (inClass) {
      source += ch === "\\" ? `\\${pattern[++i] ?? "\\"}` : ch
      if (ch === "]") inClass = false
      continue
    }
    if (ch === "*" && pattern[i + 1] === "*") {
      i++
      if (pattern[i + 1] === "/") i++
      // A trailing `**` matches everything below; elsewhere it stands for any number of directories, even none.
      source += i + 1 >= pattern.length ? ".*" : "(.*/)?"
      continue
    }
    if (ch === "*") source += "[^/]*"
    else if (ch === "?") source += "[^/]"
    else if (ch === "[") {
      inClass = true
      source += "["
    } else if (ch === "\\") source += `\\${pattern[++i] ?? "\\"}`
    else source += regexSpecial.has(ch) ? `\\${ch}` : ch
  }
  try {
    return new RegExp(`${source}$`)
  } catch {
    // An unbalanced class: treat the pattern literally, as it can then match only itself.
    return new RegExp(`^${pattern.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}$`)
  }
}

/** Parses a .dockerignore file: `#` comments, blank lines, `!` exceptions, paths cleaned and made relative. */
export const parseDockerignore = (text: string): IgnoreRules => {
  const patterns: IgnorePattern[] = []
  for (const raw of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    if (raw.startsWith("#")) continue
    let line = raw.trim()
    if (line === "") continue
    const exception = line.startsWith("!")
    if (exception) line = line.slice(1).trim()
    if (line === "") continue
    let cleaned = posix.normalize(line).replace(/\/+$/, "")
    if (cleaned.length > 1 && cleaned.startsWith("/")) cleaned = cleaned.replace(/^\/+/, "")
    if (cleaned === "") cleaned = "."
    patterns.push({ source: raw, regex: compile(cleaned), exception })
  }
  return { patterns, hasExceptions: patterns.some((p) => p.exception) }
}

/** True when the relative path (slash-separated) is excluded: by a pattern matching it or one of its parent directories. */
export const isIgnored = (rules: IgnoreRules, path: string): boolean => {
  const parents = path.split("/")
  parents.pop()
  let ignored = false
  for (const pattern of rules.patterns) {
    let match = pattern.regex.test(path)
    for (let i = 1; !match && i <= parents.length; i++) match = pattern.regex.test(parents.slice(0, i).join("/"))
    if (match) ignored = !pattern.exception
  }
  return ignored
}
