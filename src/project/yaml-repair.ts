// PyYAML accepts a quoted scalar whose continuation lines are not indented; yaml does not. We re-indent them.
import { CST, Lexer } from "yaml"

/** Offset just past the closing quote of the quoted scalar opening at `start`, or -1 when it never closes. */
const closingQuote = (text: string, start: number): number => {
  const quote = text[start]
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]
    if (quote === '"' && c === "\\") i++
    else if (c === quote && quote === "'" && text[i + 1] === "'") i++
    else if (c === quote) return i + 1
  }
  return -1
}

/**
 * Given the offset where yaml reported "Missing closing quote", returns the text with that scalar's
 * continuation lines indented one column past the line the scalar starts on, or null when nothing can
 * be repaired. Folding drops leading spaces of continuation lines, so the value is unchanged; line
 * numbers are unchanged too.
 */
export const reindentQuoted = (text: string, errorOffset: number): string | null => {
  let offset = 0
  let start = -1
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token)
    if ((type === "double-quoted-scalar" || type === "single-quoted-scalar") && offset + token.length === errorOffset) start = offset
    if (type !== "doc-mode" && type !== "scalar" && type !== "flow-error-end") offset += token.length
    if (offset > errorOffset) break
  }
  if (start < 0) return null
  const end = closingQuote(text, start)
  if (end < 0) return null
  const lineStart = text.lastIndexOf("\n", start) + 1
  const indent = /^ */.exec(text.slice(lineStart))?.[0].length ?? 0
  const firstBreak = text.indexOf("\n", start)
  if (firstBreak < 0 || firstBreak > end) return null
  const lines = text.slice(firstBreak + 1, end).split("\n")
  const fixed = lines.map((line) => {
    const spaces = /^ */.exec(line)?.[0].length ?? 0
    return line.trim() === "" || spaces > indent ? line : " ".repeat(indent + 1 - spaces) + line
  })
  return text.slice(0, firstBreak + 1) + fixed.join("\n") + text.slice(end)
}
