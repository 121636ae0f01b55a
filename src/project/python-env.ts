// Reads and checks a python_env.yaml the way MLflow's _PythonEnv.from_yaml does, with located errors.
import { basename } from "node:path"
import { ToolError, isToolError } from "../errors.ts"
import { entryOf, describeNode, isNull, keyText, locationOf, shapeOf, unknownEntries, type MapNode } from "./diagnostics.ts"
import { requirementProblem } from "./requirement-spec.ts"
import { readYaml, type Pos, type YNode } from "./yaml.ts"

export type PythonEnv = { python?: string; build_dependencies: string[]; dependencies: string[] }

const keys = ["python", "build_dependencies", "dependencies"] as const

/**
 * Throws ToolError("python_env.invalid") located in the file wherever MLflow would raise (TypeError on an
 * unknown key, a non-string `python`, a non-list of dependencies) and where pip would refuse a dependency.
 * The file must be inside `projectRoot`. `display` is the name shown in messages; locations name the file.
 */
export const readPythonEnv = (projectRoot: string, file: string, display: string = basename(file)): PythonEnv => {
  const invalid = (message: string, pos: Pos, hint?: string) =>
    new ToolError("python_env.invalid", message, { hint, location: locationOf(file, pos) })
  let root: YNode | null
  try {
    root = readYaml(projectRoot, file, display).root
  } catch (error) {
    if (!isToolError(error)) {
      throw new ToolError("python_env.invalid", `cannot read ${display}: ${(error as Error).message}`, { location: { file } })
    }
    throw new ToolError("python_env.invalid", error.message, { hint: error.hint, location: error.location })
  }
  const origin = { line: 1, column: 1 }
  if (root === null) throw invalid(`${display} is empty`, origin, "write at least: python: \"3.11\"")
  // Not quoted: a file that is not a mapping may be anything (a requirements file, a binary), not a python_env.
  if (root.kind !== "map") throw invalid(`${display} must be a mapping with python, build_dependencies and dependencies; it is ${shapeOf(root)}`, root.pos)
  const unknown = unknownEntries(root, keys)[0]
  if (unknown) {
    const conda = ["name", "channels"].includes(keyText(unknown))
    const hint = conda ? "this looks like a conda environment file: declare it with conda_env: instead of python_env:" : "remove it: python_env.yaml takes python, build_dependencies and dependencies"
    throw invalid(`unknown key '${keyText(unknown)}' in ${display}: MLflow accepts only python, build_dependencies and dependencies`, unknown.key.pos, hint)
  }
  return { ...pythonOf(root, invalid), build_dependencies: listOf(root, "build_dependencies", invalid), dependencies: listOf(root, "dependencies", invalid) }
}

type Invalid = (message: string, pos: Pos, hint?: string) => ToolError

const pythonOf = (root: MapNode, invalid: Invalid): { python?: string } => {
  const value = entryOf(root, "python")?.value
  if (value === undefined || isNull(value)) return {}
  if (value.kind === "scalar" && typeof value.value === "string") return value.value === "" ? {} : { python: value.value }
  // `python: 3.10` is the float 3.1 for YAML: the classic trap, so the hint quotes exactly what was written.
  const written = value.kind === "scalar" ? value.source : "3.11"
  throw invalid(`'python' must be a string, but it is ${describeNode(value)}`, value.pos, `quote the version: python: "${written}"`)
}

const listOf = (root: MapNode, key: (typeof keys)[number], invalid: Invalid): string[] => {
  const value = entryOf(root, key)?.value
  if (value === undefined || isNull(value)) return []
  if (value.kind !== "seq") throw invalid(`'${key}' must be a list of requirement strings, but it is ${describeNode(value)}`, value.pos, `write ${key}: [package==version, …]`)
  return value.items.map((item) => {
    if (item.kind === "scalar" && typeof item.value === "string") {
      const problem = requirementProblem(item.value)
      if (problem) {
        throw invalid(`'${item.value}' in '${key}' is not a requirement pip accepts: ${problem}`, item.pos, "write it as PEP 508 says, e.g. mlflow==2.7.1 or numpy>=1.24,<2")
      }
      return item.value
    }
    const written = item.kind === "scalar" ? item.source : "package"
    throw invalid(`each entry of '${key}' must be a string, but one is ${describeNode(item)}`, item.pos, `quote it: - "${written}"`)
  })
}
