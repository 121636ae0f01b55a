// Resolves a project URI to a local folder; one resolver per kind of URI, chosen by its form.
import { ToolError } from "../errors.ts"
import type { Emit } from "../events/event.ts"
import { isRemoteUri, resolveLocal } from "./local.ts"

export type ProjectSource = {
  /** Absolute folder holding the MLproject file (the `#subdir` applied). */
  dir: string
  /** What `mlflow.source.name` records (credentials removed). */
  name: string
  kind: "local" | "git" | "github" | "archive"
  /** For fetched Git/GitHub sources: what the mlflow.source.git.* tags record (URL without credentials). */
  git?: { commit: string; repo_url: string; branch?: string }
  /** Removes whatever the fetch created; a local folder is used in place and nothing is removed. */
  cleanup(): Promise<void>
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

export const resolveSource = async (request: SourceRequest): Promise<ProjectSource> => {
  if (isRemoteUri(request.uri, request.cwd)) {
    throw new ToolError("source.unsupported", `cannot fetch '${request.uri}': this version runs projects from local folders and file:// URIs only`, {
      hint: "clone or download the project first, then run its folder (Git, GitHub and archive sources are not supported yet)",
    })
  }
  if (request.version !== undefined) {
    throw new ToolError("source.unsupported", `--version ${request.version}: checking out a version is not supported yet`, {
      hint: "check the version out yourself (git worktree add …) and run that folder",
    })
  }
  return resolveLocal(request.uri, request.cwd)
}
