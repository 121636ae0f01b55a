// One declared parameter: its type name, its default rendered as MLflow renders it, and the warnings about both.
import { closest, describeNode, entryOf, isNull, isString, keyText, locationOf, type Report } from "./diagnostics.ts"
import { pythonStr } from "./python-str.ts"
import { isUri } from "./python-url.ts"
import type { ParameterSpec, ParameterType } from "./types.ts"
import { isPythonFloat, isPythonInt } from "./yaml-scalar.ts"
import { toPython, type YEntry, type YNode } from "./yaml.ts"

// Maps, not object literals: a type named "constructor" must not find Object.prototype.constructor.
const canonical = new Map<string, ParameterType>([["string", "string"], ["float", "float"], ["int", "int"], ["bool", "bool"], ["path", "path"], ["uri", "uri"]])
const aliases = new Map<string, ParameterType>([["str", "string"], ["double", "float"], ["integer", "int"], ["long", "int"], ["boolean", "bool"]])
const specKeys = ["type", "default", "description"] as const
const boolWords = new Set(["true", "false", "1", "0", "yes", "no"])

/** Canonical type of a type name, with the warning a non-standard name deserves. */
const typeOf = (name: string, declared: string, node: YNode, report: Report, entryPoint: string): ParameterType => {
  const known = canonical.get(declared)
  if (known) return known
  const alias = aliases.get(declared)
  if (alias) {
    report.warn("parameter.type", `parameter '${name}' has type '${declared}', read as '${alias}'`, node.pos, `write type: ${alias}`, entryPoint)
    return alias
  }
  // MLflow compares the type to "path" and "uri" exactly; every other name is an unchecked string.
  const lower = declared.toLowerCase()
  const hint =
    lower === "path" || lower === "uri"
      ? `MLflow only gives path/uri handling to the lower-case name: write type: ${lower}`
      : "use one of string, float, int, bool, path, uri"
  report.warn("parameter.type", `parameter '${name}' has type '${declared}', which MLflow does not know; its value is passed as a string`, node.pos, hint, entryPoint)
  return "string"
}

/** Warnings for a default that will not reach the command as the author probably expects. */
const checkDefault = (name: string, type: ParameterType, node: YNode, rendered: string, report: Report, entryPoint: string) => {
  const warn = (message: string, hint: string) => report.warn("parameter.default", message, node.pos, hint, entryPoint)
  const v = node.kind === "scalar" ? node.value : null
  if (node.kind !== "scalar") {
    warn(`default of parameter '${name}' is ${describeNode(node)}; the command receives Python's rendering of it: ${rendered}`, "quote the default to pass it as written")
    return
  }
  // YAML 1.1 turns yes/no/on/off into booleans and 010/0x10/1:30 into integers: the command gets True or 8.
  const source = node.source
  if (typeof v === "boolean" && !/^(true|false)$/i.test(source)) {
    warn(`default of parameter '${name}' is written ${source}, which YAML 1.1 reads as a boolean: the command receives ${rendered}`, `quote it: default: "${source}"`)
  } else if (typeof v === "bigint" && !/^[-+]?(0|[1-9][0-9]*)$/.test(source)) {
    warn(`default of parameter '${name}' is written ${source}, which YAML 1.1 reads as the integer ${rendered}`, `quote it: default: "${source}"`)
  }
  const mismatch =
    (type === "float" && (typeof v === "boolean" || !isPythonFloat(rendered))) ||
    (type === "int" && (typeof v === "boolean" || !isPythonInt(rendered))) ||
    (type === "bool" && typeof v !== "boolean" && !boolWords.has(rendered.toLowerCase()))
  if (mismatch) {
    const article = type === "int" ? "an" : "a"
    warn(`default ${rendered} of parameter '${name}' is not ${article} ${type}; it is passed as written`, `use ${article} ${type} default, or declare the parameter as type: string`)
  }
  if (type === "uri" && !isUri(rendered)) {
    warn(`default ${rendered} of uri parameter '${name}' has no URI scheme: a run that does not set -P ${name}=… fails`, "use a URI such as file:///data or s3://bucket/key, or declare type: path")
  }
}

const unknownKeyHint = (key: string): string => {
  if (key.includes(":")) return `add a space after the colon ({type: int, default: 10}): YAML reads '${key}' as one key, so MLflow sees no type or default`
  const glued = /^(type|default)\s+(\S.*)$/.exec(key)
  if (glued) return `add a colon: ${glued[1]}: ${glued[2]} (YAML reads '${key}' as one key)`
  if (canonical.has(key) || aliases.has(key)) return `did you mean type: ${key}?`
  const near = closest(key, specKeys)
  return near ? `did you mean '${near}'?` : "a parameter takes type and default"
}

/** Reads one `name: spec` entry; returns null (with an entry-point problem) where MLflow would crash. */
export const parameterFrom = (entry: YEntry, report: Report, entryPoint: string): ParameterSpec | null => {
  const name = keyText(entry)
  const spec = entry.value
  const location = locationOf(report.file, entry.key.pos)
  if (!isString(entry.key)) {
    report.error("entry_point.parameters", `parameter name ${name} is ${describeNode(entry.key)}: Python cannot use it as a keyword`, entry.key.pos, `quote the name: "${name}":`, entryPoint)
    return null
  }
  if (isString(spec)) {
    const type = typeOf(name, spec.value, spec, report, entryPoint)
    return { name, type, declared_type: spec.value, default: null, location }
  }
  if (spec.kind !== "map") {
    const example = spec.kind === "scalar" && spec.value !== null ? `${name}: {type: string, default: ${spec.source}}` : `${name}: string`
    report.error("entry_point.parameters", `parameter '${name}' must be a type name or a mapping with type and default, but it is ${describeNode(spec)}`, spec.pos, `write ${example}`, entryPoint)
    return null
  }
  for (const extra of spec.entries.filter((e) => !(isString(e.key) && (specKeys as readonly string[]).includes(e.key.value)))) {
    const key = keyText(extra)
    const hint = unknownKeyHint(key)
    report.warn("parameter.unknown_key", `unknown key '${key}' in parameter '${name}': MLflow ignores it`, extra.key.pos, hint, entryPoint)
  }
  const typeNode = entryOf(spec, "type")?.value
  let declared = "string"
  let type: ParameterType = "string"
  if (typeNode && isString(typeNode)) {
    declared = typeNode.value
    type = typeOf(name, declared, typeNode, report, entryPoint)
  } else if (typeNode) {
    declared = pythonStr(toPython(typeNode))
    report.warn("parameter.type", `parameter '${name}' has type ${describeNode(typeNode)}, which is not a type name; its value is passed as a string`, typeNode.pos, "write type: string (or float, int, bool, path, uri)", entryPoint)
  }
  const defaultNode = entryOf(spec, "default")?.value
  if (!defaultNode || isNull(defaultNode)) return { name, type, declared_type: declared, default: null, location }
  const rendered = pythonStr(toPython(defaultNode))
  checkDefault(name, type, defaultNode, rendered, report, entryPoint)
  return { name, type, declared_type: declared, default: rendered, location }
}
