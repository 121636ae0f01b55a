// Declared entry points: command, parameters and placeholders, with problems confined to the entry point.
import { closest, describeNode, entryOf, isNull, isString, keyText, locationOf, unknownEntries, type MapNode, type Report } from "./diagnostics.ts"
import { parameterFrom } from "./parameter-spec.ts"
import { parseTemplate, templateHint } from "./template.ts"
import type { EntryPoint, ParameterSpec } from "./types.ts"
import type { Pos, YEntry, YNode } from "./yaml.ts"

const placeholderHint = "declare it under parameters or escape the braces as {{ }}"

/**
 * Where a piece of the command sits in the file. Exact for one-line commands; for block and folded
 * scalars the n-th occurrence of the same text in the source is used, which is right unless escapes move it.
 */
const positionIn = (node: Extract<YNode, { kind: "scalar" }>, value: string, offset: number, text: string): Pos => {
  const source = node.source
  if (!source.includes("\n") && source.length === value.length + (/^["']/.test(source) ? 2 : 0)) {
    return { line: node.pos.line, column: node.pos.column + offset + (/^["']/.test(source) ? 1 : 0) }
  }
  let nth = 0
  for (let i = value.indexOf(text); i >= 0 && i < offset; i = value.indexOf(text, i + 1)) nth++
  let at = source.indexOf(text)
  for (let k = 0; k < nth && at >= 0; k++) at = source.indexOf(text, at + 1)
  if (at < 0) return node.pos
  const before = source.slice(0, at)
  const lines = before.split("\n")
  const last = lines[lines.length - 1] ?? ""
  return lines.length === 1 ? { line: node.pos.line, column: node.pos.column + at } : { line: node.pos.line + lines.length - 1, column: last.length + 1 }
}

const checkCommand = (name: string, node: YNode, parameters: ParameterSpec[], declaredNames: Set<string>, report: Report) => {
  if (!isString(node)) return
  const template = parseTemplate(node.value)
  const seen = new Set<string>()
  for (const part of template.parts) {
    if (typeof part === "string" || declaredNames.has(part.name) || seen.has(part.name)) continue
    seen.add(part.name)
    const declared = parameters.length ? parameters.map((p) => p.name).join(", ") : "none"
    report.error("entry_point.placeholder", `placeholder ${part.text} in the command of entry point '${name}' is not a declared parameter (declared: ${declared})`, positionIn(node, node.value, part.offset, part.text), placeholderHint, name)
  }
  if (template.problem) {
    const at = positionIn(node, node.value, template.problem.offset, node.value.slice(template.problem.offset, template.problem.offset + 2))
    const refused = template.problem.message.includes("mlproject refuses")
    const what = refused ? "cannot be filled with shell-quoted values" : "is not a valid template"
    report.error("entry_point.template", `the command of entry point '${name}' ${what}: ${template.problem.message}`, at, templateHint(template.problem.message), name)
  }
}

const commandProblem = (name: string, entry: YEntry | undefined, at: Pos, strayCommand: YNode | undefined, report: Report) => {
  const node = entry?.value
  if (node === undefined || isNull(node)) {
    const hint = strayCommand
      ? `the command on line ${strayCommand.pos.line} is indented as an entry point of its own: indent it under '${name}'`
      : "add command: <shell command> under it"
    report.error("entry_point.command", `entry point '${name}' has no command`, entry?.key.pos ?? at, hint, name)
    return
  }
  if (isString(node)) {
    if (node.value.trim() === "") report.warn("entry_point.command", `entry point '${name}' has an empty command`, node.pos, "give it a shell command", name)
    return
  }
  const hint = node.kind === "seq" ? "join the commands into one string with && (or use a block scalar: command: |)" : "quote the command"
  report.error("entry_point.command", `the command of entry point '${name}' must be a string, but it is ${describeNode(node)}`, node.pos, hint, name)
}

const parametersOf = (name: string, entry: YEntry | undefined, report: Report): ParameterSpec[] => {
  if (entry === undefined) return []
  const node = entry.value
  if (node.kind !== "map") {
    const message = isNull(node)
      ? `the parameters of entry point '${name}' are empty (null): MLflow crashes on this`
      : `the parameters of entry point '${name}' must be a mapping of names to types, but they are ${describeNode(node)}`
    const hint = isNull(node) ? "remove the empty parameters: line or declare parameters under it" : "write parameters: {alpha: {type: float, default: 0.5}}"
    report.error("entry_point.parameters", message, isNull(node) ? entry.key.pos : node.pos, hint, name)
    return []
  }
  return node.entries.map((entry) => parameterFrom(entry, report, name)).filter((p) => p !== null)
}

const entryKeyHint = (key: string): string => {
  const near = closest(key, ["command", "parameters"])
  return near ? `did you mean '${near}'? An entry point takes command and parameters` : "an entry point takes command and parameters"
}

/** One declared entry point; its own problems only make that entry point unusable. */
const entryPointFrom = (key: YNode, node: YNode, report: Report, name: string, strayCommand: YNode | undefined): EntryPoint => {
  const location = locationOf(report.file, key.pos)
  const start = report.list.length
  // MLflow's loader crashes on a non-mapping entry point (AttributeError) like it does on null parameters;
  // we confine both to the entry point, so `-e other` still runs and `validate` still lists everything.
  if (node.kind !== "map") {
    const stray = name === "command" || name === "parameters"
    const hint = stray ? `'${name}' is indented as an entry point: indent it under the entry point it belongs to` : `write ${name}: {command: <shell command>}`
    report.error("entry_point.invalid", `entry point '${name}' must be a mapping with a command, but it is ${describeNode(node)}`, key.pos, hint, name)
    return { name, command: "", parameters: [], script: false, location, problems: report.list.slice(start) }
  }
  for (const extra of unknownEntries(node, ["command", "parameters"])) {
    report.warn("entry_point.unknown_key", `unknown key '${keyText(extra)}' in entry point '${name}': MLflow ignores it`, extra.key.pos, entryKeyHint(keyText(extra)), name)
  }
  const command = entryOf(node, "command")?.value
  commandProblem(name, entryOf(node, "command"), key.pos, strayCommand, report)
  const parametersNode = entryOf(node, "parameters")?.value
  const parameters = parametersOf(name, entryOf(node, "parameters"), report)
  // A parameter with a broken spec is still declared: its placeholder is not reported a second time.
  const declaredNames = new Set(parametersNode?.kind === "map" ? parametersNode.entries.map((e) => e.key).filter(isString).map((k) => k.value) : [])
  if (command) checkCommand(name, command, parameters, declaredNames, report)
  const problems = report.list.slice(start).filter((d) => d.severity === "error")
  return { name, command: isString(command) ? command.value : "", parameters, script: false, location, problems }
}

/** Entry points in file order; a non-mapping `entry_points` is a file-level error (MLflow crashes on it). */
export const entryPointsFrom = (root: MapNode, report: Report): EntryPoint[] => {
  const entry = entryOf(root, "entry_points")
  if (!entry) return []
  const node = entry.value
  if (node.kind !== "map") {
    const hint =
      node.kind === "seq" ? "remove the '-' in front of each entry point name: entry_points is a mapping" : isNull(node) ? "remove the empty entry_points: line or declare an entry point under it" : "write entry_points: {main: {command: <shell command>}}"
    report.error("entry_points.invalid", `entry_points must be a mapping of entry point names to {command, parameters}, but it is ${describeNode(node)}`, node.pos, hint)
    return []
  }
  const strayIndex = node.entries.findIndex((e) => isString(e.key) && e.key.value === "command" && isString(e.value))
  return node.entries.map((e, i) => {
    const name = keyText(e)
    if (!isString(e.key)) {
      report.warn("entry_point.name", `entry point name ${name} is ${describeNode(e.key)}; it is used as '${name}'`, e.key.pos, `quote the name: "${name}":`)
    }
    const stray = strayIndex === i + 1 ? node.entries[strayIndex]?.value : undefined
    return entryPointFrom(e.key, e.value, report, name, stray)
  })
}
