// Writes and reads the flat meta.yaml mappings of an mlruns store, in PyYAML safe_dump's exact form.
import { ToolError } from "../errors.ts"
import { readsAsNull } from "../util/pyyaml-resolver.ts"
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

/**
 * Required here, for the rare hand-edited file: the general parser's module is the only one that imports the `yaml`
 * package, whose chunk alone costs a fresh process about 0.2 ms to load, and every store call reads meta.yaml.
 */
const parseGeneralYaml = (source: string, file: string): MetaMap => {
  const { parseGeneralMetaYaml } = require("./meta-yaml-general.ts") as typeof import("./meta-yaml-general.ts")
  return parseGeneralMetaYaml(source, (reason) => corrupt(file, reason))
}

/** A string field: undefined when absent, null when YAML null, otherwise the text (ints read as text). */
export const metaString = (meta: MetaMap, key: string): string | null | undefined => {
  const value = meta.get(key)
  if (value === undefined) return undefined
  if (value === "collection") return null
  if (value.plain && readsAsNull(value.text)) return null
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
