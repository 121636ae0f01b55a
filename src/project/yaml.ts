// Reads YAML the way PyYAML's safe_load does (YAML 1.1 scalars, last duplicate key wins), keeping every position.
import type { ErrorCode } from "../error-codes.ts"
import { resolve } from "node:path"
import { CST, Lexer, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Scalar } from "yaml"
import { ToolError } from "../errors.ts"
import { maxYamlBytes, readProjectFile } from "./project-file.ts"
import { resolvePlain, type Tag } from "../util/pyyaml-resolver.ts"
import { pythonRepr, pythonStr, type PyScalar, type PyValue } from "./python-str.ts"
import { reindentQuoted } from "./yaml-repair.ts"
import { ScalarError, constructScalar } from "./yaml-scalar.ts"

export { maxYamlBytes }

export type Pos = { line: number; column: number }
export type YNode =
  | { kind: "scalar"; value: PyScalar; pos: Pos; /** the text as written, quotes included */ source: string }
  | { kind: "seq"; items: YNode[]; pos: Pos }
  | { kind: "map"; entries: YEntry[]; pos: Pos }
export type YEntry = { key: YNode; value: YNode }
export type YamlWarning = { code: string; message: string; hint?: string; pos: Pos }
export type YamlDoc = { root: YNode | null; warnings: YamlWarning[] }

const maxDepth = 100
/** Expanded node count, aliases included: a "billion laughs" document stops here instead of exhausting memory. */
const maxNodes = 100_000

const tags = new Map<string, Tag>(
  (["str", "int", "float", "bool", "null", "timestamp"] as const).map((tag) => [`tag:yaml.org,2002:${tag}`, tag]),
)
const collectionTags = new Set(["tag:yaml.org,2002:seq", "tag:yaml.org,2002:map", "!"])

// PyYAML's reader rejects these before parsing anything ("special characters are not allowed").
const unprintable = /[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u

const yamlError = (code: ErrorCode, message: string, file: string, pos: Pos, hint?: string) =>
  new ToolError(code, message, { hint, location: { file, line: pos.line, column: pos.column } })

/**
 * A piece of the file quoted in a message, kept short: a file that fails to parse may be something else entirely
 * (a key, a binary), and its contents do not belong in an error.
 */
const snippet = (text: string): string => {
  const flat = text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?")
  return flat.length > 24 ? `${flat.slice(0, 20)}…` : flat
}

/** The parser's message without the text it quotes from the file (`…: <source>`): the location points at it. */
const parserMessage = (message: string): string => {
  const first = message.split("\n")[0] ?? ""
  const colon = first.indexOf(": ")
  return colon > 0 ? first.slice(0, colon) : first
}

/** 1-based line and column of an offset, for errors found before the parser has counted lines. */
const posIn = (text: string, offset: number): Pos => {
  const before = text.slice(0, offset)
  return { line: before.split("\n").length, column: offset - before.lastIndexOf("\n") }
}

/** Python's hash equality for dict keys: 1, 1.0 and True are one key. */
const keyOf = (v: PyScalar): string => {
  if (typeof v === "boolean") return v ? "n:1" : "n:0"
  if (typeof v === "bigint") return `n:${v}`
  if (typeof v === "number" && Number.isInteger(v)) return `n:${BigInt(v)}`
  if (typeof v === "number") return `f:${pythonRepr(v)}`
  if (typeof v === "string") return `s:${v}`
  return v === null ? "None" : `d:${pythonStr(v)}`
}

/** Brackets in the text plus the most `-`/`?` on one line bound the depth from above: most files skip the lexer pass. */
const mayNestDeeply = (text: string): boolean => {
  let brackets = 0
  let perLine = 0
  let most = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x5b || c === 0x7b) brackets++
    else if (c === 0x2d || c === 0x3f) most = Math.max(most, ++perLine)
    else if (c === 0x0a) perLine = 0
  }
  return brackets + most > maxDepth
}

const checkNesting = (text: string, file: string) => {
  if (!mayNestDeeply(text)) return
  let flow = 0
  let onLine = 0
  let offset = 0
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token)
    if (type === "flow-seq-start" || type === "flow-map-start") flow++
    else if (type === "flow-seq-end" || type === "flow-map-end") flow = Math.max(0, flow - 1)
    else if (type === "newline") onLine = 0
    else if (type === "seq-item-ind" || type === "explicit-key-ind") onLine++
    if (flow + onLine > maxDepth) throw yamlError("yaml.too_deep", `YAML nesting is deeper than ${maxDepth} levels`, file, posIn(text, offset))
    if (type !== "doc-mode" && type !== "scalar" && type !== "flow-error-end") offset += token.length
  }
}

/** Parses YAML text; throws a located ToolError (code `yaml.*`) wherever PyYAML would raise. */
export const parseYaml = (input: string, file: string): YamlDoc => {
  let text = input.startsWith("\uFEFF") ? input.slice(1) : input
  let lines = new LineCounter()
  const posOf = (offset: number): Pos => {
    const at = lines.linePos(offset)
    return { line: at.line, column: at.col }
  }
  const bad = unprintable.exec(text)
  if (bad) {
    const code = bad[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, "0")
    throw yamlError("yaml.binary", `unacceptable character #x${code}: the file is not YAML text (binary data?)`, file, posIn(text, bad.index))
  }
  checkNesting(text, file)
  const parse = () => {
    lines = new LineCounter()
    const doc = parseDocument(text, { version: "1.1", schema: "failsafe", lineCounter: lines, uniqueKeys: false, prettyErrors: false })
    // PyYAML reads `{a: 1}#note` as a mapping and a comment; yaml insists on a space first but composes the same tree.
    return { doc, error: doc.errors.find((e) => !e.message.startsWith("Comments must be separated from other tokens by white space")) }
  }
  let { doc, error } = parse()
  for (let repairs = 0; error && /^Missing closing ["']quote/.test(error.message) && repairs < 20; repairs++) {
    const repaired = reindentQuoted(text, error.pos[0])
    if (repaired === null || repaired === text) break
    text = repaired
    ;({ doc, error } = parse())
  }
  if (error) {
    const where = posOf(error.pos[0])
    const deep = error.message.includes("call stack")
    const message = deep ? `YAML nesting is too deep` : `invalid YAML: ${parserMessage(error.message)}`
    throw yamlError(deep ? "yaml.too_deep" : "yaml.syntax", message, file, where)
  }
  const warnings: YamlWarning[] = []
  const anchors = new Map<string, { node: YNode; size: number }>()
  let expanded = 0

  const convert = (node: YamlNode | null, parentOffset: number, depth: number, asKey = false): { node: YNode; size: number } => {
    if (depth > maxDepth) throw yamlError("yaml.too_deep", `YAML nesting is deeper than ${maxDepth} levels`, file, posOf(parentOffset))
    if (node === null) {
      expanded++
      return { node: { kind: "scalar", value: null, pos: posOf(parentOffset), source: "" }, size: 1 }
    }
    const start = node.range?.[0] ?? parentOffset
    if (isAlias(node)) {
      const target = anchors.get(node.source)
      if (!target) throw yamlError("yaml.syntax", `invalid YAML: found undefined alias '${snippet(node.source)}'`, file, posOf(start))
      expanded += target.size
      if (expanded > maxNodes) {
        throw yamlError("yaml.aliases", `YAML aliases expand to more than ${maxNodes} values (a "billion laughs" document?)`, file, posOf(start))
      }
      return target
    }
    const result = isScalar(node) ? scalar(node, start, asKey) : isSeq(node) || isMap(node) ? collection(node, start, depth) : null
    if (!result) throw yamlError("yaml.syntax", "invalid YAML: unexpected node", file, posOf(start))
    if (node.anchor) {
      if (anchors.has(node.anchor)) throw yamlError("yaml.syntax", `invalid YAML: found duplicate anchor '${node.anchor}'`, file, posOf(start))
      anchors.set(node.anchor, result)
    }
    return result
  }

  const scalar = (node: Scalar, start: number, asKey: boolean) => {
    expanded++
    const source = node.range ? text.slice(node.range[0], node.range[1]) : ""
    let raw = typeof node.value === "string" ? node.value : String(node.value ?? "")
    // A block scalar whose last line has no line break (end of file) ends without "\n" in PyYAML; yaml adds one.
    const lastBreak = source.lastIndexOf("\n")
    const blockAtEof = (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED") && lastBreak >= 0 && source.slice(lastBreak + 1).trim() !== ""
    if (blockAtEof && raw.endsWith("\n")) raw = raw.slice(0, -1)
    // PyYAML resolves the non-specific tag `!` like an untagged plain scalar, even on quoted text.
    const implicit = !node.tag ? node.type === "PLAIN" : node.tag === "!"
    const tag: Tag | undefined = implicit ? resolvePlain(raw) : node.tag ? tags.get(node.tag) : "str"
    if (tag === "merge" && !asKey) throw yamlError("yaml.syntax", "invalid YAML: '<<' (a merge key) used as a value", file, posOf(start), "quote it: '<<'")
    if (!tag) throw yamlError("yaml.tag", `unsupported YAML tag ${snippet(node.tag ?? "")}`, file, posOf(start), "remove the tag: MLflow's safe YAML loader does not construct it")
    try {
      return { node: { kind: "scalar" as const, value: constructScalar(tag, raw), pos: posOf(start), source }, size: 1 }
    } catch (e) {
      if (!(e instanceof ScalarError)) throw e
      throw yamlError("yaml.value", `invalid YAML value ${snippet(source)}: ${e.message}`, file, posOf(start))
    }
  }

  const collection = (node: YamlNode & { items: unknown[]; tag?: string }, start: number, depth: number) => {
    if (node.tag && !collectionTags.has(node.tag)) {
      throw yamlError("yaml.tag", `unsupported YAML tag ${snippet(node.tag ?? "")}`, file, posOf(start), "remove the tag: MLflow's safe YAML loader does not construct it")
    }
    expanded++
    if (expanded > maxNodes) throw yamlError("yaml.aliases", `the YAML document has more than ${maxNodes} values`, file, posOf(start))
    if (isSeq(node)) {
      let size = 1
      const items = node.items.map((item) => {
        const r = convert(item as YamlNode | null, start, depth + 1)
        size += r.size
        return r.node
      })
      return { node: { kind: "seq" as const, items, pos: posOf(start) }, size }
    }
    return mapping(node as YamlNode & { items: Array<{ key: unknown; value: unknown }> }, start, depth)
  }

  const mapping = (node: { items: Array<{ key: unknown; value: unknown }> }, start: number, depth: number) => {
    let size = 1
    const merged: YEntry[] = []
    const own: YEntry[] = []
    const ownKeys = new Set<YNode>()
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null
      const keyOffset = keyNode?.range?.[0] ?? start
      const key = convert(keyNode, start, depth + 1, true)
      const valueNode = pair.value as YamlNode | null
      const value = convert(valueNode, valueNode?.range?.[0] ?? keyOffset, depth + 1)
      size += key.size + value.size
      const isMerge = key.node.kind === "scalar" && key.node.source === "<<" && !(keyNode as { tag?: string } | null)?.tag
      if (!isMerge) {
        own.push({ key: key.node, value: value.node })
        ownKeys.add(key.node)
        continue
      }
      // PyYAML's flatten_mapping: merged keys come first, and earlier mappings in a merge list win.
      const sources = value.node.kind === "seq" ? [...value.node.items].reverse() : [value.node]
      for (const source of sources) {
        if (source.kind !== "map") throw yamlError("yaml.syntax", "invalid YAML: expected a mapping or list of mappings for merging", file, source.pos)
        merged.push(...source.entries)
      }
    }
    const entries: YEntry[] = []
    const index = new Map<string, number>()
    for (const entry of [...merged, ...own]) {
      if (entry.key.kind !== "scalar") throw yamlError("yaml.syntax", "invalid YAML: found unhashable key (a list or mapping used as a key)", file, entry.key.pos)
      const id = keyOf(entry.key.value)
      const at = index.get(id)
      if (at === undefined) {
        index.set(id, entries.length)
        entries.push(entry)
        continue
      }
      const previous = entries[at] as YEntry
      if (ownKeys.has(entry.key) && ownKeys.has(previous.key)) {
        warnings.push({
          code: "yaml.duplicate_key",
          message: `duplicate key '${pythonStr(entry.key.value)}': the value on line ${entry.key.pos.line} replaces the one on line ${previous.key.pos.line}, as in MLflow`,
          hint: "remove the duplicate; only the last one takes effect",
          pos: entry.key.pos,
        })
      }
      // A Python dict keeps the first key object and takes the last value.
      entries[at] = { key: previous.key, value: entry.value }
    }
    return { node: { kind: "map" as const, entries, pos: posOf(start) }, size }
  }

  const root = doc.contents === null ? null : convert(doc.contents as YamlNode, 0, 0).node
  // A document made of nothing but comments or `---` is None for PyYAML, like an empty file.
  const empty = root === null || (root.kind === "scalar" && root.value === null && root.source === "")
  return { root: empty ? null : root, warnings }
}

/**
 * Reads a YAML file of a project with the guards every file we parse needs: inside the project root, a regular
 * file, the size cap (checked before reading), UTF-8, then parseYaml. Locations name the absolute path; messages
 * the `display` name. A file that does not exist throws `project.unreadable`.
 */
export const readYaml = (root: string, path: string, display: string, maxBytes = maxYamlBytes): YamlDoc => {
  const file = resolve(path)
  const origin = { line: 1, column: 1 }
  const limit = Math.round(maxBytes / 1024)
  const read = readProjectFile(root, file, {
    display,
    what: "",
    maxBytes,
    tooLarge: (size, grew) =>
      grew
        ? yamlError("yaml.too_large", `${display} grew past ${limit} KiB while being read`, file, origin)
        : yamlError("yaml.too_large", `${display} is ${size} bytes; files over ${limit} KiB are refused`, file, origin, "MLproject and python_env.yaml files are a few KiB: check that this is the right file"),
  })
  if (read === null) throw new ToolError("project.unreadable", `${display} does not exist`, { location: { file } })
  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(read.bytes)
  } catch {
    const lossy = new TextDecoder("utf-8").decode(read.bytes)
    const before = lossy.slice(0, Math.max(0, lossy.indexOf("\uFFFD")))
    const line = before.split("\n").length
    throw yamlError("yaml.binary", `${display} is not UTF-8 text (binary data?)`, file, { line, column: before.length - before.lastIndexOf("\n") }, "save the file as UTF-8")
  }
  return parseYaml(text, file)
}

/** The plain Python value of a node (what yaml.safe_load returns), for rendering with python-str. */
export const toPython = (node: YNode | null): PyValue => {
  if (node === null) return null
  if (node.kind === "scalar") return node.value
  if (node.kind === "seq") return node.items.map(toPython)
  return { kind: "dict", entries: node.entries.map((e) => [toPython(e.key), toPython(e.value)] as [PyValue, PyValue]) }
}
