// ASCII text checks without a pattern of their own: the character classes, digit runs and URI schemes that startup paths test.
//
// A fresh process pays for each regular expression the first time it runs it (parsing and compiling, 5–10 µs a
// pattern), and a run tested about thirty of them once each. These give the same answers as the patterns they replace
// (test/util/ascii.test.ts compares them on generated text) with native string calls, one shared pattern, and loops
// only over a few characters: the interpreter that runs a fresh process's code takes ~0.2 µs a character.

/**
 * Unicode-aware patterns (\p{L}, \p{N}) have ASCII twins that give the same answer for ASCII text. A loop, not a
 * pattern: the point is to skip compiling a Unicode-property regex for the ids and keys that are ASCII (nearly all).
 */
export const isAscii = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false
  return true
}

const isAlnumCode = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)

/** Whether the character at `index` is an ASCII letter (false past the end). */
export const isLetterAt = (text: string, index: number): boolean => {
  const c = text.charCodeAt(index)
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
}

/** Whether the character at `index` is A-Z, a-z or 0-9 (false past the end). */
export const isAlnumAt = (text: string, index: number): boolean => isAlnumCode(text.charCodeAt(index))

/** Whether the character at `index` is 0-9 (false past the end). */
export const isDigitAt = (text: string, index: number): boolean => {
  const c = text.charCodeAt(index)
  return c >= 0x30 && c <= 0x39
}

// The one pattern these helpers run, shared by every class: a loop over each character costs the interpreter a fresh
// process runs in ~0.2 µs a character, while this removes the letters and digits in one native call.
const alnumRuns = /[A-Za-z0-9]+/g

/** Whether every character from `from` on is A-Z, a-z, 0-9 or one of `extras` (true for none): /^[A-Za-z0-9<extras>]*$/. */
export const alnumOr = (text: string, extras: string, from = 0): boolean => {
  const rest = (from === 0 ? text : text.slice(from)).replace(alnumRuns, "")
  for (let i = 0; i < rest.length; i++) if (!extras.includes(rest[i] as string)) return false
  return true
}

/** The first index at or after `from` of any of `chars`, or -1: text.search(/[…]/) from `from`. */
export const indexOfAny = (text: string, chars: string, from = 0): number => {
  let first = -1
  for (let i = 0; i < chars.length; i++) {
    const at = text.indexOf(chars[i] as string, from)
    if (at !== -1 && (first === -1 || at < first)) first = at
  }
  return first
}

/** One or more of 0-9 and nothing else: /^\d+$/ (for short texts: folder names, counts). */
export const isDigits = (text: string): boolean => {
  if (text.length === 0) return false
  for (let i = 0; i < text.length; i++) if (!isDigitAt(text, i)) return false
  return true
}

/** Where the `:` after a URI scheme (RFC 3986: a letter, then letters, digits, `+`, `.`, `-`) sits, or -1: /^[a-zA-Z][a-zA-Z0-9+.-]*:/. */
export const schemeEnd = (text: string): number => {
  if (!isLetterAt(text, 0)) return -1
  let i = 1
  while (isAlnumAt(text, i) || text[i] === "+" || text[i] === "." || text[i] === "-") i++
  return text[i] === ":" ? i : -1
}

/** The scheme as written when `text` starts with `scheme://`, else null: /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//. */
export const authorityScheme = (text: string): string | null => {
  const end = schemeEnd(text)
  return end !== -1 && text.startsWith("//", end + 1) ? text.slice(0, end) : null
}

/** Whether `text` starts with `lowerPrefix` with ASCII letters in either case, as /^prefix/i does: never by Unicode case mapping. */
export const startsWithAnyCase = (text: string, lowerPrefix: string): boolean => {
  if (text.length < lowerPrefix.length) return false
  for (let i = 0; i < lowerPrefix.length; i++) {
    const c = text.charCodeAt(i)
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== lowerPrefix.charCodeAt(i)) return false
  }
  return true
}

/** Whether `text` ends with one of `lowerSuffixes` with ASCII letters in either case, as /(?:…)$/i does. */
export const endsWithAnyCase = (text: string, ...lowerSuffixes: string[]): boolean =>
  lowerSuffixes.some((suffix) => text.length >= suffix.length && startsWithAnyCase(text.slice(text.length - suffix.length), suffix))

// What /\s/ matches: ASCII and Unicode white space, line terminators and the BOM.
const whiteSpace = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff])

/** Whether the character at `index` is white space as /\s/ reads it. */
export const isWhiteSpaceAt = (text: string, index: number): boolean => {
  const c = text.charCodeAt(index)
  return whiteSpace.has(c) || (c >= 0x2000 && c <= 0x200a)
}
