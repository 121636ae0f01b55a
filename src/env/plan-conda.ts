// The plan of a conda.yaml environment: the file read (its pip lines and -r files), conda found, the cache key.
import { dirname } from "node:path"
import { pythonRepr } from "../project/python-str.ts"
import { readYaml, toPython, type YNode } from "../project/yaml.ts"
import type { BuildRecipe } from "./build.ts"
import { envRoot } from "./cache.ts"
import { buildConda, findConda } from "./conda.ts"
import type { EnvPlan, PrepareInput } from "./index.ts"
import { pipLines } from "./inspect.ts"
import { envKey } from "./key.ts"
import { referencedFiles } from "./requirements.ts"

/** conda.yaml as plain data minus `name`/`prefix`, which do not change what gets installed. */
const normalisedConda = (root: YNode | null): string => {
  if (root?.kind !== "map") return pythonRepr(toPython(root))
  const kept = { ...root, entries: root.entries.filter((e) => !(e.key.kind === "scalar" && (e.key.value === "name" || e.key.value === "prefix"))) }
  return pythonRepr(toPython(kept))
}

export const planConda = (input: PrepareInput, file: string, shown: string): EnvPlan => {
  const { project, env } = input
  // The file first: a conda.yaml that leaves the project is refused whether or not conda is installed.
  const root = readYaml(project.root, file, shown).root
  const files = referencedFiles(pipLines(root), dirname(file), project.root, { file })
  const tools = findConda(env)
  const key = envKey({ tool: "conda", python: null, spec: normalisedConda(root), files, projectDir: project.dir })
  const job = { tools, file, projectDir: project.dir, env }
  const recipe: BuildRecipe = {
    tool: "conda",
    key,
    root: envRoot(env),
    python: null,
    source: file,
    steps: ["creating the conda environment"],
    build: (runner) => buildConda(runner, job),
  }
  return { manager: "conda", key, python: null, tag: "conda", recipe }
}
