// Git over smart HTTP (git http-backend behind Bun.serve): basic auth from the URL that never leaks, and an old server's refusals.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { chmodSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gitRepo, sh, type GitRepo } from "../lib/git.ts"
import { gitHttp } from "../lib/git-http.ts"
import { fetchError, fetchSource, filesContaining, home, leftovers, leftoversAfterCleanup } from "../lib/fetch.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const token = "ghp_Sup3rSecretT0ken_9f8e7d"
let repo: GitRepo

beforeAll(() => {
  repo = gitRepo({ commits: 300, branches: { feature: 250 } })
})

afterAll(async () => {
  await repo[Symbol.asyncDispose]()
})

const withToken = (base: string, secret = token) => base.replace("http://", `http://alice:${secret}@`)

/** A `git` on PATH that records its argv (one line per call) and runs the real git. */
const recordingGit = (dir: string) => {
  const log = join(dir, "argv.log")
  const realGit = sh(["sh", "-c", "command -v git"])
  writeFileSync(join(dir, "git"), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${realGit}' "$@"\n`)
  chmodSync(join(dir, "git"), 0o755)
  return { path: `${dir}:${process.env.PATH}`, log: () => readFileSync(log, "utf8") }
}

describe("a token in the URL", () => {
  test("is used for the fetch and appears nowhere: not in argv, events, names, errors or files", async () => {
    await using server = gitHttp(repo.base, { auth: { user: "alice", password: token } })
    await using h = home()
    await using bin = tmpdirFor("mlproject-bin-")
    const git = recordingGit(bin.path)
    const uri = `${withToken(server.url)}/repo.git#sub/dir`
    const { source, events } = await fetchSource(h, uri, { version: "feature", env: { PATH: git.path } })
    expect(source.git).toEqual({ commit: repo.commit(250), repo_url: `${server.url}/repo.git`, branch: "feature" })
    expect(source.name).toBe(`${server.url}/repo.git#sub/dir`)
    expect(server.requests.some((r) => r.authorized && r.path.endsWith("git-upload-pack"))).toBe(true)

    expect(git.log()).toContain("ls-remote")
    expect(git.log()).not.toContain(token)
    expect(git.log()).not.toContain(Buffer.from(`alice:${token}`).toString("base64"))
    expect(JSON.stringify(events)).not.toContain(token)
    expect(JSON.stringify(source)).not.toContain(token)
    expect(filesContaining(h.path, token)).toEqual([])
    await source.cleanup()
  })

  test("a wrong token is an auth error that does not quote it", async () => {
    await using server = gitHttp(repo.base, { auth: { user: "alice", password: token } })
    await using h = home()
    const wrong = "ghp_WrongT0kenValue_123"
    const error = await fetchError(h, `${withToken(server.url, wrong)}/repo.git`)
    expect(error).toMatchObject({ code: "source.git.auth", exitCode: 2 })
    for (const text of [error.message, error.hint ?? "", JSON.stringify(error.events)]) {
      expect(text).not.toContain(wrong)
      expect(text).not.toContain(token)
    }
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })

  test("a user name alone goes to git's credential helper (the user's own config), which supplies the password; never to argv", async () => {
    await using server = gitHttp(repo.base, { auth: { user: "alice", password: token } })
    await using h = home()
    await using bin = tmpdirFor("mlproject-bin-")
    const git = recordingGit(bin.path)
    // The helper answers only when git asks for alice: the name reached it through git's configuration.
    const helper = `!f() { grep -q '^username=alice$' && echo password=${token}; }; f`
    const env = { PATH: git.path, GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "credential.helper", GIT_CONFIG_VALUE_0: helper }
    const { source } = await fetchSource(h, `${server.url.replace("http://", "http://alice@")}/repo.git`, { version: "feature", env })
    expect(source.git?.commit).toBe(repo.commit(250))
    expect(source.name).toBe(`${server.url}/repo.git`)
    expect(git.log()).toContain(`${server.url}/repo.git`)
    expect(git.log()).not.toContain("alice@")
    expect(filesContaining(h.path, "alice@")).toEqual([])
    await source.cleanup()
  })

  test("no credentials for a private repository: auth error with a hint", async () => {
    await using server = gitHttp(repo.base, { auth: { user: "alice", password: token } })
    await using h = home()
    const error = await fetchError(h, `${server.url}/repo.git`)
    expect(error.code).toBe("source.git.auth")
    expect(error.hint).toContain("token")
  })
})

describe("a server that refuses fetching by sha (protocol v0, no allowReachableSHA1InWant)", () => {
  test("an old commit still arrives (full fetch fallback)", async () => {
    await using server = gitHttp(repo.base, { protocolV0: true })
    await using h = home()
    const { source } = await fetchSource(h, `${server.url}/repo.git`, { version: repo.commit(123) })
    expect(source.git?.commit).toBe(repo.commit(123))
    expect(readFileSync(join(source.dir, "counter.txt"), "utf8")).toBe("123\n")
    // The refused shallow attempt, then the full fetch.
    expect(server.requests.filter((r) => r.path.endsWith("/info/refs?service=git-upload-pack")).length).toBe(2)
    await source.cleanup()
  })

  test("a branch arrives shallow (its tip is advertised)", async () => {
    await using server = gitHttp(repo.base, { protocolV0: true })
    await using h = home()
    const { source } = await fetchSource(h, `${server.url}/repo.git`, { version: "feature" })
    expect(source.git?.commit).toBe(repo.commit(250))
    expect(sh(["git", "-C", source.dir, "rev-list", "--count", "HEAD"])).toBe("1")
    await source.cleanup()
  })

  test("an abbreviated sha", async () => {
    await using server = gitHttp(repo.base, { protocolV0: true })
    await using h = home()
    const { source } = await fetchSource(h, `${server.url}/repo.git`, { version: repo.commit(42).slice(0, 8) })
    expect(source.git?.commit).toBe(repo.commit(42))
    await source.cleanup()
  })
})
