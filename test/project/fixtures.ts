// Project files and helpers shared by the project tests.
import { ToolError } from "../../src/errors.ts"
import { loadProject } from "../../src/project/load.ts"
import type { Diagnostic } from "../../src/project/types.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

/** MLflow's tests/resources/example_project/MLproject (corpus id 232). */
export const exampleProject = `conda_env: conda.yaml

entry_points:
  main:
    command: "echo 'Main entry point'"
  greeter:
    parameters:
      greeting: {type: string, default: "hi"}
      name: string
    command: "python greeter.py {greeting} {name}"
  line_count:
    parameters:
      path: path
    command: "cat {path} | wc -l"
  download_uri:
    parameters:
      uri: uri
    command: "curl {uri} | wc -l"
  sleep:
    parameters:
      duration: int
    command: "sleep {duration}"
`

export const project = (files: Record<string, string>): TmpDir => {
  const dir = tmpdirFor()
  for (const [name, content] of Object.entries(files)) dir.write(name, content)
  return dir
}

export const loadError = (dir: string): ToolError => {
  try {
    loadProject(dir)
  } catch (error) {
    if (error instanceof ToolError) return error
    throw error
  }
  throw new Error("expected loadProject to throw")
}

export const brief = (d: Diagnostic) => [d.severity, d.code, d.line, d.column, d.entry_point ?? null]
export const only = (diagnostics: Diagnostic[], code: string) => diagnostics.filter((d) => d.code === code)

