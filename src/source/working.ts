// From a cache entry to a ProjectSource: the run's own working copy, its project folder, and its cleanup.
import { join } from "node:path"
import type { SourceRequest, ProjectSource } from "./index.ts"
import { locate, workingCopy, type Entry } from "./cache.ts"
import type { Target } from "./uri.ts"

/** One fetcher per kind of source, all with this shape. */
export type Fetcher = (target: Target, request: SourceRequest) => Promise<ProjectSource>

export const sourceFrom = async (
  entry: Entry,
  target: Target,
  subdir: string,
  kind: ProjectSource["kind"],
  git: ProjectSource["git"] | undefined,
  env: Record<string, string | undefined>,
  name = target.name,
): Promise<ProjectSource> => {
  const { from, inner } = locate(entry, subdir, name)
  const copy = await workingCopy(from, env)
  return {
    dir: join(copy.root, inner),
    name,
    kind,
    ...(git ? { git } : {}),
    ...(kind === "archive" ? { archive: { sha256: entry.meta.id } } : {}),
    cleanup: copy.remove,
  }
}
