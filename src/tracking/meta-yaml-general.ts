// Reads a meta.yaml that safe_dump did not write (a hand-edited file) with the `yaml` package's failsafe schema.
import { isMap, isScalar, isSeq, parseDocument } from "yaml"
import type { ToolError } from "../errors.ts"
import type { MetaMap, MetaScalar } from "./meta-yaml.ts"

/** Every scalar as its text, as the fast reader gives it; `corrupt(reason)` is the error for a damaged file. */
export const parseGeneralMetaYaml = (source: string, corrupt: (reason: string) => ToolError): MetaMap => {
  const doc = parseDocument(source, { schema: "failsafe", uniqueKeys: false, prettyErrors: false })
  const error = doc.errors[0]
  if (error) throw corrupt(error.message.split("\n")[0] ?? "invalid YAML")
  if (!isMap(doc.contents)) throw corrupt("expected a mapping of keys to values")
  const entries = new Map<string, MetaScalar | "collection">()
  for (const pair of doc.contents.items) {
    if (!isScalar(pair.key)) throw corrupt("a key is not a plain string")
    const key = String(pair.key.value)
    const value = pair.value
    if (isScalar(value)) entries.set(key, { text: String(value.value), plain: value.type === "PLAIN" })
    else if (value === null) entries.set(key, { text: "", plain: true })
    else if (isSeq(value) || isMap(value)) entries.set(key, "collection")
    else throw corrupt(`the value of '${key}' is not a scalar`)
  }
  return entries
}
