// Git sources over a real git daemon: versions, subdirs, submodules, the fetch cache and its working copies, refusals.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gitRepo, sh, type GitRepo } from "../lib/git.ts"
import { gitDaemon, type GitDaemon } from "../lib/git-daemon.ts"
import { fetchError, fetchSource, home, leftovers, leftoversAfterCleanup } from "../lib/fetch.ts"

let repo: GitRepo
let daemon: GitDaemon
let url: string

beforeAll(async () => {
  repo = gitRepo({ commits: 2000, branches: { feature: 1500 }, tags: { light: 700 }, annotated: { "v1.0": 1200 } })
  daemon = await gitDaemon(repo.base)
  url = `${daemon.url}/repo.git`
})

afterAll(async () => {
  await daemon[Symbol.asyncDispose]()
  await repo[Symbol.asyncDispose]()
})

const counter = (dir: string) => readFileSync(join(dir, "counter.txt"), "utf8").trim()

describe("git versions", () => {
  test("no version: the remote's default branch, no branch tag", async () => {
    await using h = home()
    const { source, events } = await fetchSource(h, url)
    expect(source.kind).toBe("git")
    expect(source.git).toEqual({ commit: repo.head, repo_url: url })
    expect(source.name).toBe(url)
    expect(counter(source.dir)).toBe("2000")
    expect(readFileSync(join(source.dir, "MLproject"), "utf8")).toContain("name: deep")
    expect(events[0]).toEqual({ type: "fetch.started", source: url, kind: "git" })
    expect(events.at(-1)).toMatchObject({ type: "fetch.done", source: url, commit: repo.head, cached: false })
    // The working copy is a real checkout at that commit, as MLflow's is.
    expect(sh(["git", "-C", source.dir, "rev-parse", "HEAD"])).toBe(repo.head)
    expect(sh(["git", "-C", source.dir, "rev-parse", "--is-shallow-repository"])).toBe("true")
    await source.cleanup()
  })

  test.each([
    ["a branch", "feature", 1500, "feature"],
    ["a lightweight tag", "light", 700, undefined],
    ["an annotated tag (peeled to its commit)", "v1.0", 1200, undefined],
  ])("%s", async (_label, version, commit, branch) => {
    await using h = home()
    const { source } = await fetchSource(h, url, { version })
    expect(source.git).toEqual({ commit: repo.commit(commit), repo_url: url, ...(branch ? { branch } : {}) })
    expect(counter(source.dir)).toBe(String(commit))
    await source.cleanup()
  })

  test("a full sha of an old commit, fetched shallow", async () => {
    await using h = home()
    const { source } = await fetchSource(h, url, { version: repo.commit(1001) })
    expect(source.git?.commit).toBe(repo.commit(1001))
    expect(counter(source.dir)).toBe("1001")
    expect(sh(["git", "-C", source.dir, "rev-list", "--count", "HEAD"])).toBe("1")
    await source.cleanup()
  })

  test("an abbreviated sha", async () => {
    await using h = home()
    const { source } = await fetchSource(h, url, { version: repo.commit(333).slice(0, 10) })
    expect(source.git?.commit).toBe(repo.commit(333))
    expect(counter(source.dir)).toBe("333")
    await source.cleanup()
  })

  test("an unknown version fails with MLflow's wording (exit 2)", async () => {
    await using h = home()
    const error = await fetchError(h, url, { version: "no-such-branch" })
    expect(error.code).toBe("source.git.version")
    expect(error.exitCode).toBe(2)
    expect(error.message).toBe(`Unable to checkout version 'no-such-branch' of git repo ${url} - please ensure that the version exists in the repo`)
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })
})

describe("#subdir", () => {
  test.each([
    ["sub/dir", "subdir"],
    ["v1.2", "dotted"],
    ["./sub//dir/", "subdir"],
  ])("#%s", async (subdir, name) => {
    await using h = home()
    const { source } = await fetchSource(h, `${url}#${subdir}`, { version: "feature" })
    expect(readFileSync(join(source.dir, "MLproject"), "utf8")).toContain(`name: ${name}`)
    expect(source.name).toBe(`${url}#${subdir}`)
    await source.cleanup()
  })

  test("a subdir that climbs out is refused before any network call", async () => {
    await using h = home()
    const before = await daemon.requests()
    const error = await fetchError(h, `${url}#sub/../../etc`)
    expect(error.code).toBe("source.subdir")
    expect(await daemon.requests()).toBe(before)
  })

  test("a missing subdir is reported and nothing is left", async () => {
    await using h = home()
    const error = await fetchError(h, `${url}#nope`, { version: "feature" })
    expect(error.message).toBe(`Could not find subdirectory nope of ${url}#nope`)
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })
})

describe("the fetch cache", () => {
  test("a second run of a full sha makes no network call; a branch makes one ls-remote", async () => {
    await using h = home()
    const sha = repo.commit(1234)
    const first = await fetchSource(h, url, { version: sha })
    await first.source.cleanup()
    const before = await daemon.requests()
    const second = await fetchSource(h, url, { version: sha })
    expect(await daemon.requests()).toBe(before)
    expect(second.events.at(-1)).toMatchObject({ type: "fetch.done", commit: sha, cached: true })
    expect(counter(second.source.dir)).toBe("1234")
    await second.source.cleanup()

    const branch = await fetchSource(h, url, { version: "feature" })
    await branch.source.cleanup()
    const afterBranch = await daemon.requests()
    const again = await fetchSource(h, url, { version: "feature" })
    expect(await daemon.requests()).toBe(afterBranch + 1)
    expect(again.events.at(-1)).toMatchObject({ cached: true })
    await again.source.cleanup()
  })

  test("each run gets its own working copy; cleanup removes it and the cache stays as fetched", async () => {
    await using h = home()
    const a = await fetchSource(h, url, { version: "light" })
    const b = await fetchSource(h, url, { version: "light" })
    expect(a.source.dir).not.toBe(b.source.dir)
    writeFileSync(join(a.source.dir, "counter.txt"), "changed by the run\n")
    writeFileSync(join(a.source.dir, "output.bin"), "x")
    expect(counter(b.source.dir)).toBe("700")
    await a.source.cleanup()
    await b.source.cleanup()
    expect(existsSync(a.source.dir)).toBe(false)
    expect(existsSync(b.source.dir)).toBe(false)
    const c = await fetchSource(h, url, { version: "light" })
    expect(counter(c.source.dir)).toBe("700")
    expect(existsSync(join(c.source.dir, "output.bin"))).toBe(false)
    await c.source.cleanup()
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })

  test("the tree is written once: the cache keeps the commit's objects only, the run's folder is a clean checkout of it", async () => {
    await using h = home()
    const sha = repo.commit(900)
    const { source } = await fetchSource(h, url, { version: sha })
    const projects = join(h.path, "projects")
    // One copy of the project's files on disk: the run's own. A checkout in the cache copied to the run would be two.
    const copies = (readdirSync(projects, { recursive: true }) as string[]).filter((p) => p.split("/").at(-1) === "counter.txt")
    expect(copies.map((p) => join(projects, p))).toEqual([join(source.dir, "counter.txt")])
    const [repoDir] = readdirSync(join(projects, "git"))
    expect(readdirSync(join(projects, "git", repoDir as string, sha)).sort()).toEqual(["git", "meta.json"])
    expect(sh(["git", "-C", source.dir, "rev-parse", "HEAD"])).toBe(sha)
    expect(sh(["git", "-C", source.dir, "status", "--porcelain", "--ignored", "--untracked-files=all"])).toBe("")
    expect(sh(["git", "-C", source.dir, "config", "remote.origin.url"])).toBe(url)
    expect(counter(source.dir)).toBe("900")
    await source.cleanup()
  })

  test("a cached commit with no pooled copy is checked out from the cache, offline, into a folder of its own", async () => {
    await using h = home()
    const sha = repo.commit(901)
    const first = await fetchSource(h, url, { version: sha })
    const before = await daemon.requests()
    // The first run still holds its folder, so the pool has nothing to hand out.
    const second = await fetchSource(h, url, { version: sha })
    expect(await daemon.requests()).toBe(before)
    expect(second.events.at(-1)).toMatchObject({ type: "fetch.done", commit: sha, cached: true })
    expect(second.events.some((e) => e.type === "fetch.progress" && e.phase === "checking out")).toBe(true)
    expect(statSync(join(second.source.dir, "counter.txt")).ino).not.toBe(statSync(join(first.source.dir, "counter.txt")).ino)
    expect(sh(["git", "-C", second.source.dir, "status", "--porcelain", "--ignored", "--untracked-files=all"])).toBe("")
    expect(sh(["git", "-C", second.source.dir, "rev-parse", "--is-shallow-repository"])).toBe("true")
    expect(counter(second.source.dir)).toBe("901")
    await first.source.cleanup()
    await second.source.cleanup()
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })

  test("each run's HEAD follows its own version: a branch is checked out, the same commit by sha is detached", async () => {
    await using h = home()
    const onBranch = await fetchSource(h, url, { version: "feature" })
    expect(sh(["git", "-C", onBranch.source.dir, "symbolic-ref", "HEAD"])).toBe("refs/heads/feature")
    await onBranch.source.cleanup()
    const bySha = await fetchSource(h, url, { version: repo.commit(1500) })
    expect(bySha.events.at(-1)).toMatchObject({ cached: true })
    expect(sh(["git", "-C", bySha.source.dir, "rev-parse", "--abbrev-ref", "HEAD"])).toBe("HEAD")
    expect(sh(["git", "-C", bySha.source.dir, "rev-parse", "HEAD"])).toBe(repo.commit(1500))
    await bySha.source.cleanup()
  })

  test("concurrent runs of one commit fetch it once", async () => {
    await using h = home()
    const sha = repo.commit(1717)
    const before = await daemon.requests()
    const children = Array.from({ length: 3 }, () =>
      Bun.spawn([process.execPath, join(import.meta.dir, "fetch-once.ts"), url, sha], { env: h.env as Record<string, string>, stdout: "pipe", stderr: "pipe" }),
    )
    const results = await Promise.all(children.map(async (child) => ({ code: await child.exited, out: await new Response(child.stdout).text(), err: await new Response(child.stderr).text() })))
    for (const result of results) expect(result).toMatchObject({ code: 0 })
    const done = results.map((r) => (JSON.parse(r.out).events as Array<{ type: string; cached?: boolean }>).find((e) => e.type === "fetch.done"))
    expect(done.filter((e) => e?.cached === false)).toHaveLength(1)
    expect(await daemon.requests()).toBe(before + 1)
    expect(readdirSync(join(h.path, "projects", "git")).length).toBe(1)
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })
})

describe("submodules", () => {
  test("are checked out recursively at their pinned commits", async () => {
    await using h = home()
    await using sub = gitRepo({ commits: 5, base: repo.base, name: "sub.git", files: { "lib/helper.py": "VALUE = 1\n" } })
    await using top = gitRepo({ commits: 3, base: repo.base, name: "top.git", submodules: { "vendor/sub": { url: "../sub.git", commit: sub.commit(3) } } })
    const { source } = await fetchSource(h, `${daemon.url}/top.git`)
    expect(readFileSync(join(source.dir, "vendor/sub/lib/helper.py"), "utf8")).toBe("VALUE = 1\n")
    expect(counter(join(source.dir, "vendor/sub"))).toBe("3")
    await source.cleanup()
  })

  test("a remote repository may not pull a file:// submodule from this machine", async () => {
    await using h = home()
    await using sub = gitRepo({ commits: 2, base: repo.base, name: "local-only.git" })
    await using top = gitRepo({ commits: 1, base: repo.base, name: "sneaky.git", submodules: { leak: { url: `file://${sub.path}`, commit: sub.head } } })
    const error = await fetchError(h, `${daemon.url}/sneaky.git`)
    expect(error.code).toBe("source.git.protocol")
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })
})

describe("refusals and failures", () => {
  test.each([
    ["-uhoh", "source.uri.refused"],
    ["--upload-pack=touch /tmp/mlproject-pwned", "source.uri.refused"],
    ["ext::sh -c touch% /tmp/mlproject-pwned", "source.uri.refused"],
    ["fd::3", "source.uri.refused"],
    ["s3://bucket/project", "source.unsupported"],
  ])("%s", async (uri, code) => {
    await using h = home()
    const error = await fetchError(h, uri)
    expect<string>(error.code).toBe(code)
    expect(error.exitCode).toBe(2)
    expect(existsSync("/tmp/mlproject-pwned")).toBe(false)
  })

  test("a repository that does not exist", async () => {
    await using h = home()
    const error = await fetchError(h, `${daemon.url}/missing.git`)
    expect(error).toMatchObject({ code: "source.git.not_found", exitCode: 2 })
  })

  test("an unreachable host exits 1", async () => {
    await using h = home()
    const error = await fetchError(h, "git://127.0.0.1:1/repo.git")
    expect(error).toMatchObject({ code: "source.git.unreachable", exitCode: 1 })
  })

  test("git missing for a non-GitHub URL", async () => {
    await using h = home()
    const error = await fetchError(h, url, { env: { PATH: "/nonexistent" } })
    expect(error).toMatchObject({ code: "source.git.missing", exitCode: 2 })
  })

  test("a bare repository on this machine is fetched, not run in place", async () => {
    await using h = home()
    for (const uri of [repo.path, `file://${repo.path}`]) {
      const { source } = await fetchSource(h, `${uri}#sub/dir`, { version: "feature" })
      expect(source.git?.commit).toBe(repo.commit(1500))
      expect(source.dir.startsWith(join(h.path, "projects", "runs"))).toBe(true)
      await source.cleanup()
    }
  })
})
