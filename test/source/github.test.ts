// GitHub without git: Octokit against a loopback GitHub Enterprise API that serves `git archive` tarballs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { gitRepo, type GitRepo } from "../lib/git.ts"
import { githubApi, type GithubApi } from "../lib/github-api.ts"
import { fetchError, fetchSource, filesContaining, home, leftovers, leftoversAfterCleanup } from "../lib/fetch.ts"

const token = "ghp_PrivateRepoT0ken_abc123"
let repo: GitRepo
let api: GithubApi
let noGit: Record<string, string | undefined>

beforeAll(() => {
  repo = gitRepo({ commits: 40, branches: { feature: 30 }, annotated: { "v1.0": 20 } })
  api = githubApi({ repos: { "acme/proj": repo }, token })
  // A node without git: PATH holds nothing, so the tarball path is the only one.
  noGit = { PATH: "/nonexistent", GITHUB_API_URL: api.api, GITHUB_SERVER_URL: api.url, GITHUB_TOKEN: token }
})

afterAll(async () => {
  await api[Symbol.asyncDispose]()
  await repo[Symbol.asyncDispose]()
})

const counter = (dir: string) => readFileSync(join(dir, "counter.txt"), "utf8").trim()

describe("GitHub tarballs when git is missing", () => {
  test.each([
    ["the default branch", undefined, 40, undefined],
    ["a branch", "feature", 30, "feature"],
    ["an annotated tag", "v1.0", 20, undefined],
    ["an abbreviated sha", "short", 12, undefined],
  ])("%s", async (_label, raw, commit, branch) => {
    await using h = home()
    const version = raw === "short" ? repo.commit(commit).slice(0, 8) : raw
    const uri = `${api.url}/acme/proj`
    const { source, events } = await fetchSource(h, uri, { version, env: noGit })
    expect(source.kind).toBe("github")
    expect(source.git).toEqual({ commit: repo.commit(commit), repo_url: uri, ...(branch ? { branch } : {}) })
    expect(counter(source.dir)).toBe(String(commit))
    expect(events[0]).toMatchObject({ type: "fetch.started", kind: "github" })
    expect(events.at(-1)).toMatchObject({ type: "fetch.done", commit: repo.commit(commit), cached: false })
    await source.cleanup()
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })

  test("a full sha: one tarball download, then no API call at all", async () => {
    await using h = home()
    const sha = repo.commit(25)
    const before = api.requests.length
    const first = await fetchSource(h, `${api.url}/acme/proj.git#sub/dir`, { version: sha, env: noGit })
    expect(readFileSync(join(first.source.dir, "MLproject"), "utf8")).toContain("name: subdir")
    await first.source.cleanup()
    expect(api.requests.slice(before).map((r) => r.path)).toEqual([`/api/v3/repos/acme/proj/tarball/${sha}`, `/codeload/acme/proj/legacy.tar.gz/${sha}`])
    const second = await fetchSource(h, `${api.url}/acme/proj.git#sub/dir`, { version: sha, env: noGit })
    expect(api.requests.length).toBe(before + 2)
    expect(second.events.at(-1)).toMatchObject({ cached: true })
    await second.source.cleanup()
  })

  test("the token goes to the API only, and appears in no event, name or file", async () => {
    await using h = home()
    const before = api.requests.length
    const { source, events } = await fetchSource(h, `${api.url}/acme/proj`, { version: "feature", env: noGit })
    const seen = api.requests.slice(before)
    expect(seen.filter((r) => r.path.startsWith("/api/")).every((r) => r.authorization === `token ${token}`)).toBe(true)
    // The signed download URL carries its own token; ours does not follow the redirect.
    expect(seen.filter((r) => r.path.startsWith("/codeload/")).map((r) => r.authorization)).toEqual([null])
    expect(JSON.stringify(events)).not.toContain(token)
    expect(filesContaining(h.path, token)).toEqual([])
    await source.cleanup()
  })

  test("a private repository without a token: not found, with a hint", async () => {
    await using h = home()
    const error = await fetchError(h, `${api.url}/acme/proj`, { env: { ...noGit, GITHUB_TOKEN: undefined } })
    expect(error).toMatchObject({ code: "source.github.not_found", exitCode: 2 })
    expect(error.hint).toContain("GITHUB_TOKEN")
  })

  test("an unknown version", async () => {
    await using h = home()
    const error = await fetchError(h, `${api.url}/acme/proj`, { version: "nope", env: noGit })
    expect(error.code).toBe("source.git.version")
    expect(error.message).toBe(`Unable to checkout version 'nope' of git repo ${api.url}/acme/proj - please ensure that the version exists in the repo`)
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })
})

describe("--fetcher", () => {
  test("tarball is used even when git is installed", async () => {
    await using h = home()
    const { source } = await fetchSource(h, `${api.url}/acme/proj`, { fetcher: "tarball", env: { ...noGit, PATH: process.env.PATH } })
    expect(source.kind).toBe("github")
    await source.cleanup()
  })

  test("tarball for a repository that is not on GitHub is refused", async () => {
    await using h = home()
    const error = await fetchError(h, "https://gitlab.example.com/acme/proj.git", { fetcher: "tarball" })
    expect(error).toMatchObject({ code: "source.fetcher", exitCode: 2 })
  })
})
