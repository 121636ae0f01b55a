// Finds the Python a python_env asks for: an installed pyenv version, python3.X on PATH, else a pyenv install.
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { run, tryOutput } from "../util/exec.ts"
import { homeFolder } from "../util/user.ts"

type Env = Record<string, string | undefined>

/** `path` is null only when a build step must first run `pyenv install <install>`. */
export type Interpreter = { path: string | null; version: string; source: "pyenv" | "path" | "pyenv-install"; install?: string }

const numeric = /^\d+\.\d+\.\d+$/
const wanted = /^(\d+)\.(\d+)(?:\.(\d+))?$/

/** PYENV_ROOT, else ~/.pyenv of HOME or, for a service or cron job started without HOME, of the passwd entry. */
export const pyenvRoot = (env: Env): string => env.PYENV_ROOT || join(homeFolder(env) ?? "/", ".pyenv")

/** The pyenv executable: on PATH, else the one a git checkout of pyenv keeps in its root. */
export const pyenvBin = (env: Env): string | null => {
  const onPath = Bun.which("pyenv", { PATH: env.PATH ?? "" })
  if (onPath) return onPath
  const inRoot = join(pyenvRoot(env), "bin", "pyenv")
  return existsSync(inRoot) ? inRoot : null
}

const compareVersions = (a: string, b: string): number => {
  const pa = a.split(".").map(Number)
  const pb = b.split(".").map(Number)
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0)
  return 0
}

/** The best match among version names: the name itself, or for `X.Y` the highest `X.Y.Z`. */
export const bestMatch = (names: string[], request: string): string | null => {
  if (names.includes(request)) return request
  if (!/^\d+\.\d+$/.test(request)) return null
  const candidates = names.filter((n) => numeric.test(n) && n.startsWith(`${request}.`)).sort(compareVersions)
  return candidates.at(-1) ?? null
}

const installedPyenv = (env: Env): string[] => {
  const versions = join(pyenvRoot(env), "versions")
  try {
    return readdirSync(versions).filter((name) => existsSync(join(versions, name, "bin", "python")))
  } catch {
    return []
  }
}

const probeScript = 'import sys; print("%d.%d.%d" % sys.version_info[:3]); print(sys.executable)'

/** Asks an interpreter for its exact version and real executable (a pyenv shim answers for what it runs). */
export const probeVersion = async (python: string, env: Env): Promise<{ version: string; executable: string } | null> => {
  const out = await tryOutput([python, "-c", probeScript], { env })
  const [version, executable] = (out ?? "").split("\n")
  return version && executable ? { version: version.trim(), executable: executable.trim() } : null
}

const unavailable = (request: string, why: string): ToolError =>
  new ToolError("env.python.unavailable", `Python ${request} is not available: ${why}`, {
    hint: `install it (pyenv install ${request}) or put python${request.split(".").slice(0, 2).join(".")} on PATH`,
  })

/** MLflow's rule for a python_env without `python`: the python3 on PATH. */
const defaultPython = async (env: Env): Promise<Interpreter> => {
  const python3 = Bun.which("python3", { PATH: env.PATH ?? "" })
  const probed = python3 ? await probeVersion(python3, env) : null
  if (!probed) {
    throw new ToolError("env.python.unavailable", "python_env.yaml names no python version and no working python3 is on PATH", {
      hint: 'add python: "3.X" to python_env.yaml, or put python3 on PATH',
    })
  }
  return { path: probed.executable, version: probed.version, source: "path" }
}

/**
 * Resolves without building anything: installed pyenv versions and PATH first (cheap, no network), then
 * pyenv's list of installable versions. For uv, `allowMissing` leaves a missing version to uv itself.
 */
export const findInterpreter = async (
  request: string | undefined,
  env: Env,
  options: { allowMissing?: boolean; signal?: AbortSignal } = {},
): Promise<Interpreter> => {
  if (request === undefined) return defaultPython(env)
  const parts = wanted.exec(request)
  const root = pyenvRoot(env)
  const installed = bestMatch(installedPyenv(env), request)
  if (installed) return { path: join(root, "versions", installed, "bin", "python"), version: installed, source: "pyenv" }
  if (parts) {
    const onPath = Bun.which(`python${parts[1]}.${parts[2]}`, { PATH: env.PATH ?? "" })
    // A pyenv shim for a version pyenv does not have only prints an error: probing tells.
    const probed = onPath ? await probeVersion(onPath, env) : null
    if (probed && (parts[3] === undefined || probed.version === request)) return { path: probed.executable, version: probed.version, source: "path" }
  }
  if (options.allowMissing) return { path: null, version: request, source: "path" }
  const pyenv = pyenvBin(env)
  if (!pyenv) {
    throw new ToolError("env.pyenv.missing", `Python ${request} is not installed and pyenv, which mlproject uses to install it, was not found`, {
      hint: `install pyenv (https://github.com/pyenv/pyenv#installation) or Python ${request} itself (python${parts ? `${parts[1]}.${parts[2]}` : request} on PATH)`,
    })
  }
  if (parts?.[3] !== undefined) return { path: null, version: request, source: "pyenv-install", install: request }
  // `pyenv install --list` may reach the network: an interrupt must end it.
  const listed = await run([pyenv, "install", "--list"], { env: { ...env, PYENV_ROOT: root }, signal: options.signal, group: true })
  if (options.signal?.aborted) throw new ToolError("env.interrupted", "interrupted while pyenv listed the Python versions it can install", { exitCode: 130 })
  const names = listed.stdout.split("\n").map((line) => line.trim())
  const match = bestMatch(names.filter((n) => numeric.test(n)), request)
  if (!match) throw unavailable(request, `Could not find python version that matches ${request}`)
  return { path: null, version: match, source: "pyenv-install", install: match }
}

/** The interpreter path after `pyenv install`, run by a build step under the environment's lock. */
export const pyenvInstall = (env: Env, version: string): { argv: string[]; env: Env; python: string } => {
  const pyenv = pyenvBin(env)
  if (!pyenv) throw new ToolError("env.pyenv.missing", "pyenv was not found", { hint: "install pyenv: https://github.com/pyenv/pyenv#installation" })
  const root = pyenvRoot(env)
  return { argv: [pyenv, "install", "--skip-existing", version], env: { ...env, PYENV_ROOT: root }, python: join(root, "versions", version, "bin", "python") }
}

/** Every Python this machine offers mlproject: pyenv's versions, then python3 on PATH (for messages). */
export const installedPythons = async (env: Env): Promise<string[]> => {
  const python3 = Bun.which("python3", { PATH: env.PATH ?? "" })
  const onPath = python3 ? await probeVersion(python3, env) : null
  return [...installedPyenv(env).map((version) => `${version} (pyenv)`), ...(onPath ? [`${onPath.version} (${onPath.executable})`] : [])]
}
