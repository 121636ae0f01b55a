// conda environments: finding conda (and mamba/micromamba) as MLflow does, creating a prefix, reading it back.
import { existsSync, readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { ToolError } from "../errors.ts"
import type { StepRunner } from "./build.ts"
import { installerEnv } from "./virtualenv.ts"

type Env = Record<string, string | undefined>

export type CondaTools = { conda: string; create: string }

/** MLflow's get_conda_bin_executable: MLFLOW_CONDA_HOME/bin, else CONDA_EXE's folder, else PATH. */
const condaExecutable = (name: string, env: Env): string => {
  if (env.MLFLOW_CONDA_HOME) return join(env.MLFLOW_CONDA_HOME, "bin", name)
  if (env.CONDA_EXE) return join(dirname(env.CONDA_EXE), name)
  return name
}

const runnable = (path: string, env: Env): boolean =>
  path.includes("/") ? existsSync(path) : Bun.which(path, { PATH: env.PATH ?? "" }) !== null

const resolved = (path: string, env: Env): string => (path.includes("/") ? path : (Bun.which(path, { PATH: env.PATH ?? "" }) ?? path))

/** Throws MLflow's own messages (exit 2) when conda or the create command cannot be found. */
export const findConda = (env: Env): CondaTools => {
  const conda = condaExecutable("conda", env)
  if (!runnable(conda, env)) {
    throw new ToolError(
      "env.conda.missing",
      `Could not find Conda executable at ${conda}. Ensure Conda is installed as per the instructions at https://conda.io/projects/conda/en/latest/user-guide/install/index.html. You can also configure MLflow to look for a specific Conda executable by setting the MLFLOW_CONDA_HOME environment variable to the path of the Conda executable`,
      { hint: "install conda (or miniforge), or set MLFLOW_CONDA_HOME to its folder; --env-manager virtualenv converts conda.yaml instead" },
    )
  }
  const createName = env.MLFLOW_CONDA_CREATE_ENV_CMD
  const create = createName ? condaExecutable(createName, env) : conda
  if (!runnable(create, env)) {
    throw new ToolError(
      "env.conda.missing",
      `You have set the env variable MLFLOW_CONDA_CREATE_ENV_CMD, but ${create} does not exist or it is not working properly. Note that ${create} and the conda executable need to be in the same conda environment. You can change the search path by modifying the env variable MLFLOW_CONDA_HOME`,
      { hint: "unset MLFLOW_CONDA_CREATE_ENV_CMD, or install that command next to conda" },
    )
  }
  return { conda: resolved(conda, env), create: resolved(create, env) }
}

/**
 * `conda env create --prefix P --file F` (documented `-p/--prefix`, `-f/--file`; mamba takes the same, and
 * micromamba's `env create` too). No `--yes`: `env create` does not prompt, and older conda lacks it.
 */
export const condaCreateArgv = (tools: CondaTools, prefix: string, file: string): string[] => [
  tools.create,
  "env",
  "create",
  "--prefix",
  prefix,
  "--file",
  file,
]

/** The python a prefix ended up with, from conda's own package records (no process started). */
export const condaPython = (prefix: string): string | null => {
  try {
    const record = readdirSync(join(prefix, "conda-meta")).find((name) => /^python-\d+\.\d+\.\d+-.*\.json$/.test(name))
    return record ? (/^python-(\d+\.\d+\.\d+)-/.exec(record)?.[1] ?? null) : null
  } catch {
    return null
  }
}

export const buildConda = async (runner: StepRunner, job: { tools: CondaTools; file: string; projectDir: string; env: Env }): Promise<{ python: string | null }> => {
  runner.step("creating the conda environment")
  // conda runs pip for the `pip:` section itself; it resolves `-r` there against the yaml's folder.
  await runner.run(condaCreateArgv(job.tools, runner.paths.prefix, job.file), {
    cwd: job.projectDir,
    env: installerEnv(job.env),
    label: `${job.tools.create.split("/").at(-1)} env create`,
  })
  if (!existsSync(join(runner.paths.prefix, "conda-meta"))) {
    throw new ToolError("env.build.failed", `conda reported success but ${runner.paths.prefix} is not a conda environment (no conda-meta)`, { exitCode: 1 })
  }
  return { python: condaPython(runner.paths.prefix) }
}
