// What a local folder's Git work tree says about it: root, commit, first remote (for mlflow.source.git.* tags).
import { existsSync } from "node:fs"
import { dirname, join, relative } from "node:path"

/** Whether a `git` program is on the PATH the fetch will use. */
export const hasGit = (env: Record<string, string | undefined>): boolean => Bun.which("git", { PATH: env.PATH ?? "" }) !== null

export type GitInfo = { root: string; commit: string; remote_url: string | null; branch: string | null }

/** The nearest folder at or above `dir` holding a `.git` folder or file: the work tree's top, found without git. */
export const enclosingWorkTree = (dir: string): string | null => {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, ".git"))) return current
    if (dirname(current) === current) return null
  }
}

/** A `.git` folder or file in the folder or a parent: saves two git processes on every run outside Git. */
const insideGitTree = (dir: string): boolean => enclosingWorkTree(dir) !== null

/** Null when the folder is not inside a Git work tree with a commit, or git is not installed. */
export const gitInfo = async (dir: string): Promise<GitInfo | null> => {
  if (!process.env.GIT_DIR && !insideGitTree(dir)) return null
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0" }
  // The subprocess helper loads with the first git call: `describe` and `validate` of a local folder never make one.
  const { tryOutput } = await import("../util/exec.ts")
  const [head, remotes] = await Promise.all([
    tryOutput(["git", "-C", dir, "rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD"], { env }),
    tryOutput(["git", "-C", dir, "config", "--get-regexp", "^remote\\..*\\.url$"], { env }),
  ])
  if (!head) return null
  const [root, commit, ref] = head.split("\n")
  if (!root || !commit || !/^[0-9a-f]{40,64}$/.test(commit)) return null
  const firstRemote = remotes?.split("\n")[0]
  const url = firstRemote ? firstRemote.slice(firstRemote.indexOf(" ") + 1) : null
  // A detached HEAD names no branch.
  return { root, commit, remote_url: url, branch: ref && ref !== "HEAD" ? ref : null }
}

/** MLflow's `mlflow.source.name` for a local project: `file://<repo root>#<subpath>` inside Git, else the path. */
export const localSourceName = (dir: string, git: GitInfo | null): string => {
  if (!git) return dir
  const sub = relative(git.root, dir)
  return sub === "" ? `file://${git.root}` : `file://${git.root}#${sub}`
}
