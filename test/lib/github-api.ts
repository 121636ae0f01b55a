// A loopback server implementing the GitHub REST calls Octokit makes for a tarball fetch, serving `git archive` output.
import type { GitRepo } from "./git.ts"
import { sh } from "./git.ts"

export type GithubApi = {
  /** Web root (GITHUB_SERVER_URL), e.g. `http://127.0.0.1:<port>`; repositories are `<url>/<owner>/<repo>`. */
  url: string
  /** API root (GITHUB_API_URL), GitHub Enterprise layout: `<url>/api/v3`. */
  api: string
  requests: Array<{ method: string; path: string; authorization: string | null }>
  [Symbol.asyncDispose](): Promise<void>
}

export type GithubApiOptions = {
  /** owner/repo → the bare repository serving it. */
  repos: Record<string, GitRepo>
  /** When set, every API call must carry this token (a private repository); others get 404 as GitHub answers. */
  token?: string
  /** Where the tarball redirect points (another origin, as codeload.github.com is); default: this server. */
  codeload?: () => string
}

const json = (status: number, body: unknown) => Response.json(body, { status })

const resolve = (repo: GitRepo, ref: string): string | null => {
  try {
    return sh(["git", "-C", repo.path, "rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`])
  } catch {
    return null
  }
}

export const githubApi = (options: GithubApiOptions): GithubApi => {
  const requests: GithubApi["requests"] = []
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request): Response {
      const url = new URL(request.url)
      const authorization = request.headers.get("authorization")
      requests.push({ method: request.method, path: url.pathname, authorization })
      const codeload = /^\/codeload\/([^/]+)\/([^/]+)\/legacy\.tar\.gz\/([0-9a-f]{40})$/.exec(url.pathname)
      if (codeload) {
        const [, owner, name, sha] = codeload as unknown as [string, string, string, string]
        const repo = options.repos[`${owner}/${name}`]
        if (!repo || (options.token && url.searchParams.get("token") !== `signed-${options.token}`)) return new Response("no", { status: 404 })
        const tar = Bun.spawnSync(["git", "-C", repo.path, "archive", "--format=tar.gz", `--prefix=${owner}-${name}-${sha.slice(0, 7)}/`, sha]).stdout
        return new Response(tar, { headers: { "content-type": "application/x-gzip", "content-length": String(tar.length) } })
      }
      const match = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/(commits|branches|tarball)\/(.+)$/.exec(url.pathname)
      if (!match) return json(404, { message: "Not Found" })
      const [, owner, name, kind, rawRef] = match as unknown as [string, string, string, string, string]
      const ref = decodeURIComponent(rawRef)
      const repo = options.repos[`${owner}/${name}`]
      const allowed = !options.token || authorization === `token ${options.token}` || authorization === `bearer ${options.token}`
      if (!repo || !allowed) return json(404, { message: "Not Found" })
      if (kind === "branches") {
        const sha = resolve(repo, `refs/heads/${ref}`)
        return sha ? json(200, { name: ref, commit: { sha } }) : json(404, { message: "Branch not found" })
      }
      const sha = resolve(repo, ref)
      if (!sha) return json(kind === "commits" ? 422 : 404, { message: `No commit found for SHA: ${ref}` })
      if (kind === "tarball") {
        const location = `${options.codeload?.() ?? url.origin}/codeload/${owner}/${name}/legacy.tar.gz/${sha}${options.token ? `?token=signed-${options.token}` : ""}`
        return new Response(null, { status: 302, headers: { location } })
      }
      if ((request.headers.get("accept") ?? "").includes("application/vnd.github.sha")) {
        return new Response(sha, { headers: { "content-type": "application/vnd.github.sha; charset=utf-8" } })
      }
      return json(200, { sha })
    },
  })
  const url = `http://127.0.0.1:${server.port}`
  return {
    url,
    api: `${url}/api/v3`,
    requests,
    async [Symbol.asyncDispose]() {
      server.stop(true)
    },
  }
}
