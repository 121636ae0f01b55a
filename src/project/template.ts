// Command templates read and filled exactly like Python's str.format(**params), which is what MLflow calls.
import { stringRepr } from "./python-str.ts"

export type Field = {
  /** The keyword looked up in the parameters (`batch-size` is a valid one). */
  name: string
  conversion: "s" | "r" | "a" | null
  spec: FormatSpec
  /** Offset of the opening brace in the template, for locating problems. */
  offset: number
  /** The placeholder as written, braces included. */
  text: string
}
export type FormatSpec = { fill: string; align: "<" | ">" | "^"; width: number; precision: number | null }
export type Part = string | Field
export type TemplateProblem = { message: string; offset: number }
export type Template = { parts: Part[]; problem: TemplateProblem | null }

const noSpec: FormatSpec = { fill: " ", align: "<", width: 0, precision: null }

/** Python's format-spec mini-language, restricted to what a str accepts (the messages are Python's). */
const parseSpec = (spec: string): FormatSpec | string => {
  const chars = Array.from(spec)
  let i = 0
  let fill: string | null = null
  let align: string | null = null
  if (chars.length >= 2 && "<>=^".includes(chars[1] ?? "")) {
    fill = chars[0] ?? " "
    align = chars[1] ?? "<"
    i = 2
  } else if (chars.length >= 1 && "<>=^".includes(chars[0] ?? "")) {
    align = chars[0] ?? "<"
    i = 1
  }
  const at = () => chars[i] ?? ""
  if ("+- ".includes(at()) && at() !== "") return "Sign not allowed in string format specifier"
  if (at() === "z") return "Negative zero coercion (z) not allowed in string format specifier"
  if (at() === "#") return "Alternate form (#) not allowed in string format specifier"
  if (at() === "0") {
    fill ??= "0"
    i++
  }
  let digits = ""
  while (/[0-9]/.test(at())) digits += chars[i++]
  if (at() === "," || at() === "_") return `Cannot specify '${at()}' with 's'.`
  let precision: number | null = null
  if (at() === ".") {
    i++
    let p = ""
    while (/[0-9]/.test(at())) p += chars[i++]
    if (p === "") return "Format specifier missing precision"
    precision = Number(p)
  }
  const rest = chars.slice(i).join("")
  if (rest.length > 1) return `Invalid format specifier '${spec}' for object of type 'str'`
  if (rest !== "" && rest !== "s") return `Unknown format code '${rest}' for object of type 'str'`
  if (align === "=") return "'=' alignment not allowed in string format specifier"
  if (digits.length > 18 || (precision !== null && precision > 1e18)) return "Too many decimal digits in format string"
  return { fill: fill ?? " ", align: (align ?? "<") as FormatSpec["align"], width: Number(digits || "0"), precision }
}

/** Parses one `{...}` field starting after its `{`; returns the field or a problem, and where parsing stopped. */
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
  let conversion: Field["conversion"] = null
  let specText = ""
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
  if (stop === ":") {
    let depth = 1
    const specStart = i
    for (; i < t.length; i++) {
      if (t[i] === "{") depth++
      if (t[i] === "}" && --depth === 0) break
    }
    if (depth !== 0) return { message: "unmatched '{' in format spec", offset: open }
    specText = t.slice(specStart, i)
    end = i + 1
  }
  const text = t.slice(open, end)
  const base = /^[^.[]*/.exec(name)?.[0] ?? ""
  if (base === "" || /^[0-9]+$/.test(base)) {
    return { message: `positional placeholder ${text}: MLflow fills the command with named parameters only, so Python raises IndexError`, offset: open }
  }
  if (base !== name) return { message: `placeholder ${text} uses attribute or index access, which is not supported`, offset: open }
  if (specText.includes("{")) return { message: `placeholder ${text} nests a placeholder in its format spec, which is not supported`, offset: open }
  const spec = specText === "" ? noSpec : parseSpec(specText)
  if (typeof spec === "string") return { message: `placeholder ${text}: ${spec}`, offset: open }
  return { field: { name, conversion, spec, offset: open, text }, end }
}

/** The fix for a command Python's str.format cannot parse. */
export const templateHint = (message: string): string =>
  message.startsWith("positional")
    ? "name the placeholder after a declared parameter, e.g. {alpha}"
    : message.startsWith("placeholder") || message.startsWith("Unknown conversion")
      ? "use a plain {name} placeholder (optionally with !r or a width such as {name:>8})"
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

export const formatField = (value: string, field: Pick<Field, "conversion" | "spec">): string => {
  const converted = field.conversion === "r" ? stringRepr(value) : field.conversion === "a" ? stringRepr(value, true) : value
  const { fill, align, width, precision } = field.spec
  const chars = Array.from(converted)
  const kept = precision === null ? chars : chars.slice(0, precision)
  const padding = Math.max(0, width - kept.length)
  const text = kept.join("")
  if (align === ">") return fill.repeat(padding) + text
  if (align === "^") return fill.repeat(Math.floor(padding / 2)) + text + fill.repeat(padding - Math.floor(padding / 2))
  return text + fill.repeat(padding)
}

/** Fills the fields from `values`; the caller has checked that every field name is present. */
export const renderTemplate = (parts: Part[], values: ReadonlyMap<string, string>): string =>
  parts.map((part) => (typeof part === "string" ? part : formatField(values.get(part.name) ?? "", part))).join("")
