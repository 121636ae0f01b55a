// When uv replaces pip and virtualenv, and how the user's pip settings are carried over to it.
import { existsSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { homeFolder } from "../util/user.ts"

type Env = Record<string, string | undefined>

/**
 * pip configuration files pip itself would read (global, user, legacy user). uv ignores them, so while one
 * exists we keep using pip unless uv is asked for: a wheelhouse configured there must keep working.
 */
export const pipConfigFiles = (env: Env): string[] => {
  const home = homeFolder(env) ?? "/"
  const configured = env.PIP_CONFIG_FILE
  if (configured === "/dev/null" || configured === "os.devnull") return []
  const xdgDirs = (env.XDG_CONFIG_DIRS || "/etc/xdg").split(":").map((dir) => join(dir, "pip", "pip.conf"))
  const candidates = [
    ...(configured ? [configured] : []),
    ...xdgDirs,
    "/etc/pip.conf",
    join(env.XDG_CONFIG_HOME || join(home, ".config"), "pip", "pip.conf"),
    join(home, ".pip", "pip.conf"),
  ]
  return candidates.filter((file) => existsSync(file))
}

export const findUv = (env: Env): string | null => Bun.which("uv", { PATH: env.PATH ?? "" })

/**
 * `--env-manager uv` requires uv; `virtualenv` uses it when it is on PATH and no pip configuration file
 * would be ignored by the switch.
 */
export const chooseUv = (manager: "virtualenv" | "uv", env: Env): string | null => {
  const uv = findUv(env)
  if (manager === "uv") {
    if (uv) return uv
    throw new ToolError("env.uv.missing", "--env-manager uv needs uv, which was not found on PATH", {
      hint: "install uv (https://docs.astral.sh/uv/getting-started/installation/), or use --env-manager virtualenv",
    })
  }
  return uv && pipConfigFiles(env).length === 0 ? uv : null
}

const truthy = (value: string | undefined) => value !== undefined && /^(1|true|yes|on)$/i.test(value)
const words = (value: string | undefined) => (value ?? "").split(/\s+/).filter((w) => w !== "")

/**
 * uv does not read PIP_* variables: pass the index settings as flags, unless the matching UV_* variable
 * is set (the user's uv settings win).
 */
export const uvIndexArgs = (env: Env): string[] => {
  const args: string[] = []
  if (env.PIP_INDEX_URL && !env.UV_INDEX_URL && !env.UV_DEFAULT_INDEX) args.push("--index-url", env.PIP_INDEX_URL)
  if (!env.UV_EXTRA_INDEX_URL && !env.UV_INDEX) for (const url of words(env.PIP_EXTRA_INDEX_URL)) args.push("--extra-index-url", url)
  if (!env.UV_FIND_LINKS) for (const link of words(env.PIP_FIND_LINKS)) args.push("--find-links", link)
  if (truthy(env.PIP_NO_INDEX)) args.push("--no-index")
  return args
}

/** `uv venv`: MLflow's form, with the interpreter we found (or the version, for uv to find or download). */
export const uvVenvArgv = (uv: string, prefix: string, python: string): string[] => [uv, "venv", prefix, "--python", python]

export const uvInstallArgv = (uv: string, prefix: string, file: string, env: Env): string[] => [
  uv,
  "pip",
  "install",
  "--python",
  join(prefix, "bin", "python"),
  ...uvIndexArgs(env),
  "-r",
  file,
]
