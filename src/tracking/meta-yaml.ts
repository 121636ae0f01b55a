// Writes and reads the flat meta.yaml mappings of an mlruns store, in PyYAML safe_dump's exact form.
import { ToolError } from "../errors.ts"
import { resolvePlain } from "../util/pyyaml-resolver.ts"
import { parseFlatYaml } from "./flat-yaml.ts"
import { emitStringValue } from "./yaml-emit.ts"

/** What a meta.yaml value can be: strings, integers, null, and the legacy empty `tags: []`. */
export type MetaValue = string | number | null | readonly []

/** Sorted keys, one per line, `\n` at the end: `yaml.dump(d, default_flow_style=False, sort_keys=True)`. */
export const dumpMetaYaml = (record: Record<string, MetaValue>): string =>
  Object.keys(record)
    .sort()
    .map((key) => `${key}:${emitValue(key, record[key] ?? null)}`)
    .join("\n") + "\n"

const emitValue = (key: string, value: MetaValue): string => {
  if (value === null) return " null"
  if (typeof value === "string") return emitStringValue(key.length + 1, value)
  if (typeof value === "number") {
    // Python ints only: a float here would be written differently (1.0, 1e+16) and read back as float.
    if (!Number.isSafeInteger(value)) throw new Error(`meta.yaml key '${key}' needs an integer, got ${value}`)
    return ` ${value}`
  }
  return " []"
}

/** One value as written: the scalar text (quotes removed, folding undone) and whether it was unquoted. */
export type MetaScalar = { text: string; plain: boolean }
export type MetaMap = ReadonlyMap<string, MetaScalar | "collection">

const corrupt = (file: string, reason: string): ToolError =>
  new ToolError("tracking.meta.corrupt", `Cannot read ${file}: ${reason}`, {
    hint: "the mlruns store is damaged; restore the file or remove the folder that holds it",
    exitCode: 1,
  })

/**
 * Every scalar keeps its text and each field is typed by the caller: PyYAML (YAML 1.1) and YAML 1.2
 * parsers disagree on plain scalars such as `1e3` or `0o7`. What safe_dump writes is read by the fast
 * flat reader; anything else (hand-edited files) by the `yaml` package with its failsafe schema.
 */
export const parseMetaYaml = (source: string, file: string): MetaMap => parseFlatYaml(source) ?? parseGeneralYaml(source, file)

const parseGeneralYaml = (source: string, file: string): MetaMap => {
  // Loaded here, for the rare hand-edited file: evaluating the package costs every command that reads the store.
  const { isMap, isScalar, isSeq, parseDocument } = require("yaml") as typeof import("yaml")
  const doc = parseDocument(source, { schema: "failsafe", uniqueKeys: false, prettyErrors: false })
  const error = doc.errors[0]
  if (error) throw corrupt(file, error.message.split("\n")[0] ?? "invalid YAML")
  if (!isMap(doc.contents)) throw corrupt(file, "expected a mapping of keys to values")
  const entries = new Map<string, MetaScalar | "collection">()
  for (const pair of doc.contents.items) {
    if (!isScalar(pair.key)) throw corrupt(file, "a key is not a plain string")
    const key = String(pair.key.value)
    const value = pair.value
    if (isScalar(value)) entries.set(key, { text: String(value.value), plain: value.type === "PLAIN" })
    else if (value === null) entries.set(key, { text: "", plain: true })
    else if (isSeq(value) || isMap(value)) entries.set(key, "collection")
    else throw corrupt(file, `the value of '${key}' is not a scalar`)
  }
  return entries
}

/** A string field: undefined when absent, null when YAML null, otherwise the text (ints read as text). */
export const metaString = (meta: MetaMap, key: string): string | null | undefined => {
  const value = meta.get(key)
  if (value === undefined) return undefined
  if (value === "collection") return null
  if (value.plain && resolvePlain(value.text) === "null") return null
  return value.text
}

/** An integer field (timestamps, status): undefined when absent, null when YAML null. */
export const metaInt = (meta: MetaMap, key: string, file: string): number | null | undefined => {
  const text = metaString(meta, key)
  if (text === undefined || text === null) return text
  const value = Number(text.replaceAll("_", ""))
  if (text.trim() === "" || !Number.isFinite(value)) throw corrupt(file, `'${key}' should be a number, got '${text}'`)
  return Math.trunc(value)
}

/** Same error for callers that find a structural problem after parsing. */
export const corruptMeta = corrupt
