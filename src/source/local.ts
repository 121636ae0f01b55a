// Local project folders and file:// URIs, with MLflow's `#subdir` suffix, run in place.
import { realpathSync } from "node:fs"
import { isAbsolute, join, normalize, resolve, sep } from "node:path"
import { ToolError, isToolError } from "../errors.ts"
import { containedDir } from "../project/project-file.ts"
import type { ProjectSource } from "./index.ts"
import { enclosingWorkTree } from "./git-info.ts"
import { homeFolder } from "../util/user.ts"
import { authorityScheme, isWhiteSpaceAt } from "../util/ascii.ts"
import { statIfPresent } from "../util/fs-atomic.ts"

/** MLflow strips quotes a shell left around the URI. */
export const unquote = (uri: string): string => {
  const isQuote = (index: number) => uri[index] === "'" || uri[index] === '"'
  let start = 0
  let end = uri.length
  while (start < end && isQuote(start)) start++
  while (end > start && isQuote(end - 1)) end--
  return uri.slice(start, end)
}

/** `user@host:path` (git's scp-like ssh address) as /^[^/\s]+@[^/\s]+:/ finds it: both parts before any `/` or space. */
const isScpLike = (base: string): boolean => {
  // The first `@` after a first character and the first `:` after it leave the most room; a later pair's prefix
  // holds this pair's.
  const at = base.indexOf("@", 1)
  const colon = at === -1 ? -1 : base.indexOf(":", at + 2)
  if (colon === -1) return false
  for (let i = 0; i < colon; i++) if (base[i] === "/" || isWhiteSpaceAt(base, i)) return false
  return true
}

export const splitSubdir = (uri: string): { base: string; subdir: string | null } => {
  const hash = uri.indexOf("#")
  return hash === -1 ? { base: uri, subdir: null } : { base: uri.slice(0, hash), subdir: uri.slice(hash + 1) }
}

const exists = statIfPresent

/** A URI that names something to fetch rather than a folder on this machine. */
export const isRemoteUri = (raw: string, cwd: string): boolean => {
  const { base } = splitSubdir(unquote(raw))
  if (base.startsWith("file:")) return false
  if (authorityScheme(base) !== null) return true
  if (isScpLike(base)) return true
  if (exists(resolve(cwd, base))) return false
  // A colon before any slash: /^[^/]*:/.
  const colon = base.indexOf(":")
  return colon !== -1 && !base.slice(0, colon).includes("/")
}

/**
 * The subdirectory must stay inside the project. Unlike MLflow we allow dots in folder names
 * (`v1.2/`); only a path that climbs out is refused.
 */
export const normaliseSubdir = (subdir: string): string => {
  const normal = normalize(subdir).replace(/\/+$/, "")
  if (isAbsolute(subdir) || normal === ".." || normal.startsWith(`..${sep}`)) {
    throw new ToolError("source.subdir", `project subdirectory '${subdir}' leaves the project`, {
      hint: "give a folder inside the project after '#', e.g. repo#models/train",
    })
  }
  return normal === "." ? "" : normal
}

/**
 * The `#subdir` folder when it exists, or null. A subdir that is (or passes through) a symlink leaving the project
 * is refused: `repo#data` with `data -> /home/me` would run a host folder's MLproject as this project.
 */
export const containedSubdir = (root: string, dir: string, relative: string): string | null => {
  try {
    return containedDir(root, dir, relative || ".", "project subdirectory")
  } catch (error) {
    if (!isToolError(error) || error.code !== "project.outside") throw error
    throw new ToolError("source.subdir", error.message, { hint: "give a folder inside the project after '#'" })
  }
}

export const toPath = (base: string, cwd: string): string => {
  if (!base.startsWith("file:")) return resolve(cwd, base === "" ? "." : base)
  // node:url only for a file: URI: loading it costs every plain-path run and describe.
  const { fileURLToPath } = require("node:url") as typeof import("node:url")
  try {
    return fileURLToPath(base.startsWith("file://") ? base : `file://${base.slice("file:".length)}`)
  } catch (error) {
    throw new ToolError("source.invalid", `'${base}' is not a valid file: URI (${(error as Error).message})`, {
      hint: "use file:///absolute/path or a plain path",
    })
  }
}

/**
 * What a local project's files may reach: the Git work tree it lives in (a monorepo step's `conda_env:
 * ../../environment.yaml` works as under `mlflow run`, which records the run as `file://<repo>#<step>`), else the
 * folder named. A work tree at the home folder or `/` (dotfiles kept in Git) does not count: there the folder does.
 */
const filesRoot = (named: string, env: Readonly<Record<string, string | undefined>>): string => {
  const tree = enclosingWorkTree(named)
  return tree !== null && workTreeIsProjectRoot(tree, env) ? tree : named
}

/** False for a work tree at the home folder or `/`: a Git repository of dotfiles is no project's root. */
export const workTreeIsProjectRoot = (tree: string, env: Readonly<Record<string, string | undefined>>): boolean => {
  const real = (path: string) => {
    try {
      return realpathSync(path)
    } catch {
      return path
    }
  }
  const home = homeFolder(env)
  const top = real(tree)
  return top !== "/" && (home === null || top !== real(home))
}

export const resolveLocal = async (raw: string, cwd: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<ProjectSource> => {
  const uri = unquote(raw)
  const { base, subdir } = splitSubdir(uri)
  const root = toPath(base, cwd)
  const rootStat = exists(root)
  if (!rootStat) {
    throw new ToolError("source.not_found", `project folder '${base || "."}' does not exist (resolved to ${root})`, {
      hint: "give the path of a folder that holds an MLproject file",
    })
  }
  if (!rootStat.isDirectory()) {
    throw new ToolError("source.not_directory", `'${base}' is a file, not a project folder`, {
      hint: "give the folder that holds the MLproject file, or an archive ending in .zip, .tar, .tar.gz or .tgz",
    })
  }
  const relative = subdir === null ? "" : normaliseSubdir(subdir)
  const dir = relative === "" ? root : join(root, relative)
  if (containedSubdir(root, dir, relative) === null) {
    throw new ToolError("source.subdir", `Could not find subdirectory ${relative} of ${root}`, {
      hint: "check the part after '#' in the project URI",
    })
  }
  // MLflow records a URI with '#' as given; a relative base is made absolute so the tag says where it ran.
  const name = subdir === null ? dir : base.startsWith("file:") ? uri : `${root}#${subdir}`
  return { dir, root: filesRoot(root, env), name, kind: "local", cleanup: async () => {} }
}
