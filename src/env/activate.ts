// Running inside an environment without shell init files: the variables `activate` would set, and conda's hooks.
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { shellQuote } from "../project/shell-quote.ts"

type Env = Record<string, string | undefined>

export type Activation = {
  /** Merged over the run's environment: PATH with the env's bin first, VIRTUAL_ENV or CONDA_PREFIX… */
  vars: Record<string, string>
  /** Removed from the run's environment, as `activate` does. */
  unset: string[]
  /** conda packages' `etc/conda/activate.d/*.sh` hooks, sourced before the command (see wrapCommand). */
  scripts: string[]
}

const withBin = (prefix: string, env: Env) => (env.PATH ? `${join(prefix, "bin")}:${env.PATH}` : join(prefix, "bin"))

/** What `source <venv>/bin/activate` sets. */
export const virtualenvActivation = (prefix: string, env: Env): Activation => ({
  vars: { PATH: withBin(prefix, env), VIRTUAL_ENV: prefix },
  unset: ["PYTHONHOME"],
  scripts: [],
})

/**
 * What `conda activate <prefix>` sets, minus the shell functions: variables, then the packages' own
 * activation hooks (compilers, GDAL, Java set variables there), which only a shell can run.
 */
export const condaActivation = (prefix: string, env: Env): Activation => {
  const level = Number(env.CONDA_SHLVL ?? "0")
  const vars: Record<string, string> = {
    PATH: withBin(prefix, env),
    CONDA_PREFIX: prefix,
    CONDA_DEFAULT_ENV: prefix,
    CONDA_SHLVL: String(Number.isFinite(level) ? level + 1 : 1),
    CONDA_PROMPT_MODIFIER: `(${prefix}) `,
  }
  // conda stacks the outer environment as CONDA_PREFIX_<n>, so `conda deactivate` inside still works.
  if (env.CONDA_PREFIX && Number.isFinite(level) && level > 0) vars[`CONDA_PREFIX_${level}`] = env.CONDA_PREFIX
  return { vars, unset: ["PYTHONHOME"], scripts: activationScripts(prefix) }
}

export const activationScripts = (prefix: string): string[] => {
  const dir = join(prefix, "etc", "conda", "activate.d")
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith(".sh"))
      .sort()
      .map((name) => join(dir, name))
  } catch {
    return []
  }
}

/**
 * The `bash -c` text for an entry command: unchanged without hooks; otherwise each hook is sourced first,
 * its stdout sent to stderr as MLflow does with `conda activate 1>&2`, so the command's stdout stays its own.
 * A failing hook does not stop the command: conda's own activate ignores their status too.
 */
export const wrapCommand = (activation: Activation, command: string): string => {
  if (activation.scripts.length === 0) return command
  const hooks = activation.scripts.map((script) => `. ${shellQuote(script)} 1>&2`).join("; ")
  return `${hooks}; ${command}`
}

/** The run's environment inside the activation: unset names removed, vars merged last. */
export const activatedEnv = (activation: Activation, env: Env): Env => {
  const out: Env = { ...env }
  for (const name of activation.unset) delete out[name]
  return { ...out, ...activation.vars }
}
