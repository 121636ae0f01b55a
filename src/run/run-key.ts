// The run key: one digest of everything that decides what a run computes, so an identical earlier run can be reused.
//
// In it (README, "The run key"): the project's exact content (the commit of a Git source, the sha256 of an archive,
// the content digest of a local folder) and its `#subdir`; the entry point; every parameter's value, a local `path`
// or `uri` by the content digest of what it names and a downloaded remote `path` by its URI and version; the
// environment (python_env/conda cache key, docker image id or name); the env manager and the backend.
import { relative, resolve } from "node:path"
import { canonicalJson } from "../env/key.ts"
import { localPathOf } from "../project/python-url.ts"
import type { ResolvedParameter } from "../project/types.ts"
import type { ProjectSource } from "../source/index.ts"
import { fileUriToPath, uriScheme } from "../tracking/tracking-uri.ts"
import type { RunRequest } from "./request.ts"
import { mlprojectHome } from "../util/paths.ts"
import { contentDigest, type DigestOptions } from "./tree-digest.ts"

/** The tag a run's key is recorded in, and searched by for --reuse. */
export const runKeyTag = "mlproject.run_key"

/** Bumped whenever what goes into the key changes, so keys of older rules never match. */
const keyVersion = 1

/** What of a RunPlan the key reads (a RunPlan is one). */
export type RunKeyInput = {
  source: Pick<ProjectSource, "kind" | "dir" | "root" | "git" | "archive">
  entryPoint: { name: string }
  parameters: { parameters: ReadonlyArray<Pick<ResolvedParameter, "name" | "type" | "value" | "remote">> }
  envManager: string
  env: { key: string } | null
  docker?: { plan: { image: string; buildImage: boolean } }
  request: Pick<RunRequest, "backend" | "dockerArgs" | "storageDir">
  trackingUri: string
}

export type RunKeyOptions = Pick<DigestOptions, "env" | "racyMs"> & {
  /** A docker project's image id (`sha256:…`), once known: it pins the image better than its name. */
  imageId?: string | null
}

/**
 * What runs write is output, not content, wherever it sits: the file store the run records in (under a name other
 * than mlruns), the `--storage-dir` downloads land in, and $MLPROJECT_HOME.
 */
const writtenByRuns = (input: RunKeyInput, env: Record<string, string | undefined>): string[] => {
  const scheme = uriScheme(input.trackingUri)
  const store = scheme === "file" ? [resolve(fileUriToPath(input.trackingUri))] : scheme === "" ? [resolve(input.trackingUri)] : []
  return [...store, ...(input.request.storageDir ? [resolve(input.request.storageDir)] : []), resolve(mlprojectHome(env))]
}

const sourcePart = (input: RunKeyInput, digest: (path: string) => string): Record<string, unknown> => {
  const { source } = input
  const subdir = relative(source.root, source.dir)
  if (source.git) return { kind: "git", commit: source.git.commit, subdir }
  if (source.archive) return { kind: "archive", sha256: source.archive.sha256, subdir }
  return { kind: source.kind, tree: digest(source.dir), subdir }
}

const parameterPart = (parameter: RunKeyInput["parameters"]["parameters"][number], digest: (path: string) => string): Record<string, unknown> => {
  const { type, value, remote } = parameter
  if (remote) {
    // A remote object without a version is pinned by what was downloaded.
    return { type, uri: remote.uri, ...(remote.version !== null ? { version: remote.version } : { content: digest(value) }) }
  }
  if (type === "path" || type === "uri") {
    const local = localPathOf(value)
    // A remote `uri` is handed to the program as it is: its text is all the key can know of it.
    if (local !== null && local !== "") return { type, content: digest(resolve(local)) }
  }
  return { type, value }
}

/** What goes into the key, as plain data: for tests, and to show why two runs' keys differ. */
export const runKeyParts = (input: RunKeyInput, options: RunKeyOptions = {}): Record<string, unknown> => {
  const digestOptions: DigestOptions = { ...options, exclude: writtenByRuns(input, options.env ?? process.env) }
  const digest = (path: string) => contentDigest(path, digestOptions).digest
  const parameters = Object.fromEntries(
    [...input.parameters.parameters].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((p) => [p.name, parameterPart(p, digest)]),
  )
  const environment = input.docker
    ? { image: options.imageId ?? input.docker.plan.image, build_image: input.docker.plan.buildImage }
    : { key: input.env?.key ?? null, platform: `${process.platform}-${process.arch}` }
  return {
    v: keyVersion,
    source: sourcePart(input, digest),
    entry_point: input.entryPoint.name,
    parameters,
    env_manager: input.envManager,
    environment,
    backend: input.request.backend,
    // Values of `-A env=…` may be secrets: only their names count.
    docker_args: input.request.dockerArgs.map(([name, value]) => (name === "env" || name === "e" ? [name, value.split("=")[0]] : [name, value])),
  }
}

/** The run key: sha256 (64 hex) of runKeyParts. */
export const runKey = async (input: RunKeyInput, options: RunKeyOptions = {}): Promise<string> =>
  new Bun.CryptoHasher("sha256").update(canonicalJson(runKeyParts(input, options))).digest("hex")
