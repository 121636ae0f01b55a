// The tags `mlflow run` writes on a PROJECT run, in MLflow's order (reference §5.2).
import type { Tag } from "../tracking/types.ts"
import { redactUrl } from "../util/redact.ts"

export type RunTagInput = {
  user: string
  sourceName: string
  entryPoint: string
  git: { commit: string; repo_url: string | null } | null
  gitBranch?: string
  runName: string
  backend: string
  envManager: string
}

export const runTags = (input: RunTagInput): Tag[] => {
  const tags: Array<[string, string | null | undefined]> = [
    ["mlflow.user", input.user],
    ["mlflow.source.name", input.sourceName],
    ["mlflow.source.type", "PROJECT"],
    ["mlflow.project.entryPoint", input.entryPoint],
    ["mlflow.source.git.commit", input.git?.commit],
    ["mlflow.source.git.repoURL", input.git?.repo_url ? redactUrl(input.git.repo_url) : null],
    // MLflow 2.x still writes the legacy duplicate (every PROJECT run with Git in the mlruns corpus has it).
    ["mlflow.gitRepoURL", input.git?.repo_url ? redactUrl(input.git.repo_url) : null],
    ["mlflow.source.git.branch", input.gitBranch],
    ["mlflow.runName", input.runName],
    // MLflow sets no env tag for the local environment.
    ["mlflow.project.env", input.envManager === "local" ? null : input.envManager],
    ["mlflow.project.backend", input.backend],
  ]
  return tags.filter((tag): tag is [string, string] => typeof tag[1] === "string").map(([key, value]) => ({ key, value }))
}
