// Resolves -P values against an entry point's parameters and builds the exact shell command MLflow would run.
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"
import { isUri, localPathOf } from "./python-url.ts"
import { shellQuote } from "./shell-quote.ts"
import { parseTemplate, renderTemplate, templateHint } from "./template.ts"
import type { Diagnostic, EntryPoint, ParameterSpec, ResolvedParameter, ResolvedParameters } from "./types.ts"
import { isPythonFloat, isPythonInt } from "./yaml-scalar.ts"

// Extra keys are written into the command unquoted (` --key value`), so they must not carry shell syntax
// (MLflow's GHSA-p2gf-345f-mhmm: command injection through an extra parameter's name).
const safeKey = /^[A-Za-z0-9_.-]+$/

const checkGiven = (given: Array<[string, string]>) => {
  const seen = new Set<string>()
  for (const [name] of given) {
    if (seen.has(name)) throw new ToolError("param.repeated", `Repeated parameter: '${name}'`, { hint: `give -P ${name}=… once` })
    seen.add(name)
  }
}

/** The value a declared parameter hands to the command, after MLflow's uri/path rules and our type checks. */
const valueOf = (spec: ParameterSpec, raw: string, fromUser: boolean, options: ResolveOptions): string => {
  const cwd = options.cwd
  const invalid = (message: string, hint: string) => new ToolError("param.invalid", message, { hint })
  // MLflow validates neither; we check what the user typed (defaults were warned about at load time).
  if (fromUser && spec.type === "float" && !isPythonFloat(raw)) {
    throw invalid(`parameter '${spec.name}' expects a float but got '${raw}'`, `pass a number, e.g. -P ${spec.name}=0.5`)
  }
  if (fromUser && spec.type === "int" && !isPythonInt(raw)) {
    throw invalid(`parameter '${spec.name}' expects an int but got '${raw}'`, `pass a whole number, e.g. -P ${spec.name}=10`)
  }
  if (spec.type === "uri" && !isUri(raw)) {
    throw invalid(`Expected URI for parameter ${spec.name} but got ${raw}`, "pass a URI with a scheme, e.g. file:///abs/path or s3://bucket/key")
  }
  if (spec.type !== "path") return raw
  const local = localPathOf(raw)
  // A remote path is downloaded by the caller (src/run/remote-paths.ts), which then renders the command again.
  if (local === null && options.remotePaths === "keep") return raw
  if (local === null) {
    throw new ToolError("param.remote_unsupported", `parameter '${spec.name}' is the remote path ${raw}, which is only downloaded by 'mlproject run'`, {
      hint: "pass a local path here",
    })
  }
  // os.path.exists(relative) in MLflow looks from the process's directory, without normalising `..`.
  const probe = local.startsWith("/") ? local : `${cwd}/${local}`
  if (local === "" || !existsSync(probe)) {
    throw new ToolError("param.not_found", `Got value ${raw} for parameter ${spec.name}, but no such file or directory was found.`, {
      hint: `relative paths are read from the current directory (${cwd})`,
    })
  }
  return resolve(cwd, local)
}

export type ResolveOptions = {
  cwd: string
  /** "keep" leaves remote `path` values (s3://…) as they are, for a download step; "refuse" (default) rejects them. */
  remotePaths?: "keep" | "refuse"
}

/** The shell command: the template filled with the quoted declared values, extras appended as ` --key value`. */
export const renderCommand = (entryPoint: EntryPoint, parameters: ResolvedParameter[]): string => {
  const template = parseTemplate(entryPoint.command)
  const values = new Map(parameters.filter((p) => p.declared).map((p) => [p.name, shellQuote(p.value)]))
  const undeclared = template.parts.find((p) => typeof p !== "string" && !values.has(p.name))
  if (undeclared && typeof undeclared !== "string") {
    throw new ToolError("entry_point.invalid", `entry point '${entryPoint.name}' cannot run: placeholder ${undeclared.text} is not a declared parameter`, {
      hint: "declare it under parameters or escape the braces as {{ }}",
    })
  }
  if (template.problem) {
    const message = template.problem.message
    throw new ToolError("entry_point.invalid", `entry point '${entryPoint.name}' cannot run: ${message}`, { hint: templateHint(message) })
  }
  const extras = parameters.filter((p) => !p.declared).map((p) => `--${p.name} ${shellQuote(p.value)}`)
  return [renderTemplate(template.parts, values), ...extras].join(" ")
}

export const resolveParameters = (entryPoint: EntryPoint, given: Array<[string, string]>, options: ResolveOptions): ResolvedParameters => {
  const [problem] = entryPoint.problems
  if (problem) throw new ToolError("entry_point.invalid", `entry point '${entryPoint.name}' cannot run: ${problem.message}`, { hint: problem.hint })
  checkGiven(given)
  const user = new Map(given)
  const missing = entryPoint.parameters.filter((p) => p.default === null && !user.has(p.name)).map((p) => p.name)
  const declared = new Set(entryPoint.parameters.map((p) => p.name))
  if (missing.length) {
    const typo = given.map(([name]) => name).filter((name) => !declared.has(name)).map((name) => [name, closest(name, missing)] as const).find(([, near]) => near)
    throw new ToolError("param.missing", `No value given for missing parameters: ${missing.map((n) => `'${n}'`).join(", ")}`, {
      hint: `${typo ? `did you mean -P ${typo[1]}=… (you gave -P ${typo[0]}=…)? ` : ""}pass ${missing.length > 1 ? "them" : "it"} with ${missing.map((n) => `-P ${n}=…`).join(" ")}`,
    })
  }
  const warnings: Diagnostic[] = []
  const parameters: ResolvedParameter[] = entryPoint.parameters.map((spec) => {
    const fromUser = user.has(spec.name)
    const raw = user.get(spec.name) ?? spec.default ?? ""
    const value = valueOf(spec, raw, fromUser, options)
    return { name: spec.name, type: spec.type, declared: true, value, logged: raw, source: fromUser ? "user" : "default" }
  })
  for (const [name, value] of given) {
    if (declared.has(name)) continue
    if (!safeKey.test(name)) {
      throw new ToolError("param.invalid_name", `parameter name '${name}' is not declared by entry point '${entryPoint.name}' and cannot be passed as --${name}: undeclared names may only use letters, digits, '_', '.' and '-'`, {
        hint: entryPoint.parameters.length ? `declared parameters: ${[...declared].join(", ")}` : "this entry point declares no parameters",
      })
    }
    // MLflow passes an undeclared name on silently; a near miss of a declared one is almost always a typo.
    const lookalike = closest(name, declared)
    if (lookalike) {
      const sameLetters = lookalike.toLowerCase() === name.toLowerCase()
      const kept = user.has(lookalike) ? "" : ` and '${lookalike}' keeps its default`
      warnings.push({
        severity: "warning",
        code: "param.undeclared",
        message: `parameter '${name}' is not declared by entry point '${entryPoint.name}'${sameLetters ? " (names are case-sensitive)" : ""}; it is passed as --${name}${kept}`,
        hint: `did you mean -P ${lookalike}=…?`,
      })
    }
    parameters.push({ name, type: "string", declared: false, value, logged: value, source: "user" })
  }
  return { parameters, command: renderCommand(entryPoint, parameters), warnings }
}
