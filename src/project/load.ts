// Loads a project folder: every located problem (inspectProject) or the project and its warnings (loadProject).
import { existsSync, statSync } from "node:fs"
import { resolve } from "node:path"
import { ToolError, isToolError } from "../errors.ts"
import { sparkJobFrom } from "./databricks.ts"
import { closest, describeNode, entryOf, isNull, isString, keyText, reportFor, unknownEntries, type Report } from "./diagnostics.ts"
import { entryPointsFrom } from "./entry-points.ts"
import { conventionEnv, envKeys, projectEnv } from "./env.ts"
import { linkTarget, locateMLproject } from "./locate.ts"
import { pythonStr } from "./python-str.ts"
import type { Diagnostic, Project } from "./types.ts"
import { readYaml, toPython, type YNode } from "./yaml.ts"

const topLevelKeys = ["name", "entry_points", ...envKeys, "databricks_spark_job"]

const unknownKeyHint = (key: string): string => {
  if (key === "env_manager") return "MLflow ignores it: pass --env-manager on the command line instead"
  const near = closest(key, topLevelKeys)
  return `${near ? `did you mean '${near}'? ` : ""}known keys: ${topLevelKeys.join(", ")}`
}

const nameOf = (root: Extract<YNode, { kind: "map" }>, report: Report): string | null => {
  const node = entryOf(root, "name")?.value
  if (node === undefined || isNull(node)) return null
  if (isString(node)) return node.value
  const name = pythonStr(toPython(node))
  report.warn("project.name", `the project name is ${describeNode(node)}; it is used as '${name}'`, node.pos, `quote it: name: "${name}"`)
  return name
}

const readRoot = (path: string, file: string, report: Report): Extract<YNode, { kind: "map" }> | null => {
  const origin = { line: 1, column: 1 }
  if (!existsSync(path)) {
    const target = linkTarget(path)
    report.error("project.unreadable", `${file} is a symbolic link to '${target ?? "?"}', which does not exist`, null, "fix or remove the link")
    return null
  }
  let doc
  try {
    doc = readYaml(path, file)
  } catch (error) {
    if (!isToolError(error)) {
      report.error("project.unreadable", `cannot read ${file}: ${(error as Error).message}`, null)
      return null
    }
    const at = error.location?.line ? { line: error.location.line, column: error.location.column ?? 1 } : origin
    report.error(error.code, error.message, at, error.hint ?? (error.code === "yaml.syntax" ? "fix the YAML syntax (a YAML linter shows the exact spot)" : undefined))
    return null
  }
  for (const w of doc.warnings) report.warn(w.code, w.message, w.pos, w.hint)
  const root = doc.root
  if (root === null) {
    report.error("project.empty", `${file} is empty: MLflow crashes on an empty MLproject`, origin, "declare at least entry_points, or delete the file to use the folder conventions")
    return null
  }
  if (root.kind === "map") return root
  // Git stores a symlink as a file holding its target when links are not supported: say so.
  const looksLikeLink = isString(root) && /^[^\s:]*\/[^\s:]*$/.test(root.value)
  const hint = looksLikeLink ? `this looks like the text of a symbolic link to '${root.value}' checked out as a file` : "an MLproject file is a mapping: name:, entry_points:, …"
  report.error("project.not_mapping", `${file} must be a mapping of keys (name, entry_points, …), but it is ${describeNode(root)}`, root.pos, hint)
  return null
}

const byPosition = (mainFile: string | null) => (a: Diagnostic, b: Diagnostic) =>
  Number(a.file !== mainFile) - Number(b.file !== mainFile) || (a.file ?? "").localeCompare(b.file ?? "") || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)

/** Every error and warning of a project folder; never throws for a problem in its files. */
export const inspectProject = (dir: string): { project: Project | null; diagnostics: Diagnostic[] } => {
  const abs = resolve(dir)
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new ToolError("project.not_found", `project folder ${abs} does not exist or is not a folder`)
  }
  let located: ReturnType<typeof locateMLproject>
  try {
    located = locateMLproject(abs)
  } catch (error) {
    throw new ToolError("project.unreadable", `cannot list the project folder ${abs}: ${(error as Error).message}`, { cause: error })
  }
  if (!located.path || !located.name) {
    const diagnostics = [...located.diagnostics]
    const env = conventionEnv(abs, diagnostics)
    const project: Project = { dir: abs, file: null, name: null, env, entry_points: [], diagnostics }
    return { project, diagnostics }
  }
  const report = reportFor(located.name, [...located.diagnostics])
  const root = readRoot(located.path, located.name, report)
  if (!root) return { project: null, diagnostics: report.list.sort(byPosition(located.name)) }
  for (const extra of unknownEntries(root, topLevelKeys)) {
    report.warn("project.unknown_key", `unknown top-level key '${keyText(extra)}': MLflow ignores it`, extra.key.pos, unknownKeyHint(keyText(extra)))
  }
  const name = nameOf(root, report)
  const entryPoints = entryPointsFrom(root, report)
  const sparkJob = sparkJobFrom(root, entryPoints, report)
  // MLflow returns before its environment checks when a Spark job is declared: the cluster provides it.
  const env = sparkJob ? { kind: "none" as const } : projectEnv(abs, root, report)
  const diagnostics = report.list.sort(byPosition(located.name))
  const project: Project = { dir: abs, file: located.path, name, env, entry_points: entryPoints, diagnostics, ...(sparkJob ? { databricks_spark_job: sparkJob } : {}) }
  return { project, diagnostics }
}

/** Errors that make the whole file unusable; entry-point problems and python_env.yaml problems are not. */
export const fileLevelErrors = (diagnostics: Diagnostic[]): Diagnostic[] =>
  diagnostics.filter((d) => d.severity === "error" && d.entry_point === undefined && d.code !== "python_env.invalid")

/** The project, ready to run; throws ToolError("project.invalid") located at the first file-level error. */
export const loadProject = (dir: string): { project: Project; warnings: Diagnostic[] } => {
  const { project, diagnostics } = inspectProject(dir)
  const first = fileLevelErrors(diagnostics)[0]
  if (first || !project) {
    const d = first ?? diagnostics.find((x) => x.severity === "error")
    const errors = diagnostics.filter((x) => x.severity === "error").length
    const more = errors > 1 ? ` (${errors - 1} more error${errors > 2 ? "s" : ""}: run \`mlproject validate\` to list them all)` : ""
    throw new ToolError("project.invalid", `${d?.message ?? "the project cannot be loaded"}${more}`, {
      hint: d?.hint,
      location: d?.file ? { file: d.file, ...(d.line ? { line: d.line, column: d.column ?? 1 } : {}) } : undefined,
    })
  }
  return { project, warnings: diagnostics.filter((d) => d.severity === "warning") }
}
