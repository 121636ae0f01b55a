// Reads the flat `key: value` mappings PyYAML writes for meta.yaml, with YAML 1.1's folding, quickly.
//
// meta.yaml is read on every store call, and a general YAML parser costs about a millisecond per file in
// a fresh process. This reader covers what safe_dump writes (plain, single- and double-quoted scalars,
// folded over lines, `[]`/`{}`); for anything else (comments, nesting, anchors, block scalars) it returns
// null and the caller falls back to the general parser. It also reads U+2028/U+2029 and NEL as line
// breaks, as PyYAML does and YAML 1.2 parsers do not.
import { alnumOr, isLetterAt } from "../util/ascii.ts"

export type FlatScalar = { text: string; plain: boolean }
export type FlatValue = FlatScalar | "collection"

const breakAt = (src: string, i: number): string | null => {
  const c = src[i]
  if (c === "\r") return src[i + 1] === "\n" ? "\r\n" : "\r"
  return c === "\n" || c === "\u0085" || c === "\u2028" || c === "\u2029" ? c : null
}
// PyYAML's scan_line_break: CR, LF, CRLF and NEL read as "\n"; LS and PS stay themselves.
const normalizeBreak = (b: string): string => (b === "\u2028" || b === "\u2029" ? b : "\n")
const isBlank = (c: string | undefined): boolean => c === " " || c === "\t"

const escapes: Record<string, string> = {
  "0": "\0", a: "\x07", b: "\b", t: "\t", "\t": "\t", n: "\n", v: "\v", f: "\f", r: "\r", e: "\x1b",
  " ": " ", '"': '"', "/": "/", "\\": "\\", N: "\u0085", _: "\u00a0", L: "\u2028", P: "\u2029",
}
const hexLengths: Record<string, number> = { x: 2, u: 4, U: 8 }

type Scan = { text: string; end: number }

/** The line breaks of the empty lines that follow, each line's leading blanks skipped. */
const breaksAfter = (src: string, start: number): { breaks: string; end: number } => {
  let i = start
  let breaks = ""
  for (;;) {
    while (isBlank(src[i])) i++
    const b = breakAt(src, i)
    if (b === null) return { breaks, end: i }
    breaks += normalizeBreak(b)
    i += b.length
  }
}

/** A line break inside a flow scalar: alone it folds to a space; with empty lines after, those count. */
const foldBreaks = (src: string, start: number): Scan => {
  const first = breakAt(src, start) ?? "\n"
  const { breaks, end } = breaksAfter(src, start + first.length)
  const kept = normalizeBreak(first) !== "\n" ? normalizeBreak(first) : breaks === "" ? " " : ""
  return { text: kept + breaks, end }
}

/** A quoted scalar starting at `start` (the quote); null when unterminated or malformed. */
const scanQuoted = (src: string, start: number): Scan | null => {
  const quote = src[start]
  let out = ""
  let i = start + 1
  while (i < src.length) {
    const c = src[i] ?? ""
    if (c === quote) {
      if (quote === "'" && src[i + 1] === "'") {
        out += "'"
        i += 2
        continue
      }
      return { text: out, end: i + 1 }
    }
    if (quote === '"' && c === "\\") {
      const next = src[i + 1] ?? ""
      const escapedBreak = breakAt(src, i + 1)
      if (escapedBreak !== null) {
        // An escaped line break joins the lines without a space (later empty lines still count).
        const { breaks, end } = breaksAfter(src, i + 1 + escapedBreak.length)
        out += breaks
        i = end
        continue
      }
      const length = hexLengths[next]
      if (length !== undefined) {
        const hex = src.slice(i + 2, i + 2 + length)
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== length) return null
        out += String.fromCodePoint(parseInt(hex, 16))
        i += 2 + length
        continue
      }
      const escaped = escapes[next]
      if (escaped === undefined) return null
      out += escaped
      i += 2
      continue
    }
    if (isBlank(c) || breakAt(src, i) !== null) {
      let j = i
      while (isBlank(src[j])) j++
      if (breakAt(src, j) === null) {
        out += src.slice(i, j)
        i = j
        continue
      }
      // Spaces before a line break are dropped, then the break folds.
      const folded = foldBreaks(src, j)
      out += folded.text
      i = folded.end
      continue
    }
    out += c
    i++
  }
  return null
}

/** A line's `key: ` (/^([A-Za-z_][A-Za-z0-9_]*):(?:[ ]|$)/): the key and the length up to its value, or null. */
export const keyLine = (line: string): { key: string; length: number } | null => {
  // `:` is not a key character: the key is all that precedes the first one.
  const end = line.indexOf(":")
  if (end < 1 || !(isLetterAt(line, 0) || line[0] === "_") || !alnumOr(line.slice(0, end), "_", 1)) return null
  if (end + 1 === line.length) return { key: line.slice(0, end), length: end + 1 }
  return line[end + 1] === " " ? { key: line.slice(0, end), length: end + 2 } : null
}

const withoutTrailingBlanks = (text: string): string => {
  let end = text.length
  while (end > 0 && (text[end - 1] === " " || text[end - 1] === "\t")) end--
  return text.slice(0, end)
}

// Indicators PyYAML never leaves unquoted (/ #|: |:$|\t|\r/ anywhere, /^[#&*!|>%@`]|^[-?:](?: |$)/ first): comments,
// anchors, tags, block scalars, mappings.
export const quotedOnly = (text: string): boolean =>
  text.includes(" #") ||
  text.includes(": ") ||
  text.endsWith(":") ||
  text.includes("\t") ||
  text.includes("\r") ||
  (text !== "" && "#&*!|>%@`".includes(text[0] as string)) ||
  (text !== "" && "-?:".includes(text[0] as string) && (text.length === 1 || text[1] === " "))

/** The mapping, or null when the text uses anything beyond what safe_dump writes for flat records. */
export const parseFlatYaml = (src: string): Map<string, FlatValue> | null => {
  const entries = new Map<string, FlatValue>()
  let i = 0
  while (i < src.length) {
    const lineEnd = src.indexOf("\n", i)
    const line = src.slice(i, lineEnd === -1 ? src.length : lineEnd)
    const key = keyLine(line)
    if (!key) {
      if (line.trim() !== "") return null
      i = lineEnd === -1 ? src.length : lineEnd + 1
      continue
    }
    const valueStart = i + key.length
    const first = src[valueStart]
    if (first === "'" || first === '"') {
      const scanned = scanQuoted(src, valueStart)
      if (scanned === null) return null
      const rest = src.indexOf("\n", scanned.end)
      const tail = src.slice(scanned.end, rest === -1 ? src.length : rest)
      if (tail.trim() !== "") return null
      entries.set(key.key, { text: scanned.text, plain: false })
      i = rest === -1 ? src.length : rest + 1
      continue
    }
    // A plain scalar, folded over indented continuation lines.
    let text = withoutTrailingBlanks(line.slice(key.length))
    let next = lineEnd === -1 ? src.length : lineEnd + 1
    let emptyLines = 0
    for (;;) {
      const end = src.indexOf("\n", next)
      const candidate = src.slice(next, end === -1 ? src.length : end)
      if (next >= src.length || !(candidate.startsWith(" ") || candidate.trim() === "")) break
      if (candidate.trim() === "") emptyLines++
      else {
        if (text === "") return null // `key:` over an indented block: a nested collection
        text += (emptyLines > 0 ? "\n".repeat(emptyLines) : " ") + candidate.trim()
        emptyLines = 0
      }
      next = end === -1 ? src.length : end + 1
    }
    if (text.startsWith("[") || text.startsWith("{")) {
      if (text !== "[]" && text !== "{}") return null
      entries.set(key.key, "collection")
    } else {
      if (quotedOnly(text)) return null
      entries.set(key.key, { text, plain: true })
    }
    i = next
  }
  return entries
}
