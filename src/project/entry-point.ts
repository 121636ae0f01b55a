// Picks the entry point to run: a declared one, or a .py/.sh/.R file of the project run as a script.
import { existsSync, readdirSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"
import { extensionOf } from "./python-url.ts"
import { stringRepr } from "./python-str.ts"
import { shellQuote } from "./shell-quote.ts"
import type { EntryPoint, Project } from "./types.ts"

const scriptCommands = new Map<string, (quoted: string, env: Record<string, string | undefined>) => string>([
  [".py", (q) => `python ${q}`],
  [".sh", (q, env) => `${env.SHELL ?? "bash"} ${q}`],
  [".R", (q) => `Rscript -e "mlflow::mlflow_source('${q}')" --args`],
])

const declaredList = (project: Project) => `[${project.entry_points.map((ep) => stringRepr(ep.name)).join(", ")}]`

const declaredHint = (project: Project, asked?: string) => {
  const names = project.entry_points.map((ep) => ep.name)
  if (names.length === 0) return "this project declares no entry points: pass a .py, .sh or .R file of the project with -e"
  const near = asked === undefined ? undefined : closest(asked, names)
  return `${near ? `did you mean -e ${near}? ` : ""}declared entry points: ${names.join(", ")}`
}

const usable = (ep: EntryPoint): EntryPoint => {
  const [first, ...rest] = ep.problems
  if (!first) return ep
  const more = rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? "s" : ""})` : ""
  throw new ToolError("entry_point.invalid", `entry point '${ep.name}' cannot run: ${first.message}${more}`, {
    hint: first.hint,
    location: first.file ? { file: first.file, ...(first.line ? { line: first.line, column: first.column ?? 1 } : {}) } : undefined,
  })
}

const sparkJobEntryPoint = (project: Project, name: string): EntryPoint => {
  if (project.databricks_spark_job?.python_file !== undefined) {
    throw new ToolError("entry_point.databricks", `this project runs databricks_spark_job.python_file (${project.databricks_spark_job.python_file}); entry points do not apply`, {
      hint: "run it with the databricks backend",
    })
  }
  const declared = project.entry_points.find((ep) => ep.name === name)
  if (declared) return usable(declared)
  throw new ToolError("entry_point.not_found", `The entry point '${name}' is not defined in the Databricks spark job MLproject file.`, { hint: declaredHint(project, name) })
}

/** The files of a folder, for a "did you mean" on a mistyped script name (none when it cannot be listed). */
const siblings = (dir: string): string[] => {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/**
 * The declared entry point `name`, or a script entry point for a .py/.sh/.R file. Unlike MLflow we check
 * that the script exists in the project, so a typo fails here rather than as a confusing exit code later.
 */
export const entryPointFor = (project: Project, name: string, env: Record<string, string | undefined> = process.env): EntryPoint => {
  if (project.databricks_spark_job) return sparkJobEntryPoint(project, name)
  const declared = project.entry_points.find((ep) => ep.name === name)
  if (declared) return usable(declared)
  const command = scriptCommands.get(extensionOf(name))
  if (!command) {
    // MLflow's message, except that it lists .R too: MLflow supports it but forgets to say so.
    throw new ToolError(
      "entry_point.not_found",
      `Could not find ${name} among entry points ${declaredList(project)} or interpret ${name} as a runnable script. Supported script file extensions: ['.py', '.sh', '.R']`,
      { hint: declaredHint(project, name) },
    )
  }
  const file = name.startsWith("/") ? name : `${project.dir}/${name}`
  if (!existsSync(file)) {
    const near = closest(basename(name), siblings(dirname(file)))
    throw new ToolError("entry_point.not_found", `script entry point ${name} does not exist in the project folder ${project.dir}`, {
      hint: `${near ? `did you mean -e ${join(dirname(name), near)}? ` : ""}${declaredHint(project)}; a script path is relative to the project folder`,
    })
  }
  return { name, command: command(shellQuote(name), env), parameters: [], script: true, problems: [] }
}
