// ASCII text checks written as loops: the character classes, digit runs and URI schemes that startup paths test.
//
// A fresh process pays for each regular expression the first time it runs it (parsing and compiling, 5–10 µs a
// pattern), and a run tested about thirty of them once each: ~0.2 ms of a 12 ms run. These loops give the same answers
// as the patterns they replace (test/util/ascii.test.ts compares them on generated text) and cost nothing to set up.

/**
 * Unicode-aware patterns (\p{L}, \p{N}) have ASCII twins that give the same answer for ASCII text. A loop, not a
 * pattern: the point is to skip compiling a Unicode-property regex for the ids and keys that are ASCII (nearly all).
 */
export const isAscii = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false
  return true
}

/** A set of ASCII characters: `ranges` as pairs of ends ("AZaz09" is A-Z, a-z, 0-9), `chars` one by one. */
export type AsciiClass = Uint8Array

export const asciiClass = (ranges: string, chars = ""): AsciiClass => {
  const members = new Uint8Array(128)
  for (let i = 0; i + 1 < ranges.length; i += 2) for (let c = ranges.charCodeAt(i); c <= ranges.charCodeAt(i + 1); c++) members[c] = 1
  for (let i = 0; i < chars.length; i++) members[chars.charCodeAt(i)] = 1
  return members
}

/** Whether the character at `index` is in the class (false past the end and for anything above ASCII). */
export const inClass = (members: AsciiClass, text: string, index: number): boolean => members[text.charCodeAt(index)] === 1

/** Whether every character of `text` from `from` on is in the class (true for none): /^[…]*$/. */
export const allInClass = (members: AsciiClass, text: string, from = 0): boolean => {
  for (let i = from; i < text.length; i++) if (members[text.charCodeAt(i)] !== 1) return false
  return true
}

/** The first index at or after `from` of any of `chars`, or -1: text.search(/[…]/). */
export const indexOfAny = (text: string, chars: string, from = 0): number => {
  for (let i = from; i < text.length; i++) if (chars.includes(text[i] as string)) return i
  return -1
}

const digit = asciiClass("09")

/** One or more of 0-9 and nothing else: /^\d+$/. */
export const isDigits = (text: string): boolean => text.length > 0 && allInClass(digit, text)

const schemeFirst = asciiClass("AZaz")
const schemeRest = asciiClass("AZaz09", "+.-")

/** Where the `:` after a URI scheme (RFC 3986: a letter, then letters, digits, `+`, `.`, `-`) sits, or -1: /^[a-zA-Z][a-zA-Z0-9+.-]*:/. */
export const schemeEnd = (text: string): number => {
  if (!inClass(schemeFirst, text, 0)) return -1
  let i = 1
  while (inClass(schemeRest, text, i)) i++
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
