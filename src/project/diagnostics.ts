// Located diagnostics and the small YAML-tree accessors the loader rules share.
import { describeValue, pythonStr } from "./python-str.ts"
import type { Diagnostic, Location } from "./types.ts"
import { toPython, type Pos, type YEntry, type YNode } from "./yaml.ts"

export type MapNode = Extract<YNode, { kind: "map" }>

export type Report = {
  /** The absolute path of the file: what diagnostics and events name (messages use the file's own name). */
  file: string
  list: Diagnostic[]
  error(code: string, message: string, at: Pos | null, hint?: string, entryPoint?: string): void
  warn(code: string, message: string, at: Pos | null, hint?: string, entryPoint?: string): void
}

export const reportFor = (file: string, list: Diagnostic[] = []): Report => {
  const add = (severity: Diagnostic["severity"]) => (code: string, message: string, at: Pos | null, hint?: string, entryPoint?: string) => {
    list.push({
      severity,
      code,
      message,
      ...(hint ? { hint } : {}),
      file,
      ...(at ? { line: at.line, column: at.column } : {}),
      ...(entryPoint !== undefined ? { entry_point: entryPoint } : {}),
    })
  }
  return { file, list, error: add("error"), warn: add("warning") }
}

export const locationOf = (file: string, pos: Pos): Location => ({ file, line: pos.line, column: pos.column })

/** `mapping.get(key)` for a string key, as Python's dict.get would find it. */
export const entryOf = (map: MapNode, key: string): YEntry | undefined =>
  map.entries.find((e) => e.key.kind === "scalar" && e.key.value === key)

/** A mapping key as Python's str() shows it. */
export const keyText = (entry: YEntry): string => pythonStr(toPython(entry.key))

export const isString = (node: YNode | undefined): node is Extract<YNode, { kind: "scalar" }> & { value: string } =>
  node?.kind === "scalar" && typeof node.value === "string"

export const isNull = (node: YNode | undefined): boolean => node === undefined || (node.kind === "scalar" && node.value === null)

/** Python truthiness: MLflow skips falsy values (`docker_env: {}`, `conda_env: ""`, `conda_env: ~`). */
export const truthy = (node: YNode | undefined): boolean => {
  if (node === undefined) return false
  if (node.kind === "seq") return node.items.length > 0
  if (node.kind === "map") return node.entries.length > 0
  const v = node.value
  if (v === null || v === false || v === "" || v === 0n || v === 0) return false
  return true
}

/** How a node reads in a message: `the float 3.1`, `a list`, `null`. */
export const describeNode = (node: YNode): string => describeValue(toPython(node))

/** Keys of a mapping that are not in `known`, for unknown-key warnings. */
export const unknownEntries = (map: MapNode, known: readonly string[]): YEntry[] =>
  map.entries.filter((e) => !(e.key.kind === "scalar" && typeof e.key.value === "string" && known.includes(e.key.value)))

// "Did you mean" hints use the one shared suggestion rule.
export { closest } from "../util/closest.ts"

/** What kind of value a node is, without quoting it: for a file that turned out to be something else entirely. */
export const shapeOf = (node: YNode): string => {
  if (node.kind === "seq") return "a list"
  if (node.kind === "map") return "a mapping"
  const v = node.value
  if (v === null) return "null"
  if (typeof v === "string") return "a string"
  if (typeof v === "boolean") return "a boolean"
  if (typeof v === "bigint") return "an integer"
  if (typeof v === "number") return "a float"
  return v.kind === "date" ? "a date" : "a timestamp"
}
