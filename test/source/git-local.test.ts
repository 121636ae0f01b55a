// A local Git work tree run with --version: the version is fetched into the cache and the user's checkout is never touched.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gitRepo, sh, type GitRepo } from "../lib/git.ts"
import { fetchError, fetchSource, home, leftovers, leftoversAfterCleanup } from "../lib/fetch.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

let repo: GitRepo
let work: TmpDir
let tree: string

/** Everything a user would notice changing in their checkout. */
const snapshot = () => ({
  head: sh(["git", "-C", tree, "rev-parse", "HEAD"]),
  branch: sh(["git", "-C", tree, "symbolic-ref", "HEAD"]),
  status: sh(["git", "-C", tree, "status", "--porcelain=v1", "--untracked-files=all"]),
  refs: sh(["git", "-C", tree, "for-each-ref"]),
  config: readFileSync(join(tree, ".git", "config"), "utf8"),
  counter: readFileSync(join(tree, "counter.txt"), "utf8"),
})

beforeAll(() => {
  repo = gitRepo({ commits: 50, branches: { feature: 30 }, tags: { "v0.1": 10 } })
  work = tmpdirFor("mlproject-worktree-")
  tree = join(work.path, "checkout")
  sh(["git", "clone", "-q", repo.path, tree])
  for (const branch of ["feature"]) sh(["git", "-C", tree, "branch", "-q", branch, `origin/${branch}`])
  // Uncommitted and untracked work that must survive.
  writeFileSync(join(tree, "counter.txt"), "my uncommitted edit\n")
  writeFileSync(join(tree, "notes.txt"), "untracked\n")
})

afterAll(async () => {
  await work[Symbol.asyncDispose]()
  await repo[Symbol.asyncDispose]()
})

describe("a local work tree with --version", () => {
  test.each([
    ["a tag", "v0.1", 10, undefined],
    ["a local branch", "feature", 30, "feature"],
    ["a full sha", "", 20, undefined],
    ["an abbreviated sha", "short", 21, undefined],
    ["a relative revision", "HEAD~5", 45, undefined],
  ])("%s: runs that version from the cache; the checkout is untouched", async (_label, raw, commit, branch) => {
    await using h = home()
    const version = raw === "" ? repo.commit(commit) : raw === "short" ? repo.commit(commit).slice(0, 9) : raw
    const before = snapshot()
    const { source, events } = await fetchSource(h, tree, { version })
    expect(snapshot()).toEqual(before)
    expect(source.kind).toBe("git")
    expect(source.git).toEqual({ commit: repo.commit(commit), repo_url: repo.path, ...(branch ? { branch } : {}) })
    expect(source.name).toBe(`file://${tree}`)
    expect(source.dir.startsWith(join(h.path, "projects", "runs"))).toBe(true)
    expect(readFileSync(join(source.dir, "counter.txt"), "utf8")).toBe(`${commit}\n`)
    expect(events.at(-1)).toMatchObject({ type: "fetch.done", commit: repo.commit(commit), cached: false })
    await source.cleanup()
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })

  test("a subfolder of the work tree, with #subdir", async () => {
    await using h = home()
    const { source } = await fetchSource(h, `${join(tree, "sub")}#dir`, { version: "v0.1" })
    expect(readFileSync(join(source.dir, "MLproject"), "utf8")).toContain("name: subdir")
    await source.cleanup()
  })

  test("a repository without a remote records no repo URL (as MLflow)", async () => {
    await using h = home()
    await using plain = tmpdirFor()
    const dir = join(plain.path, "solo")
    sh(["git", "clone", "-q", repo.path, dir])
    sh(["git", "-C", dir, "remote", "remove", "origin"])
    const { source } = await fetchSource(h, dir, { version: "HEAD~1" })
    expect(source.git).toEqual({ commit: repo.commit(49), repo_url: null })
    await source.cleanup()
  })

  test("an unknown version", async () => {
    await using h = home()
    const error = await fetchError(h, tree, { version: "nope" })
    expect(error.code).toBe("source.git.version")
    expect(error.message).toContain("Unable to checkout version 'nope' of git repo")
  })

  test("a folder outside Git: a version cannot be set", async () => {
    await using h = home()
    await using plain = tmpdirFor()
    plain.write("MLproject", "name: plain\n")
    const error = await fetchError(h, plain.path, { version: "main" })
    expect(error.code).toBe("source.version")
    expect(error.message).toContain("Setting a version is only supported for Git project URIs")
  })

  test("without --version the folder runs in place", async () => {
    await using h = home()
    const { source } = await fetchSource(h, tree)
    expect(source).toMatchObject({ kind: "local", dir: tree })
  })
})
