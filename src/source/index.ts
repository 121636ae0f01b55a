// Resolves a project URI to a local folder; one fetcher per kind of source, chosen from a record by the URI's form.
import { ToolError } from "../errors.ts"
import type { Emit } from "../events/event.ts"
import { hasGit } from "./git-info.ts"
import { resolveLocal } from "./local.ts"
import { cacheDir } from "../util/paths.ts"
import { classify, githubRepoOf, type Target, type Via } from "./uri.ts"
import type { Fetcher } from "./working.ts"

export { isRemoteUri, normaliseSubdir } from "./local.ts"
export { gitInfo, localSourceName } from "./git-info.ts"

export type ProjectSource = {
  /** Absolute folder holding the MLproject file (the `#subdir` applied). */
  dir: string
  /**
   * The folder the project's files must stay inside: the local folder named before `#` (or the Git work tree it is
   * in, unless that is the home folder or /), or the root of the fetched
   * repository or archive (its working copy).
   */
  root: string
  /** What `mlflow.source.name` records (credentials removed). */
  name: string
  kind: "local" | "git" | "github" | "archive" | "pack"
  /**
   * For fetched Git/GitHub sources: what the mlflow.source.git.* tags record (URL without credentials; null for a
   * local repository without a remote, where MLflow records no repoURL). `branch` only when --version names a branch.
   */
  git?: { commit: string; repo_url: string | null; branch?: string }
  /** For archives: the sha256 of the archive (its cache key). */
  archive?: { sha256: string }
  /** For packs: the verified manifest, the pack's sha256 and the unpacked pack (wheels/, image/ beside project/). */
  pack?: { manifest: import("../pack/manifest.ts").PackManifest; sha256: string; dir: string }
  /** Removes whatever the fetch created; a local folder is used in place and nothing is removed. */
  cleanup(): Promise<void>
  /**
   * Gives the working copy to another process (a detached run's supervisor, by its owner tag): it is leased to that
   * process, `cleanup` no longer removes it, and the folders that process must remove when it is done come back.
   */
  handOver?(owner: string): string[]
  /** Leases the working copy to another process without giving it away (a sweep's trials share one copy). */
  lease?(owner: string): void
}

export type SourceRequest = {
  uri: string
  version?: string
  cwd: string
  emit: Emit
  signal?: AbortSignal
  env?: Record<string, string | undefined>
  /** "auto" (git when installed, else the GitHub tarball API for github.com), "git" or "tarball". */
  fetcher?: "auto" | "git" | "tarball"
}

// Remote fetchers are loaded on first use: a run of a local folder never pays for git, tar or Octokit code.
const fetchers: Record<Via, Fetcher> = {
  local: (target, request) => resolveLocal(target.uri, request.cwd, request.env),
  "local-git": async (target, request) => (await import("./git-local.ts")).fetchLocalVersion(target, request),
  git: async (target, request) => (await import("./git.ts")).fetchGit(target, request),
  github: async (target, request) => (await import("./github.ts")).fetchGithub(target, request),
  archive: async (target, request) => (await import("./archive.ts")).fetchArchive(target, request),
  pack: async (target, request) => (await import("./pack.ts")).fetchPack(target, request),
}


/** A remote Git URI goes to git, or to GitHub's tarball API when asked (--fetcher tarball) or when git is missing. */
const chooseVia = (target: Target, request: SourceRequest): Via => {
  if (target.via !== "git" || target.path !== undefined) return target.via
  const env = request.env ?? process.env
  const github = githubRepoOf(target.base, env) !== null
  const fetcher = request.fetcher ?? "auto"
  if (fetcher === "tarball") {
    if (github) return "github"
    throw new ToolError("source.fetcher", `--fetcher tarball works for GitHub repositories only; ${target.name} is not one`, {
      hint: "drop --fetcher tarball (git fetches any repository); for GitHub Enterprise set GITHUB_API_URL",
    })
  }
  if (fetcher === "git" || hasGit(env) || !github) return "git"
  return "github"
}

export const resolveSource = async (request: SourceRequest): Promise<ProjectSource> => {
  const target = classify(request.uri, request.cwd, request.version !== undefined)
  if (request.version !== undefined && target.via === "pack") {
    throw new ToolError("source.version", `${target.name} is a pack: it holds one pinned version of its project (mlproject describe ${target.name} names it)`, {
      hint: "drop --version, or pack the version you want: mlproject pack URI -v VERSION -o FILE.mlpack",
    })
  }
  if (request.version !== undefined && target.via === "archive") {
    throw new ToolError("source.version", `Setting a version is only supported for Git project URIs; ${target.name} is an archive`, {
      hint: "drop --version, or give the Git repository instead of the archive",
    })
  }
  try {
    return await fetchers[chooseVia(target, request)](target, request)
  } catch (error) {
    throw cacheFailure(error, request)
  }
}

// File-system failures (read-only or full cache, permissions) are the user's environment, not a bug.
const cacheFailure = (error: unknown, request: SourceRequest): unknown => {
  const code = (error as NodeJS.ErrnoException | null)?.code
  if (error instanceof ToolError || typeof code !== "string" || !/^E[A-Z]+$/.test(code)) return error
  return new ToolError("source.cache", `could not prepare the project in the fetch cache (${cacheDir("projects", request.env ?? process.env)}): ${(error as Error).message}`, {
    exitCode: 1,
    hint: code === "ENOSPC" || code === "EDQUOT" ? "free some disk space, or point MLPROJECT_HOME at a larger disk" : "check that MLPROJECT_HOME is writable (or point it elsewhere)",
    cause: error,
  })
}
