// What `validate` checks of a project's environment beyond its files' syntax: requirements files and the interpreter, as a run would find them.
import { dirname } from "node:path"
import { isToolError, type ToolError } from "../errors.ts"
import { entryOf } from "../project/diagnostics.ts"
import { readPythonEnv } from "../project/python-env.ts"
import type { Diagnostic, Project } from "../project/types.ts"
import { readYaml, type YNode } from "../project/yaml.ts"
import { findInterpreter } from "./interpreter.ts"
import { referencedFiles } from "./requirements.ts"
import { chooseUv } from "./uv.ts"

type Env = Record<string, string | undefined>

const problem = (error: ToolError, file: string, at?: { line: number; column: number }): Diagnostic => {
  const location = error.location
  return {
    severity: "error",
    code: error.code,
    message: `${error.message} (only a problem when mlproject builds the environment; --env-manager local still runs)`,
    ...(error.hint ? { hint: error.hint } : {}),
    file: location?.file ?? file,
    ...(location?.line ? { line: location.line, column: location.column ?? 1 } : at ? at : {}),
  }
}

/** Where `python:` is written in python_env.yaml, for locating an interpreter that cannot be found. */
const pythonPosition = (root: YNode | null): { line: number; column: number } | undefined => {
  const node = root?.kind === "map" ? entryOf(root, "python")?.value : undefined
  return node ? { line: node.pos.line, column: node.pos.column } : undefined
}

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
      return [problem(error, file, pythonPosition(readYaml(project.root, file, file).root) ?? { line: 1, column: 1 })]
    }
    return []
  } catch (error) {
    if (!isToolError(error)) throw error
    return [problem(error, file)]
  }
}
