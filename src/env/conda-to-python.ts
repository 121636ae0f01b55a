// A conda.yaml run with --env-manager virtualenv: converted to a python_env exactly as MLflow's from_conda_yaml does.
import type { ErrorCode } from "../error-codes.ts"
import { basename } from "node:path"
import { ToolError, isToolError } from "../errors.ts"
import { pythonRepr, pythonStr } from "../project/python-str.ts"
import { readYaml, toPython, type YNode } from "../project/yaml.ts"
import type { PythonSpec } from "./virtualenv.ts"

export type Conversion = { spec: PythonSpec; warnings: Array<{ message: string; line?: number; column?: number }> }

// MLflow's _CONDA_DEPENDENCY_REGEX: only these four packages carry over, with an optional pin.
const dependency = /^(?<package>python|pip|setuptools|wheel)(?<operator><|>|<=|>=|=|==|!=)?(?<version>[\d.]+)?$/

const located = (code: ErrorCode, message: string, file: string, node: YNode, hint?: string) =>
  new ToolError(code, message, { hint, location: { file, line: node.pos.line, column: node.pos.column } })

const mapGet = (node: YNode | null, key: string): YNode | undefined =>
  node?.kind === "map" ? node.entries.find((e) => e.key.kind === "scalar" && e.key.value === key)?.value : undefined

/** `{pip: [...]}`: MLflow's _is_pip_deps (a mapping with a `pip` key). */
const pipList = (node: YNode): YNode | undefined => (node.kind === "map" ? mapGet(node, "pip") : undefined)

/** MLflow's warning when conda.yaml pins no python; the caller knows the version only after finding python3. */
export const noPythonWarning = (path: string, version: string): string =>
  `${path} does not include a python version specification. Using the current python version ${version}.`

/**
 * Without a python pin the spec's `python` stays unset: the caller uses the python3 on PATH and warns with
 * noPythonWarning (MLflow uses its own interpreter). Throws MLflow's error texts, located in the file.
 */
export const pythonEnvFromConda = (projectRoot: string, path: string, display: string = basename(path)): Conversion => {
  let root: YNode | null
  try {
    root = readYaml(projectRoot, path, display).root
  } catch (error) {
    if (isToolError(error)) throw error
    throw new ToolError("conda_env.invalid", `cannot read ${display}: ${(error as Error).message}`, { location: { file: path } })
  }
  const warnings: Conversion["warnings"] = []
  let python: string | undefined
  let buildDependencies: string[] | null = null
  let dependencies: string[] | null = null
  const unmatched: string[] = []
  const deps = mapGet(root, "dependencies")
  const items = deps?.kind === "seq" ? deps.items : []
  for (const item of items) {
    if (item.kind === "scalar" && typeof item.value === "string") {
      const match = dependency.exec(item.value)
      if (!match?.groups) {
        unmatched.push(item.value)
        continue
      }
      const { package: name, operator, version } = match.groups as { package: string; operator?: string; version?: string }
      if (python === undefined && name === "python") {
        if (operator === undefined) {
          throw located("conda_env.invalid", `Invalid dependency for python: ${item.value}. It must be pinned (e.g. python=3.8.13).`, path, item)
        }
        if (operator === "<" || operator === ">" || operator === "!=") {
          throw located("conda_env.invalid", `Invalid version comparator for python: '${operator}'. Must be one of ['<=', '>=', '=', '=='].`, path, item)
        }
        python = version ?? ""
        continue
      }
      // "=" is conda's pin; pip spells it "==".
      ;(buildDependencies ??= []).push(name + (operator === "=" ? "==" : (operator ?? "")) + (version ?? ""))
      continue
    }
    const pip = pipList(item)
    if (pip !== undefined) {
      if (pip.kind !== "seq" || !pip.items.every((p) => p.kind === "scalar" && typeof p.value === "string")) {
        throw located("conda_env.invalid", `the pip entry of ${display} must be a list of requirement strings`, path, pip)
      }
      dependencies = pip.items.map((p) => String(p.kind === "scalar" ? p.value : ""))
      continue
    }
    throw located("conda_env.invalid", `Invalid conda dependency: ${pythonStr(toPython(item))}. Must be str or dict in the form of {"pip": [...]}`, path, item)
  }
  if (unmatched.length > 0) {
    warnings.push({
      message: `The following conda dependencies will not be installed in the resulting environment: ${pythonRepr(unmatched)}`,
      ...(deps ? { line: deps.pos.line, column: deps.pos.column } : {}),
    })
  }
  return { spec: { ...(python === undefined ? {} : { python }), build_dependencies: buildDependencies ?? [], dependencies: dependencies ?? [] }, warnings }
}
