// A local Git work tree run at another --version: fetched from the user's repository into the cache, never checked out in it.
import { join, relative } from "node:path"
import { ToolError } from "../errors.ts"
import { statIfPresent } from "../util/fs-atomic.ts"
import { tryOutput } from "../util/exec.ts"
import { gitInfo, localSourceName } from "./git-info.ts"
import { workTreeIsProjectRoot } from "./local.ts"
import { checkoutPlan, entryFor, repoCacheDir, requireGit } from "./git.ts"
import { gitSession, versionError } from "./git-run.ts"
import { reporter } from "./progress.ts"
import { redactUrl } from "../util/redact.ts"
import { sourceFrom, type Fetcher } from "./working.ts"

/**
 * MLflow re-initialises the user's own repository, fetches from its first remote and checks the version out there,
 * changing the user's checkout. We only read the repository: resolve the version in it, then fetch that commit
 * from it (upload-pack is read-only) into a cache entry.
 */
export const fetchLocalVersion: Fetcher = async (target, request) => {
  const env = request.env ?? process.env
  const version = request.version as string
  const path = target.path as string
  if (!statIfPresent(path)?.isDirectory()) {
    throw new ToolError("source.not_found", `project folder '${target.base || "."}' does not exist (resolved to ${path})`, {
      hint: "give the path of a folder that holds an MLproject file",
    })
  }
  requireGit(env, target.name)
  const info = await gitInfo(path)
  if (!info) {
    throw new ToolError("source.version", `Setting a version is only supported for Git project URIs; ${path} is not inside a Git repository`, {
      hint: "drop --version to run the folder as it is",
    })
  }
  const name = target.uri.includes("#") ? target.name : localSourceName(path, info)
  const report = reporter(request.emit, name, "git")
  const s = gitSession(info.root, { env, signal: request.signal, report, local: true })
  const read = { env: { ...s.env, GIT_OPTIONAL_LOCKS: "0" } }
  const [commit, branch, tag] = await Promise.all([
    tryOutput(["git", "-C", info.root, "rev-parse", "--verify", "--quiet", "--end-of-options", `${version}^{commit}`], read),
    // MLflow's rule for mlflow.source.git.branch: `git rev-parse --verify refs/heads/<version>` succeeds.
    tryOutput(["git", "-C", info.root, "rev-parse", "--verify", "--quiet", "--end-of-options", `refs/heads/${version}`], read),
    tryOutput(["git", "-C", info.root, "rev-parse", "--verify", "--quiet", "--end-of-options", `refs/tags/${version}`], read),
  ])
  if (!commit || version.startsWith("-")) throw versionError(s, version)
  const isBranch = branch !== null && tag === null
  const resolved = { commit, ...(isBranch ? { ref: `refs/heads/${version}`, branch: version } : {}) }
  // The working copy's origin is the user's own remote, as in MLflow, so relative submodule URLs resolve the same way.
  const origin = info.remote_url ? redactUrl(info.remote_url) : info.root
  const { entry, cached } = await entryFor(s, repoCacheDir(env, `file://${info.root}`), resolved, version, { signal: request.signal, origin })
  // The project root is the repository, as for a run of the work tree without --version (unless the work tree is the
  // home folder: then the folder the user named); `#subdir` goes below the folder named.
  const named = relative(info.root, path)
  const subdir = join(named, target.subdir)
  const git = { commit: entry.meta.id, repo_url: info.remote_url ? origin : null, ...(isBranch ? { branch: version } : {}) }
  const rootInner = workTreeIsProjectRoot(info.root, env) ? undefined : named
  const source = await sourceFrom(entry, target, subdir === "." ? "" : subdir, "git", git, env, name, rootInner, checkoutPlan(s, entry, resolved.branch))
  report.done(entry.meta.id, cached)
  return source
}
