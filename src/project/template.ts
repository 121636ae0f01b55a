// Command templates read like Python's str.format(**params), which is what MLflow calls, filled by plain substitution.
import { indexOfAny, isDigits } from "../util/ascii.ts"

export type Field = {
  /** The keyword looked up in the parameters (`batch-size` is a valid one). */
  name: string
  /** Offset of the opening brace in the template, for locating problems. */
  offset: number
  /** The placeholder as written, braces included. */
  text: string
}
export type Part = string | Field
export type TemplateProblem = { message: string; offset: number }
export type Template = { parts: Part[]; problem: TemplateProblem | null }

/** A placeholder as a message shows it: a 10 MB format spec is not repeated back. */
const shown = (text: string): string => (text.length > 40 ? `${text.slice(0, 36)}…${text.slice(-1)}` : text)

/**
 * Parses one `{...}` field starting after its `{`; returns the field or a problem, and where parsing stopped.
 * Python's syntax errors keep Python's messages. What Python accepts but we refuse: conversions (`!r` re-quotes the
 * shell-quoted value, so `'$(cmd)'` comes out as `"'$(cmd)'"` and the shell runs it), format specs (a precision cuts
 * the closing quote off, a width of 10**12 exhausts memory), and attribute or index access (`{a[1]}` is one unquoted
 * character of the value). None of the 238 real MLproject files we checked uses any of them.
 */
const parseField = (t: string, open: number): { field: Field; end: number } | TemplateProblem => {
  let i = open + 1
  let nameEnd = -1
  let stop = ""
  for (; i < t.length; i++) {
    const c = t[i] as string
    if (c === "{") return { message: "unexpected '{' in field name", offset: i }
    if (c === "[") {
      while (i < t.length && t[i] !== "]") i++
      if (i >= t.length) break
      continue
    }
    if (c === "}" || c === ":" || c === "!") {
      nameEnd = i
      stop = c
      break
    }
  }
  if (nameEnd < 0) return { message: "expected '}' before end of string", offset: open }
  const name = t.slice(open + 1, nameEnd)
  let conversion: string | null = null
  let end = nameEnd + 1
  i = nameEnd + 1
  if (stop === "!") {
    if (i >= t.length) return { message: "end of string while looking for conversion specifier", offset: open }
    const c = t[i++] as string
    const next = t[i++]
    if (next !== "}" && next !== ":") return { message: next === undefined ? "unmatched '{' in format spec" : "expected ':' after conversion specifier", offset: open }
    if (c !== "s" && c !== "r" && c !== "a") return { message: `Unknown conversion specifier ${c}`, offset: open }
    conversion = c
    stop = next
    end = i
  }
  let hasSpec = false
  if (stop === ":") {
    let depth = 1
    for (; i < t.length; i++) {
      if (t[i] === "{") depth++
      if (t[i] === "}" && --depth === 0) break
    }
    if (depth !== 0) return { message: "unmatched '{' in format spec", offset: open }
    hasSpec = true
    end = i + 1
  }
  const text = t.slice(open, end)
  // `${VAR:-default}` is the shell's, not a placeholder: say so rather than blame a format spec.
  if (t[open - 1] === "$" && (hasSpec || conversion)) {
    return { message: `\${${shown(text).slice(1)} looks like the shell's \${…}, but MLflow reads {…} as a parameter placeholder`, offset: open }
  }
  const dotOrBracket = indexOfAny(name, ".[")
  const base = dotOrBracket === -1 ? name : name.slice(0, dotOrBracket)
  if (base === "" || isDigits(base)) {
    return { message: `positional placeholder ${shown(text)}: MLflow fills the command with named parameters only, so Python raises IndexError`, offset: open }
  }
  if (base !== name) return { message: `placeholder ${shown(text)} uses attribute or index access, which mlproject refuses: it would take characters out of the shell-quoted value`, offset: open }
  if (conversion) return { message: `placeholder ${shown(text)} applies the conversion !${conversion}, which mlproject refuses: it would undo the shell quoting of the value`, offset: open }
  if (hasSpec) return { message: `placeholder ${shown(text)} has a format spec, which mlproject refuses: it could cut or pad the shell-quoted value`, offset: open }
  return { field: { name, offset: open, text }, end }
}

/** The fix for a command Python's str.format cannot parse. */
export const templateHint = (message: string): string =>
  message.includes("the shell's ${")
    ? "a shell variable is written ${{NAME}} in an MLproject command (braces doubled), as Python's str.format wants"
    : message.startsWith("positional")
    ? "name the placeholder after a declared parameter, e.g. {alpha}"
    : message.startsWith("placeholder") || message.startsWith("Unknown conversion")
      ? "use a plain {name} placeholder: the value arrives shell-quoted; format it in the program if needed"
      : "write a literal brace as {{ or }}"

/** Splits a template into literal text and fields, stopping at the first error as Python does. */
export const parseTemplate = (template: string): Template => {
  const parts: Part[] = []
  let literal = ""
  let i = 0
  while (i < template.length) {
    const c = template[i] as string
    if (c !== "{" && c !== "}") {
      literal += c
      i++
      continue
    }
    if (template[i + 1] === c) {
      literal += c
      i += 2
      continue
    }
    if (c === "}") return { parts, problem: { message: "Single '}' encountered in format string", offset: i } }
    if (i + 1 >= template.length) return { parts, problem: { message: "Single '{' encountered in format string", offset: i } }
    const parsed = parseField(template, i)
    if ("message" in parsed) return { parts, problem: parsed }
    if (literal) parts.push(literal)
    literal = ""
    parts.push(parsed.field)
    i = parsed.end
  }
  if (literal) parts.push(literal)
  return { parts, problem: null }
}

/** Fills the fields from `values`; the caller has checked that every field name is present. */
export const renderTemplate = (parts: Part[], values: ReadonlyMap<string, string>): string =>
  parts.map((part) => (typeof part === "string" ? part : (values.get(part.name) ?? ""))).join("")
