// GitHub without git: resolve the version to a commit through the REST API (Octokit), download and extract its tarball.
import { createWriteStream, existsSync, mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { ToolError } from "../errors.ts"
import { buildArchiveEntry } from "./archive.ts"
import { ensureEntry, keyFor, projectsDir, reapDead, scratchName } from "./cache.ts"
import { download } from "./download.ts"
import { reporter } from "./progress.ts"
import { HttpTooLarge, HttpUnreachable, request as httpRequest, type HttpOptions } from "../util/http.ts"
import { httpLimits } from "../util/http-limits.ts"
import { redactText, redactUrl, secretsOf, splitCredentials } from "../util/redact.ts"
import { limitsFrom } from "./archive-rules.ts"
import { githubRepoOf, type GithubRepo } from "./uri.ts"
import { sourceFrom, type Fetcher } from "./working.ts"

const fullSha = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i
const quiet = { debug() {}, info() {}, warn() {}, error() {} }

type Octokit = InstanceType<typeof import("@octokit/rest").Octokit>
type Failure = { status?: number; message?: string; cause?: unknown; response?: { headers?: Record<string, string | undefined> } }
type Env = Record<string, string | undefined>

/**
 * Octokit's requests through our HTTP helper, so the API and the tarball get its timeouts, body limits and retries of
 * idempotent calls. `maxBytes` bounds what is read: JSON by default, the archive limit for a tarball streamed to disk.
 */
const helperFetch =
  (env: Env, maxBytes?: HttpOptions["maxBytes"]) =>
  (url: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    httpRequest(String(url), {
      method: init.method,
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body: (init.body ?? null) as HttpOptions["body"],
      signal: init.signal ?? undefined,
      redirect: init.redirect === "manual" ? "manual" : "follow",
      limits: httpLimits(env),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
    })

/** Octokit failures as our errors: missing or private repositories, bad tokens, rate limits, no network. */
const apiError = (error: unknown, gh: GithubRepo, what: string, secrets: string[]): ToolError => {
  const failure = error as Failure
  // The helper's verdicts (a stalled or oversized answer) already name the request, the limit and its variable.
  const cause = failure.cause
  if (cause instanceof HttpTooLarge || (cause instanceof HttpUnreachable && cause.timedOut)) return cause
  const status = failure.status ?? 0
  const detail = redactText(failure.message ?? String(error), secrets)
  const repo = `${gh.web}/${gh.owner}/${gh.repo}`
  if (status === 401) return new ToolError("source.github.auth", `GitHub refused the token for ${repo} (${detail})`, { hint: "check GITHUB_TOKEN (or the token in the URL)" })
  if (status === 403 || status === 429) {
    const limited = failure.response?.headers?.["x-ratelimit-remaining"] === "0" || status === 429
    return limited
      ? new ToolError("source.github.rate_limit", `GitHub's API rate limit is exhausted (${what} of ${repo})`, { exitCode: 1, hint: "set GITHUB_TOKEN for a higher limit, or wait" })
      : new ToolError("source.github.auth", `GitHub refused ${what} of ${repo} (${detail})`, { hint: "check that GITHUB_TOKEN may read the repository" })
  }
  if (status === 404) {
    return new ToolError("source.github.not_found", `GitHub repository ${repo} was not found (or is private)`, { hint: "check the URL; for a private repository set GITHUB_TOKEN" })
  }
  return new ToolError("source.github.api", `GitHub API request failed (${what} of ${repo}): ${detail}`, {
    exitCode: 1,
    hint: `check your network; the API is ${gh.api} (GITHUB_API_URL)`,
  })
}

const versionError = (version: string, name: string) =>
  new ToolError("source.git.version", `Unable to checkout version '${version}' of git repo ${name} - please ensure that the version exists in the repo`, {
    hint: "give a branch, a tag, or a commit (full or abbreviated) that exists in the repository",
  })

const interrupted = (name: string) => new ToolError("source.interrupted", `interrupted while fetching ${name}`, { exitCode: 130 })

const missing = (error: unknown) => [404, 422].includes((error as Failure).status ?? 0)

/** The commit a version names, and the branch when it is one: default branch → getCommit(HEAD); name → getBranch, else getCommit. */
const resolveRef = async (octokit: Octokit, gh: GithubRepo, version: string | undefined, name: string): Promise<{ commit: string; branch?: string }> => {
  const sha = async (ref: string) => {
    const response = await octokit.rest.repos.getCommit({ owner: gh.owner, repo: gh.repo, ref, mediaType: { format: "sha" } })
    const text = String(response.data as unknown).trim()
    return fullSha.test(text) ? text.toLowerCase() : (response.data as { sha: string }).sha
  }
  if (version === undefined) return { commit: await sha("HEAD") }
  try {
    const branch = await octokit.rest.repos.getBranch({ owner: gh.owner, repo: gh.repo, branch: version })
    return { commit: branch.data.commit.sha, branch: version }
  } catch (error) {
    if (!missing(error)) throw error
  }
  try {
    return { commit: await sha(version) }
  } catch (error) {
    if (missing(error)) throw versionError(version, name)
    throw error
  }
}

/** The tarball: the API answers with a redirect to a signed URL, which is downloaded without our token. */
const downloadTarball = async (octokit: Octokit, gh: GithubRepo, commit: string, file: string, report: ReturnType<typeof reporter>, env: Env, signal?: AbortSignal) => {
  const tarball = helperFetch(env, { bytes: limitsFrom(env).maxBytes, variable: "MLPROJECT_ARCHIVE_MAX_BYTES" })
  const response = await octokit.request("GET /repos/{owner}/{repo}/tarball/{ref}", {
    owner: gh.owner,
    repo: gh.repo,
    ref: commit,
    request: { redirect: "manual", parseSuccessResponseBody: false, signal, fetch: tarball },
  })
  const name = `the GitHub tarball of ${gh.owner}/${gh.repo}@${commit.slice(0, 12)}`
  const location = (response.headers as Record<string, string | undefined>).location
  if (response.status >= 300 && response.status < 400 && location) {
    await (response.data as unknown as ReadableStream | null)?.cancel()
    return download(location, file, { name, report, signal, env })
  }
  const body = response.data as unknown as ReadableStream<Uint8Array>
  await pipeline(Readable.fromWeb(body as never), createWriteStream(file))
  return null
}

export const fetchGithub: Fetcher = async (target, request) => {
  const env = request.env ?? process.env
  const gh = githubRepoOf(target.base, env) as GithubRepo
  // Only an https URL carries a token (`https://TOKEN@github.com/…` or `https://user:TOKEN@…`); an ssh user is just "git".
  const { credentials } = /^https?:\/\//i.test(target.base) ? splitCredentials(target.base) : { credentials: null }
  const token = credentials?.password || credentials?.user || env.GITHUB_TOKEN || env.GH_TOKEN || undefined
  const secrets = secretsOf(credentials, token)
  const report = reporter(request.emit, target.name, "github")
  const repoDir = join(projectsDir(env), "github", keyFor(`${gh.web}/${gh.owner}/${gh.repo}`.toLowerCase()))
  const version = request.version
  const repoUrl = redactUrl(target.base)
  let octokit: Octokit | null = null
  // Loaded only when a GitHub tarball is fetched, so every other run starts without it.
  const api = async (): Promise<Octokit> => {
    const { Octokit } = await import("@octokit/rest")
    octokit ??= new Octokit({ auth: token, baseUrl: gh.api, userAgent: "mlproject", log: quiet, request: { signal: request.signal, fetch: helperFetch(env) } })
    return octokit
  }
  let resolved: { commit: string; branch?: string }
  try {
    report.progress("resolving")
    resolved = version !== undefined && fullSha.test(version) ? { commit: version.toLowerCase() } : await resolveRef(await api(), gh, version, target.name)
  } catch (error) {
    if (request.signal?.aborted) throw interrupted(target.name)
    throw error instanceof ToolError ? error : apiError(error, gh, "resolving the version", secrets)
  }
  const dir = join(repoDir, resolved.commit)
  const build = async (tmp: string) => {
    const scratch = join(projectsDir(env), "tmp")
    mkdirSync(scratch, { recursive: true })
    reapDead(scratch)
    const file = join(scratch, `${scratchName()}.tar.gz`)
    try {
      report.progress("downloading")
      await downloadTarball(await api(), gh, resolved.commit, file, report, env, request.signal).catch((error) => {
        if (request.signal?.aborted) throw interrupted(target.name)
        if (error instanceof ToolError) throw error
        if (missing(error) && version !== undefined) throw versionError(version, target.name)
        throw apiError(error, gh, "downloading the tarball", secrets)
      })
      return { ...(await buildArchiveEntry(tmp, file, resolved.commit, target.name, env, report)), kind: "github" as const }
    } finally {
      rmSync(file, { force: true })
    }
  }
  const { entry, cached } = await ensureEntry(dir, build, { signal: request.signal })
  report.done(entry.meta.id, cached)
  const source = await sourceFrom(entry, target, target.subdir, "github", { commit: entry.meta.id, repo_url: repoUrl, ...(resolved.branch ? { branch: resolved.branch } : {}) }, env)
  if (existsSync(join(entry.dir, "tree", entry.meta.root, ".gitmodules"))) {
    request.emit({ type: "warning", code: "source.github.submodules", message: `${target.name} has submodules, which GitHub tarballs do not include`, hint: "use --fetcher git to fetch them" })
  }
  return source
}
