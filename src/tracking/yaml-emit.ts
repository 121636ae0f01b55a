// Writes one string as a block-mapping value byte for byte as PyYAML's safe_dump does through libyaml.
//
// MLflow dumps meta.yaml with `yaml.dump(..., Dumper=CSafeDumper, default_flow_style=False,
// allow_unicode=True)`; PyYAML wheels ship libyaml, so the C emitter (libyaml 0.2.5) decides quoting
// and line folding. Where libyaml and PyYAML's pure-Python emitter differ (emoji, U+0085, folding of
// long double-quoted strings) this follows libyaml. Every rule here was checked against PyYAML 6.

import { alnumOr, isAlnumAt } from "../util/ascii.ts"
import { resolvePlain } from "../util/pyyaml-resolver.ts"

const bestWidth = 80
/** Continuation lines of a top-level mapping value are indented by PyYAML's default indent. */
const valueIndent = 2

// PyYAML also resolves `!`, `&` and `*` (tag:yaml.org,2002:yaml); no plain scalar can be one, but the emitter asks.
const yamlIndicator = (text: string): boolean => text === "!" || text === "&" || text === "*"

/** True when PyYAML would read the text back, unquoted, as a string: a string that reads as another type is quoted. */
export const plainReadsAsString = (text: string): boolean => resolvePlain(text) === "str" && !yamlIndicator(text)

const isBreak = (c: string | undefined): boolean =>
  c === "\n" || c === "\r" || c === "\u0085" || c === "\u2028" || c === "\u2029"
// libyaml reads one character past the end of the value, where PyYAML's buffer holds a NUL.
const isBlankOrEnd = (c: string | undefined): boolean =>
  c === undefined || c === " " || c === "\t" || c === "\0" || isBreak(c)
// libyaml's IS_PRINTABLE: no C0/C1 controls (tab and NEL included), no BOM, nothing above U+FFFF.
const isPrintable = (cp: number): boolean =>
  cp === 0x0a ||
  (cp >= 0x20 && cp <= 0x7e) ||
  (cp >= 0xa0 && cp <= 0xd7ff) ||
  (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff)

type Analysis = { blockPlain: boolean; singleQuoted: boolean }

const analyze = (chars: readonly string[]): Analysis => {
  if (chars.length === 0) return { blockPlain: true, singleQuoted: true }
  const head = chars.slice(0, 3).join("")
  let indicators = head === "---" || head === "..."
  let special = false
  let lineBreaks = false
  let edgeWhitespace = false
  let breakSpace = false
  let spaceBreak = false
  let previousSpace = false
  let previousBreak = false
  let precededByBlank = true
  let followedByBlank = isBlankOrEnd(chars[1])
  const last = chars.length - 1
  chars.forEach((c, i) => {
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(c)) indicators = true
      if ((c === "?" || c === ":" || c === "-") && followedByBlank) indicators = true
    }
    if (i > 0 && c === ":" && followedByBlank) indicators = true
    if (i > 0 && c === "#" && precededByBlank) indicators = true
    if (!isPrintable(c.codePointAt(0) ?? 0)) special = true
    if (isBreak(c)) lineBreaks = true
    if (c === " ") {
      if (i === 0 || i === last) edgeWhitespace = true
      if (previousBreak) breakSpace = true
      previousSpace = true
      previousBreak = false
    } else if (isBreak(c)) {
      if (i === 0 || i === last) edgeWhitespace = true
      if (previousSpace) spaceBreak = true
      previousSpace = false
      previousBreak = true
    } else {
      previousSpace = false
      previousBreak = false
    }
    precededByBlank = isBlankOrEnd(c)
    followedByBlank = isBlankOrEnd(chars[i + 2])
  })
  const quotedOnly = breakSpace || spaceBreak || special
  return {
    blockPlain: !(edgeWhitespace || quotedOnly || lineBreaks || indicators),
    singleQuoted: !quotedOnly,
  }
}

// The emitter's cursor: column, and whether the last thing written was whitespace or indentation.
type Cursor = { out: string; column: number; whitespace: boolean; indention: boolean }

const put = (cur: Cursor, text: string): void => {
  cur.out += text
  cur.column += Array.from(text).length
}

const putBreak = (cur: Cursor): void => {
  cur.out += "\n"
  cur.column = 0
}

const writeIndent = (cur: Cursor): void => {
  if (!cur.indention || cur.column > valueIndent || (cur.column === valueIndent && !cur.whitespace)) putBreak(cur)
  while (cur.column < valueIndent) put(cur, " ")
  cur.whitespace = true
  cur.indention = true
}

// A space may become a line break once the line is past the width, unless a space follows it.
const foldsAt = (cur: Cursor, chars: readonly string[], i: number, spaces: boolean, edges: boolean): boolean =>
  !spaces && cur.column > bestWidth && chars[i + 1] !== " " && (!edges || (i !== 0 && i !== chars.length - 1))

const writePlain = (cur: Cursor, chars: readonly string[]): void => {
  if (!cur.whitespace && chars.length > 0) put(cur, " ")
  let spaces = false
  chars.forEach((c, i) => {
    if (c === " ") {
      if (foldsAt(cur, chars, i, spaces, false)) writeIndent(cur)
      else put(cur, c)
      spaces = true
      return
    }
    put(cur, c)
    cur.indention = false
    spaces = false
  })
}

const writeBreak = (cur: Cursor, c: string): void => {
  if (c === "\n") return putBreak(cur)
  cur.out += c
  cur.column = 0
}

const writeSingleQuoted = (cur: Cursor, chars: readonly string[]): void => {
  put(cur, cur.whitespace ? "'" : " '")
  cur.indention = false
  let spaces = false
  let breaks = false
  chars.forEach((c, i) => {
    if (c === " ") {
      if (foldsAt(cur, chars, i, spaces, true)) writeIndent(cur)
      else put(cur, c)
      spaces = true
      return
    }
    if (isBreak(c)) {
      // One line break in a single-quoted scalar reads back as a space, so a real one is doubled.
      if (!breaks && c === "\n") putBreak(cur)
      writeBreak(cur, c)
      cur.indention = true
      breaks = true
      return
    }
    if (breaks) writeIndent(cur)
    put(cur, c === "'" ? "''" : c)
    cur.indention = false
    spaces = false
    breaks = false
  })
  if (breaks) writeIndent(cur)
  put(cur, "'")
}

const shortEscapes: Record<number, string> = {
  0x00: "0", 0x07: "a", 0x08: "b", 0x09: "t", 0x0a: "n", 0x0b: "v", 0x0c: "f", 0x0d: "r",
  0x1b: "e", 0x22: '"', 0x5c: "\\", 0x85: "N", 0xa0: "_", 0x2028: "L", 0x2029: "P",
}

const escape = (cp: number): string => {
  const short = shortEscapes[cp]
  if (short !== undefined) return `\\${short}`
  const hex = cp.toString(16).toUpperCase()
  if (cp <= 0xff) return `\\x${hex.padStart(2, "0")}`
  if (cp <= 0xffff) return `\\u${hex.padStart(4, "0")}`
  return `\\U${hex.padStart(8, "0")}`
}

const writeDoubleQuoted = (cur: Cursor, chars: readonly string[]): void => {
  put(cur, cur.whitespace ? '"' : ' "')
  cur.indention = false
  let spaces = false
  chars.forEach((c, i) => {
    const cp = c.codePointAt(0) ?? 0
    if (!isPrintable(cp) || cp === 0xfeff || isBreak(c) || c === '"' || c === "\\") {
      put(cur, escape(cp))
      spaces = false
      return
    }
    if (c === " ") {
      // A folded line break reads back as one space; a second space right after it needs an escape.
      if (!spaces && cur.column > bestWidth && i !== 0 && i !== chars.length - 1) {
        writeIndent(cur)
        if (chars[i + 1] === " ") put(cur, "\\")
      } else put(cur, c)
      spaces = true
      return
    }
    put(cur, c)
    spaces = false
  })
  put(cur, '"')
}

// Most values (ids, names, paths, URIs) are ASCII words with no space to fold at, no indicator (no leading `-?:@`,
// no `#`, no `:` at the end) and nothing to escape: they are written plain, skipping the character-by-character
// analysis (most of a run's meta.yaml time). Whether they read back as strings is still asked.
// /^[A-Za-z0-9_/][A-Za-z0-9_./:+=~@-]*$/
export const plainWord = (text: string): boolean => (isAlnumAt(text, 0) || text[0] === "_" || text[0] === "/") && alnumOr(text, "_./:+=~@-", 1)

/** The text after `key:` for a string value: a leading space, the scalar, continuation lines if folded. */
// A plain word that would read back as another type ('0', 'true', '2001-12-14') is single-quoted as it stands: it
// holds no quote to double and no space to fold at. So is the empty string, which reads back as null.
export const emitStringValue = (column: number, value: string): string => {
  if (value === "") return " ''"
  if (plainWord(value) && !value.endsWith(":")) return plainReadsAsString(value) ? ` ${value}` : ` '${value}'`
  const chars = Array.from(value)
  const cur: Cursor = { out: "", column, whitespace: false, indention: false }
  const analysis = analyze(chars)
  if (analysis.blockPlain && plainReadsAsString(value)) writePlain(cur, chars)
  else if (analysis.singleQuoted) writeSingleQuoted(cur, chars)
  else writeDoubleQuoted(cur, chars)
  return cur.out
}
