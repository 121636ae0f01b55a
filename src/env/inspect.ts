// What `validate` checks of a project's environment beyond its files' syntax: requirements files and the interpreter, as a run would find them.
import { dirname } from "node:path"
import { ToolError, isToolError } from "../errors.ts"
import { entryOf } from "../project/diagnostics.ts"
import { readPythonEnv } from "../project/python-env.ts"
import type { Diagnostic, Project } from "../project/types.ts"
import { readYaml, type YNode } from "../project/yaml.ts"
import { findInterpreter } from "./interpreter.ts"
import { referencedFiles } from "./requirements.ts"
import { chooseUv } from "./uv.ts"

type Env = Record<string, string | undefined>

const problem = (error: ToolError, file: string): Diagnostic => {
  const location = error.location
  return {
    severity: "error",
    code: error.code,
    message: `${error.message} (only a problem when mlproject builds the environment; --env-manager local still runs)`,
    ...(error.hint ? { hint: error.hint } : {}),
    file: location?.file ?? file,
    ...(location?.line ? { line: location.line, column: location.column ?? 1 } : {}),
  }
}

/** Where `python:` is written in an env file (the file alone when it says nothing), for an interpreter that cannot be found. */
export const pythonLocation = (projectRoot: string, file: string): { file: string; line: number; column: number } => {
  try {
    const root = readYaml(projectRoot, file, file).root
    const node = root?.kind === "map" ? entryOf(root, "python")?.value : undefined
    if (node) return { file, line: node.pos.line, column: node.pos.column }
  } catch {
    // The file was read a moment ago; if it cannot be read now, the file alone is the location.
  }
  return { file, line: 1, column: 1 }
}

/** The interpreter error, located at `python:` in the env file: a run and validate say where the version comes from. */
export const locatedInterpreterError = (error: ToolError, projectRoot: string, file: string): ToolError =>
  new ToolError(error.code, error.message, { hint: error.hint, exitCode: error.exitCode, cause: error, location: pythonLocation(projectRoot, file) })

/** The `pip:` list of a conda.yaml: requirement lines that pip reads, `-r` files included. */
export const pipLines = (root: YNode | null): string[] => {
  const deps = root?.kind === "map" ? entryOf(root, "dependencies")?.value : undefined
  if (deps?.kind !== "seq") return []
  return deps.items.flatMap((item) => {
    const pip = item.kind === "map" ? entryOf(item, "pip")?.value : undefined
    return pip?.kind === "seq" ? pip.items.flatMap((p) => (p.kind === "scalar" && typeof p.value === "string" ? [p.value] : [])) : []
  })
}

/**
 * Problems a run with the project's own environment manager would hit before it builds anything: a requirements
 * file that is missing or leaves the project, a python_env interpreter that is neither installed nor installable.
 * Env files the loader already found broken are not looked at again.
 */
export const inspectEnvironment = async (project: Project, env: Env, signal?: AbortSignal): Promise<Diagnostic[]> => {
  const kind = project.env.kind
  if (kind !== "python_env" && kind !== "conda_env") return []
  const file = project.env.file
  if (project.diagnostics.some((d) => d.severity === "error" && (d.code === "python_env.invalid" || d.code === "conda_env.invalid"))) return []
  try {
    if (kind === "conda_env") {
      const root = readYaml(project.root, file, file).root
      referencedFiles(pipLines(root), dirname(file), project.root, { file })
      return []
    }
    const spec = readPythonEnv(project.root, file)
    referencedFiles([...spec.build_dependencies, ...spec.dependencies], project.dir, project.root, { file })
    try {
      await findInterpreter(spec.python, env, { allowMissing: chooseUv("virtualenv", env) !== null, signal })
    } catch (error) {
      if (!isToolError(error) || error.exitCode !== 2) throw error
      return [problem(locatedInterpreterError(error, project.root, file), file)]
    }
    return []
  } catch (error) {
    if (!isToolError(error)) throw error
    return [problem(error, file)]
  }
}
