// Whether text is all ASCII: Unicode-aware patterns (\p{L}, \p{N}) have ASCII twins that give the same answer for it.

/**
 * A loop, not a pattern: the point is to skip compiling a Unicode-property regex, which costs a fresh process tens
 * of microseconds per pattern, for the ids and keys that are ASCII (nearly all of them).
 */
export const isAscii = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false
  return true
}
