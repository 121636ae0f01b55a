// Picks the entry point to run: a declared one, or a .py/.sh/.R file of the project run as a script.
import { existsSync, readdirSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"
import { hasScript } from "./nothing-to-run.ts"
import { containedFile } from "./project-file.ts"
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

/** The script's real path; its problems name no file location: the path came from the command line. */
const scriptFile = (project: Project, file: string, name: string): string | null => {
  try {
    return containedFile(project.root, file, name, "script entry point")
  } catch (error) {
    if (!(error instanceof ToolError)) throw error
    throw new ToolError(error.code, error.message, { hint: error.code === "project.outside" ? "a script entry point must be a file of the project (a path relative to the project folder)" : error.hint })
  }
}

/** A folder without MLproject and without the script asked for: say that, not "Could not find main among entry points []". */
const noMLproject = (project: Project, name: string): ToolError => {
  const scripts = hasScript(project)
  return new ToolError("project.no_mlproject", `no MLproject in ${project.dir}${scripts ? `, and '${name}' is not a .py, .sh or .R file of the project` : ", and no .py, .sh or .R script to run with -e"}`, {
    hint: scripts ? "name one of its scripts with -e (e.g. -e train.py), or add an MLproject file" : "give the folder that holds the MLproject file, or add one",
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
  if (!command && project.file === null) throw noMLproject(project, name)
  if (!command) {
    // MLflow's message, except that it lists .R too: MLflow supports it but forgets to say so.
    throw new ToolError(
      "entry_point.not_found",
      `Could not find ${name} among entry points ${declaredList(project)} or interpret ${name} as a runnable script. Supported script file extensions: ['.py', '.sh', '.R']`,
      { hint: declaredHint(project, name) },
    )
  }
  const file = name.startsWith("/") ? name : `${project.dir}/${name}`
  // The script runs from the project folder, so it must be a file of the project: `-e ../x.sh` and `-e /abs.sh`
  // would run whatever the host has there, and a symlink to a FIFO would hang the shell.
  if (scriptFile(project, file, name) === null) {
    if (project.file === null) throw noMLproject(project, name)
    const near = existsSync(file) ? undefined : closest(basename(name), siblings(dirname(file)))
    throw new ToolError("entry_point.not_found", `script entry point ${name} does not exist in the project folder ${project.dir}`, {
      hint: `${near ? `did you mean -e ${join(dirname(name), near)}? ` : ""}${declaredHint(project)}; a script path is relative to the project folder`,
    })
  }
  return { name, command: command(shellQuote(name), env), parameters: [], script: true, problems: [] }
}
