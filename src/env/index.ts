// Prepares a project's python_env or conda environment: plan (validate, find tools, key), then build once, cached.
import { join, relative } from "node:path"
import { ToolError, isToolError } from "../errors.ts"
import { parsedPythonEnv } from "../project/load-cached.ts"
import type { Project } from "../project/types.ts"
import { condaActivation, virtualenvActivation } from "./activate.ts"
import { buildOnce, type BuildRecipe } from "./build.ts"
import { entryPaths, envRoot } from "./cache.ts"
import { tryLease, type Lease } from "../util/lease.ts"
import type { EnvEmit, EnvTool } from "./events.ts"
import { findInterpreter } from "./interpreter.ts"
import { envKey } from "./key.ts"
import { referencedFiles } from "./requirements.ts"
import { chooseUv } from "./uv.ts"
import { buildVirtualenv, virtualenvSteps, type PythonSpec } from "./virtualenv.ts"

type Env = Record<string, string | undefined>

export type PrepareInput = {
  project: Project
  manager: "virtualenv" | "uv" | "conda"
  emit: EnvEmit
  signal?: AbortSignal
  env: Env
  rebuild: boolean
  /** A run from a pack: nothing may be downloaded, so a Python that pyenv would have to install is an error. */
  offline?: boolean
  /** The X.Y the environment must have (a pack's wheels are for it): replaces the project's python unless that is a version of it. */
  python?: string
  /** Stream the installers' output as `log` events (else it goes to the environment's log file only). */
  verbose?: boolean
}

/** Everything known before building: validated spec, tools found, cache key. Cheap; throws exit-2 errors. */
export type EnvPlan = {
  manager: EnvTool
  key: string
  /** The exact python version when known before building. */
  python: string | null
  /** The value of the `mlflow.project.env` tag, as MLflow sets it. */
  tag: "virtualenv" | "conda"
  recipe: BuildRecipe
}

export type PreparedEnv = {
  manager: EnvTool
  key: string
  cached: boolean
  prefix: string
  python: string | null
  tag: "virtualenv" | "conda"
  /** Merge over the run's environment (PATH first, VIRTUAL_ENV or CONDA_PREFIX…) after removing `unset`. */
  vars: Record<string, string>
  unset: string[]
  /** conda activation hooks to source before the command: pass the command through wrapCommand. */
  scripts: string[]
}

/** Which Pythons this machine has, for the error of a pack that needs another. */
const missingOfflinePython = async (wanted: string, env: Env): Promise<ToolError> => {
  const { installedPythons } = await import("./interpreter.ts")
  const found = await installedPythons(env)
  return new ToolError("pack.python", `the pack needs Python ${wanted}; this machine has ${found.length > 0 ? found.join(", ") : "no Python mlproject can find"}, and a pack run downloads nothing`, {
    hint: `install Python ${wanted} on this machine (pyenv install ${wanted} where it has a network, or your system's package), or pack again with --python set to one it has`,
  })
}

const display = (project: Project, file: string) => relative(project.dir, file) || file

const planPython = async (input: PrepareInput, given: PythonSpec, file: string | null, warnMissing: boolean): Promise<EnvPlan> => {
  const { project, env } = input
  const keepsGiven = input.python === undefined || given.python === input.python || given.python?.startsWith(`${input.python}.`)
  const spec = keepsGiven ? given : { ...given, python: input.python }
  // The project's own files first: a requirements file that leaves the project is the answer, whatever Pythons exist.
  const lines = [...spec.build_dependencies, ...spec.dependencies]
  const files = referencedFiles(lines, project.dir, project.root, { file: file ?? join(project.dir, "python_env.yaml") })
  const uv = chooseUv(input.manager === "uv" ? "uv" : "virtualenv", env)
  const tool: EnvTool = uv ? "uv" : "virtualenv"
  const interpreter = await findInterpreter(spec.python, env, { allowMissing: uv !== null, signal: input.signal }).catch(async (error: unknown) => {
    if (!file || !isToolError(error) || error.exitCode !== 2) throw error
    throw (await import("./inspect.ts")).locatedInterpreterError(error, project.root, file)
  })
  if (input.offline && interpreter.source === "pyenv-install") throw await missingOfflinePython(spec.python ?? interpreter.version, env)
  if (warnMissing && file) input.emit({ type: "warning", code: "conda_env.no_python", message: (await import("./conda-to-python.ts")).noPythonWarning(file, interpreter.version) })
  const key = envKey({
    tool,
    python: interpreter.version,
    spec: { build_dependencies: spec.build_dependencies, dependencies: spec.dependencies },
    files,
    projectDir: project.dir,
  })
  const job = { spec, interpreter, projectDir: project.dir, env, uv }
  const recipe: BuildRecipe = {
    tool,
    key,
    root: envRoot(env),
    python: interpreter.version,
    source: file ?? project.dir,
    steps: virtualenvSteps(job),
    build: (runner) => buildVirtualenv(runner, job),
  }
  return { manager: tool, key, python: interpreter.version, tag: "virtualenv", recipe }
}

/** Validates and resolves without building: the lead calls this before the run exists (errors exit 2). */
export const planEnvironment = async (input: PrepareInput): Promise<EnvPlan> => {
  const { project, manager } = input
  const env = project.env
  if (env.kind === "docker") throw new ToolError("env.incompatible", "docker_env projects run in their image, not in a python environment", { exitCode: 1 })
  if (manager === "conda") {
    if (env.kind === "python_env") {
      throw new ToolError(
        "env.incompatible",
        "python_env project cannot be executed using conda. Set `--env-manager` to 'virtualenv' or 'local' to execute this project.",
      )
    }
    if (env.kind === "none") {
      throw new ToolError("env.incompatible", "this project has no conda.yaml for --env-manager conda to build", {
        hint: "add a conda.yaml, or run with --env-manager local",
      })
    }
    return (await import("./plan-conda.ts")).planConda(input, env.file, display(project, env.file))
  }
  // The YAML parser loads only when the file was not parsed by a cached load a moment ago (its bytes checked then).
  if (env.kind === "python_env") {
    const spec = parsedPythonEnv(env.file) ?? (await import("../project/python-env.ts")).readPythonEnv(project.root, env.file, display(project, env.file))
    return planPython(input, spec, env.file, false)
  }
  if (env.kind === "conda_env") {
    const { pythonEnvFromConda } = await import("./conda-to-python.ts")
    const converted = pythonEnvFromConda(project.root, env.file, display(project, env.file))
    for (const w of converted.warnings) input.emit({ type: "warning", code: "conda_env.converted", message: w.message, file: env.file, ...(w.line ? { line: w.line } : {}) })
    return planPython(input, converted.spec, env.file, converted.spec.python === undefined)
  }
  // No environment file: MLflow builds an empty virtualenv with the current python.
  return planPython(input, { build_dependencies: [], dependencies: [] }, null, false)
}

/**
 * A lease on the planned environment for as long as a run uses it: `env gc`, `cache gc` and another run's
 * --rebuild-env leave a leased environment alone. Taken BEFORE the environment is looked up (buildEnvironment), so a
 * remover either sees the lease or has already withdrawn the manifest, and the run then waits for it and rebuilds.
 */
export const leaseEnvironment = (plan: EnvPlan): Lease | null => tryLease(environmentLeases(plan))

/** The folder of the environment's leases: a supervisor taking a run over takes one there too. */
export const environmentLeases = (plan: EnvPlan): string => entryPaths(plan.recipe.root, plan.key).leases

/** Builds (or reuses) the planned environment and says how to run inside it. */
export const buildEnvironment = async (plan: EnvPlan, input: Pick<PrepareInput, "emit" | "signal" | "env" | "rebuild" | "verbose">): Promise<PreparedEnv> => {
  const { cached, manifest } = await buildOnce(plan.recipe, { emit: input.emit, signal: input.signal, rebuild: input.rebuild, verbose: input.verbose })
  const activation = plan.tag === "conda" ? condaActivation(manifest.prefix, input.env) : virtualenvActivation(manifest.prefix, input.env)
  input.emit({ type: "env.ready", manager: plan.manager, key: plan.key, cached })
  return { manager: plan.manager, key: plan.key, cached, prefix: manifest.prefix, python: manifest.python, tag: plan.tag, ...activation }
}

export const prepareEnvironment = async (input: PrepareInput): Promise<PreparedEnv> => buildEnvironment(await planEnvironment(input), input)
