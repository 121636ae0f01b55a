// MLflow's run search filter (SearchUtils.parse_search_filter) parsed into clauses, with errors that name the column.
//
// MLflow tokenises the filter with sqlparse; this is a small hand-written scanner for the same grammar:
// `<entity>.<key> <comparator> <value>` clauses joined by AND, where the entity is metrics, params, tags,
// attributes or datasets (and their aliases), a key is a word, a dotted chain of words or one quoted name
// (`backquotes`, "double" or 'single' quotes), and a value is a 'quoted' or "quoted" string or a number.
// String values are taken as MLflow takes them: the text between the outer quotes, nothing unescaped.
// Deliberately stricter than sqlparse: a dangling or doubled AND, and two clauses without AND between them,
// are refused with their column instead of being ignored.
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"

export type EntityType = "metric" | "param" | "tag" | "attribute" | "dataset"
export type Comparator = "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE" | "IN" | "NOT IN" | "IS NULL" | "IS NOT NULL"
export type ClauseValue = string | number | readonly string[] | null

export type Clause = { type: EntityType; key: string; comparator: Comparator; value: ClauseValue }

/** MLflow's entity names and aliases (SearchUtils._VALID_IDENTIFIERS), case-sensitive as there. */
const entities: Readonly<Record<string, EntityType>> = {
  metric: "metric",
  metrics: "metric",
  param: "param",
  params: "param",
  parameter: "param",
  parameters: "param",
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
  dataset: "dataset",
  datasets: "dataset",
}

/** RunInfo's searchable attributes plus MLflow's aliases (`created` is start_time, `run name` is run_name). */
export const numericAttributes: ReadonlySet<string> = new Set(["start_time", "end_time", "created", "Created"])
const stringAttributes: ReadonlySet<string> = new Set(["run_id", "run_name", "user_id", "status", "artifact_uri", "run name", "Run name", "Run Name"])
const datasetKeys: ReadonlySet<string> = new Set(["name", "digest", "context"])

/** SearchUtils.translate_key_alias. */
export const attributeName = (key: string): string =>
  key === "created" || key === "Created" ? "start_time" : key === "run name" || key === "Run name" || key === "Run Name" ? "run_name" : key

const numericComparators: ReadonlySet<Comparator> = new Set(["=", "!=", "<", "<=", ">", ">="])
const stringComparators: ReadonlySet<Comparator> = new Set(["=", "!=", "LIKE", "ILIKE"])
const listComparators: ReadonlySet<Comparator> = new Set(["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"])
const valueComparators: ReadonlySet<Comparator> = new Set(["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"])

export const filterHint =
  "MLflow's search syntax: params.alpha = '0.5', metrics.rmse < 0.8, tags.`mlflow.runName` LIKE 'fox%', attributes.status = 'FINISHED', attributes.start_time > 1700000000000, joined by AND"

/** Where a part of the filter starts, for errors. */
type Part = { text: string; quoted: "`" | '"' | "'" | null; start: number }

const wordChar = /[\p{L}\p{N}_$#]/uy
const number = /-?(?:\d+(?:\.\d+)?[eE]-?\d+|\d+\.\d*|\.\d+|\d+)(?![\p{L}_])/uy
const operator = /[<>=~!]+/y

/** A scanner over one filter or order-by text: shared by both parsers. */
export const scanner = (text: string, what: "filter" | "order_by") => {
  let pos = 0
  const code = what === "filter" ? "tracking.filter.invalid" : "tracking.order_by.invalid"
  const label = what === "filter" ? "filter" : "order-by"

  const shown = (at: number): string => {
    if (at >= text.length) return "the end"
    const rest = text.slice(at).match(/^\S{1,24}/)?.[0] ?? text.slice(at, at + 1)
    return `'${rest}'`
  }
  const fail = (at: number, reason: string, hint = filterHint): never => {
    throw new ToolError(code, `invalid ${label} ${JSON.stringify(text)}: column ${at + 1}, at ${shown(at)}: ${reason}`, { hint, exitCode: 2 })
  }
  const skipSpace = (): void => {
    while (pos < text.length && /\s/.test(text[pos] as string)) pos++
  }
  const sticky = (pattern: RegExp): string | null => {
    pattern.lastIndex = pos
    const match = pattern.exec(text)
    if (!match) return null
    pos += match[0].length
    return match[0]
  }
  const word = (): string | null => {
    const start = pos
    while (pos < text.length) {
      wordChar.lastIndex = pos
      if (!wordChar.test(text)) break
      pos = wordChar.lastIndex
    }
    return pos > start ? text.slice(start, pos) : null
  }
  /** A quoted run as sqlparse reads it: the quote doubled or backslash-escaped inside; the raw inner text comes back. */
  const quotedText = (quote: "`" | '"' | "'"): string => {
    const start = pos
    pos++
    while (pos < text.length) {
      const char = text[pos]
      if (char === "\\" && quote !== "`" && text[pos + 1] === quote) pos += 2
      else if (char === quote && text[pos + 1] === quote) pos += 2
      else if (char === quote) return text.slice(start + 1, pos++)
      else pos++
    }
    return fail(start, `the ${quote === "`" ? "backquote" : "quote"} opened here is never closed`)
  }
  const part = (): Part | null => {
    const start = pos
    const char = text[pos]
    if (char === "`" || char === '"' || char === "'") return { text: quotedText(char), quoted: char, start }
    const plain = word()
    return plain === null ? null : { text: plain, quoted: null, start }
  }
  /** `entity.key` (or a bare attribute): `{type, key}` checked against MLflow's entities and attribute names. */
  const identifier = (validAttributes: ReadonlySet<string>): { type: EntityType; key: string; start: number } => {
    const start = pos
    const first = part()
    if (first === null) return fail(start, "expected a key such as params.alpha, metrics.rmse, tags.team or attributes.status")
    if (first.quoted === null && /^[-\d.]/.test(first.text)) fail(start, "a clause starts with its key (metrics.rmse < 1), not with a value")
    const parts = [first]
    while (text[pos] === ".") {
      pos++
      const next = part()
      if (next === null) return fail(pos, "expected a name after '.'")
      parts.push(next)
    }
    if (parts.length === 1) return { type: "attribute", key: attribute(first.text, first.start, validAttributes), start }
    const entity = first.quoted === null || first.quoted === "`" ? entities[first.text] : undefined
    if (entity === undefined) {
      const near = closest(first.text, Object.keys(entities))
      return fail(start, `'${first.text}' is not an entity: expected metrics, params, tags, attributes or datasets${near ? ` (did you mean '${near}'?)` : ""}`)
    }
    const keyParts = parts.slice(1)
    if (keyParts.length > 1 && keyParts.some((p) => p.quoted !== null))
      fail((keyParts.find((p) => p.quoted !== null) as Part).start, "quote the whole key, dots included: params.`a.b` or params.\"a.b\"")
    const key = keyParts.map((p) => p.text).join(".")
    const keyStart = (keyParts[0] as Part).start
    if (key === "") fail(keyStart, "the key is empty")
    if (entity === "attribute") return { type: entity, key: attribute(key, keyStart, validAttributes), start }
    if (entity === "dataset" && !datasetKeys.has(key)) fail(keyStart, `'${key}' is not a dataset key: expected name, digest or context`)
    return { type: entity, key, start }
  }
  const attribute = (key: string, at: number, valid: ReadonlySet<string>): string => {
    if (valid.has(key)) return key
    const names = [...valid].filter((name) => !name.includes(" ") && name !== "Created")
    const near = closest(key, names)
    return fail(at, `'${key}' is not a run attribute: expected one of ${names.join(", ")}${near ? ` (did you mean '${near}'?)` : ""}`)
  }
  return {
    get pos() {
      return pos
    },
    set pos(value: number) {
      pos = value
    },
    text,
    fail,
    skipSpace,
    sticky,
    word,
    quotedText,
    identifier,
  }
}

type Scanner = ReturnType<typeof scanner>

const comparatorAt = (s: Scanner): { comparator: Comparator; start: number } => {
  s.skipSpace()
  const start = s.pos
  const op = s.sticky(operator)
  if (op !== null) {
    if (numericComparators.has(op as Comparator)) return { comparator: op as Comparator, start }
    return s.fail(start, `'${op}' is not a comparison: expected =, !=, <, <=, > or >=`)
  }
  const word = s.word()?.toUpperCase()
  if (word === "LIKE" || word === "ILIKE" || word === "IN") return { comparator: word, start }
  if (word === "NOT" || word === "IS") {
    s.skipSpace()
    const second = s.word()?.toUpperCase()
    if (word === "NOT" && second === "IN") return { comparator: "NOT IN", start }
    if (word === "NOT") return s.fail(start, "NOT works only as NOT IN (MLflow has no NOT LIKE)")
    if (second === "NULL") return { comparator: "IS NULL", start }
    s.skipSpace()
    if (second === "NOT" && s.word()?.toUpperCase() === "NULL") return { comparator: "IS NOT NULL", start }
    return s.fail(start, "expected IS NULL or IS NOT NULL")
  }
  return s.fail(start, "expected a comparison after the key: =, !=, <, <=, >, >=, LIKE, ILIKE or IN")
}

const allowedComparators = (type: EntityType, key: string): ReadonlySet<Comparator> => {
  if (type === "metric" || (type === "attribute" && numericAttributes.has(key))) return numericComparators
  if (type === "param" || type === "tag") return valueComparators
  return listComparators
}

const quotedValue = (s: Scanner, what: string): string => {
  const start = s.pos
  const char = s.text[s.pos]
  if (char === "'" || char === '"') return s.quotedText(char)
  return s.fail(start, `${what} is compared with a quoted string, e.g. '${s.word() ?? "my-value"}' (single or double quotes)`)
}

/** `('a', "b")`: quoted strings, as ast.literal_eval reads MLflow's list. */
const quotedList = (s: Scanner): string[] => {
  const start = s.pos
  if (s.text[s.pos] !== "(") return s.fail(start, "IN takes a list in parentheses: attributes.run_id IN ('a1…', 'b2…')")
  s.pos++
  const items: string[] = []
  for (;;) {
    s.skipSpace()
    if (s.text[s.pos] === ")" && items.length > 0) break
    items.push(quotedValue(s, "each item of the list"))
    s.skipSpace()
    if (s.text[s.pos] === ",") {
      s.pos++
      s.skipSpace()
      if (s.text[s.pos] === ")") break
      continue
    }
    if (s.text[s.pos] !== ")") return s.fail(s.pos, "expected ',' or ')' in the list")
    break
  }
  s.pos++
  return items
}

/** MLflow keeps only lower-case ids (str.islower: a cased character and no upper-case one), as its MySQL store needs. */
const isLower = (value: string): boolean => value !== value.toUpperCase() && value === value.toLowerCase()

const valueFor = (s: Scanner, clause: Omit<Clause, "value">): ClauseValue => {
  const { type, key, comparator } = clause
  if (comparator === "IS NULL" || comparator === "IS NOT NULL") return null
  s.skipSpace()
  const start = s.pos
  if (comparator === "IN" || comparator === "NOT IN") {
    if (type === "attribute" && key !== "run_id") s.fail(start, "only attributes.run_id takes a list (IN / NOT IN)")
    const items = quotedList(s)
    return type === "attribute" ? items.filter(isLower) : items
  }
  if (type === "metric" || (type === "attribute" && numericAttributes.has(key))) {
    const literal = s.sticky(number)
    if (literal === null) return s.fail(start, `${type === "metric" ? "a metric" : `attributes.${key}`} is compared with a number, e.g. ${type === "metric" ? `metrics.${key} < 0.5` : `attributes.${key} > 1700000000000`}`)
    if (type === "attribute" && !/^-?\d+$/.test(literal)) return s.fail(start, `attributes.${key} is milliseconds since the epoch: a whole number`)
    return Number(literal)
  }
  if (s.text[s.pos] === "(") return s.fail(start, "a list needs IN: attributes.run_id IN ('…')")
  const what = type === "attribute" ? `attributes.${key}` : type === "dataset" ? `datasets.${key}` : `a ${type}`
  return quotedValue(s, what)
}

const clauseAt = (s: Scanner): Clause => {
  if (s.text[s.pos] === "(") s.fail(s.pos, "parentheses are not part of MLflow's search syntax: join clauses with AND")
  const { type, key } = s.identifier(new Set([...numericAttributes, ...stringAttributes]))
  const { comparator, start } = comparatorAt(s)
  if (!allowedComparators(type, key).has(comparator)) {
    if (comparator === "IS NULL" || comparator === "IS NOT NULL") s.fail(start, "IS NULL / IS NOT NULL is only supported for tags and params")
    s.fail(start, `${comparator} does not apply to ${type === "attribute" ? `attributes.${key}` : `${type}s`}: use ${[...allowedComparators(type, key)].join(", ")}`)
  }
  return { type, key, comparator, value: valueFor(s, { type, key, comparator }) }
}

/** The clauses of a filter; an empty or blank filter has none (every run matches). */
export const parseFilter = (text: string | undefined): Clause[] => {
  if (text === undefined || text.trim() === "") return []
  const s = scanner(text, "filter")
  const clauses: Clause[] = []
  s.skipSpace()
  for (;;) {
    clauses.push(clauseAt(s))
    s.skipSpace()
    if (s.pos >= text.length) return clauses
    const at = s.pos
    const joiner = s.word()?.toUpperCase()
    if (joiner === "AND") {
      s.skipSpace()
      if (s.pos >= text.length) s.fail(at, "the filter ends with AND: a clause must follow it")
      if (/^and\b/i.test(text.slice(s.pos))) s.fail(s.pos, "AND twice in a row")
      continue
    }
    if (joiner === "OR") s.fail(at, "clauses are joined by AND only (MLflow's run search has no OR)")
    if (text[at] === ";") s.fail(at, "one expression only: join clauses with AND, not ';'")
    s.fail(at, "expected AND between two clauses")
  }
}
