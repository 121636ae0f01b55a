// Loads a project folder: every located problem (inspectProject) or the project and its warnings (loadProject).
import { existsSync, statSync } from "node:fs"
import { join, resolve } from "node:path"
import { ToolError, isToolError } from "../errors.ts"
import { sparkJobFrom } from "./databricks.ts"
import { closest, describeNode, entryOf, isNull, isString, keyText, reportFor, shapeOf, unknownEntries, type Report } from "./diagnostics.ts"
import { entryPointsFrom } from "./entry-points.ts"
import { conventionEnv, envKeys, projectEnv } from "./env.ts"
import { linkTarget, locateMLproject } from "./locate.ts"
import { nothingToRun } from "./nothing-to-run.ts"
import { containedDir, printable } from "./project-file.ts"
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

const readRoot = (projectRoot: string, path: string, file: string, report: Report): Extract<YNode, { kind: "map" }> | null => {
  const origin = { line: 1, column: 1 }
  if (!existsSync(path)) {
    const target = linkTarget(path)
    report.error("project.unreadable", `${file} is a symbolic link to '${printable(target ?? "?")}', which does not exist`, origin, "fix or remove the link")
    return null
  }
  let doc
  try {
    doc = readYaml(projectRoot, path, file)
  } catch (error) {
    if (!isToolError(error)) {
      report.error("project.unreadable", `cannot read ${file}: ${(error as Error).message}`, origin)
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
  // Git stores a symlink as a file holding its target when links are not supported: say so. The text itself is not
  // quoted: a file that is not a mapping may be anything, and its contents do not belong in a message.
  const looksLikeLink = isString(root) && /^[^\s:]*\/[^\s:]*$/.test(root.value)
  const hint = looksLikeLink ? "this looks like the text of a symbolic link checked out as a file (Git without symlink support)" : "an MLproject file is a mapping: name:, entry_points:, …"
  report.error("project.not_mapping", `${file} must be a mapping of keys (name, entry_points, …), but it is ${shapeOf(root)}`, root.pos, hint)
  return null
}

const byPosition = (mainFile: string | null) => (a: Diagnostic, b: Diagnostic) =>
  Number(a.file !== mainFile) - Number(b.file !== mainFile) || (a.file ?? "").localeCompare(b.file ?? "") || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)

export type LoadOptions = {
  /**
   * The folder every file the project names must stay inside, symlinks followed: the folder named before `#`, or the
   * fetched repository or archive. Defaults to the project folder.
   */
  root?: string
}

/** The project folder and its root, checked: the folder exists and does not leave the root through a symlink. */
const projectFolder = (dir: string, options: LoadOptions): { abs: string; root: string } => {
  const abs = resolve(dir)
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new ToolError("project.not_found", `project folder ${abs} does not exist or is not a folder`)
  }
  const root = resolve(options.root ?? abs)
  if (containedDir(root, abs, abs, "the project folder") === null) {
    throw new ToolError("project.not_found", `project folder ${abs} does not exist or is not a folder`)
  }
  return { abs, root }
}

/** Every error and warning of a project folder; never throws for a problem in its files. */
export const inspectProject = (dir: string, options: LoadOptions = {}): { project: Project | null; diagnostics: Diagnostic[] } => {
  const { abs, root: projectRoot } = projectFolder(dir, options)
  let located: ReturnType<typeof locateMLproject>
  try {
    located = locateMLproject(abs)
  } catch (error) {
    throw new ToolError("project.unreadable", `cannot list the project folder ${abs}: ${(error as Error).message}`, { cause: error })
  }
  if (!located.path || !located.name) {
    const diagnostics = [...located.diagnostics]
    const env = conventionEnv(abs, projectRoot, diagnostics)
    const project: Project = { dir: abs, root: projectRoot, file: null, name: null, env, entry_points: [], diagnostics }
    diagnostics.push(...nothingToRun(project, null))
    return { project, diagnostics }
  }
  const report = reportFor(located.path, [...located.diagnostics])
  const root = readRoot(projectRoot, located.path, located.name, report)
  if (!root) return { project: null, diagnostics: report.list.sort(byPosition(located.path)) }
  const unknown = unknownEntries(root, topLevelKeys)
  for (const extra of unknown) {
    report.warn("project.unknown_key", `unknown top-level key '${keyText(extra)}': MLflow ignores it`, extra.key.pos, unknownKeyHint(keyText(extra)))
  }
  const name = nameOf(root, report)
  const entryPoints = entryPointsFrom(root, report)
  const sparkJob = sparkJobFrom(root, entryPoints, report)
  // MLflow returns before its environment checks when a Spark job is declared: the cluster provides it.
  const env = sparkJob ? { kind: "none" as const } : projectEnv(abs, projectRoot, root, report)
  const project: Project = { dir: abs, root: projectRoot, file: located.path, name, env, entry_points: entryPoints, diagnostics: report.list, ...(sparkJob ? { databricks_spark_job: sparkJob } : {}) }
  // An `entry_points` that is not a mapping is an error of its own already, and a file rejected as a whole needs no more.
  const declared = entryOf(root, "entry_points")?.value
  const rejected = fileLevelErrors(report.list).length > 0
  if (!sparkJob && !rejected && (declared === undefined || (declared.kind === "map" && declared.entries.length === 0))) {
    const misspelt = declared === undefined ? unknown.find((e) => closest(keyText(e), ["entry_points"]) !== undefined) : undefined
    report.list.push(...nothingToRun(project, misspelt ? { key: keyText(misspelt), pos: misspelt.key.pos } : null))
  }
  const diagnostics = report.list.sort(byPosition(located.path))
  return { project: { ...project, diagnostics }, diagnostics }
}

/**
 * Errors that are not about the MLproject file as a whole: env files are only read when mlproject builds the
 * environment (--env-manager local still runs), and "nothing to run" still lets `-e script.py` run.
 */
const notFileLevel = new Set(["python_env.invalid", "conda_env.invalid", "project.nothing_to_run", "project.no_entry_points"])

/** Errors that make the whole file unusable; entry-point problems and python_env.yaml problems are not. */
export const fileLevelErrors = (diagnostics: Diagnostic[]): Diagnostic[] =>
  diagnostics.filter((d) => d.severity === "error" && d.entry_point === undefined && !notFileLevel.has(d.code))

/** The project, ready to run; throws ToolError("project.invalid") located at the first file-level error. */
export const loadProject = (dir: string, options: LoadOptions = {}): { project: Project; warnings: Diagnostic[] } => {
  const { project, diagnostics } = inspectProject(dir, options)
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
