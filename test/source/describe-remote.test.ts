// `validate` and `describe` of Git projects: `-v/--version` picks the commit, and the output names the URI, not a deleted copy.
import { describe, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { cli } from "../lib/cli.ts"
import { gitDaemon } from "../lib/git-daemon.ts"
import { gitRepo, sh } from "../lib/git.ts"
import { tmpdirFor } from "../lib/tmp.ts"

describe("validate and describe take -v/--version for a Git URI", () => {
  test("over git://: each command reads the asked commit and names the URI and that commit", async () => {
    await using repo = gitRepo({ commits: 3, tags: { v1: 1 } })
    await using daemon = await gitDaemon(repo.base)
    const uri = `${daemon.url}/${repo.name}`

    const validated = await cli(["validate", uri, "-v", "v1", "--json"])
    expect(validated.code, validated.stdout).toBe(0)
    const event = validated.events.find((e) => e.type === "project.validated") as Record<string, unknown>
    expect(event).toMatchObject({ source: uri, commit: repo.commit(1), ok: true })
    // The folder it was read from was a temporary working copy, removed when the command ended.
    expect(existsSync(event.dir as string)).toBe(false)

    const described = await cli(["describe", uri, "--version", repo.commit(2), "--json"])
    expect(described.code, described.stdout).toBe(0)
    expect(described.events.find((e) => e.type === "project.described")).toMatchObject({ source: uri, commit: repo.commit(2), name: "deep" })
  })

  test("the text view names the URI and the commit, never the working copy", async () => {
    await using repo = gitRepo({ commits: 2, tags: { v1: 1 } })
    await using daemon = await gitDaemon(repo.base)
    const uri = `${daemon.url}/${repo.name}`
    const validated = await cli(["validate", uri, "-v", "v1"])
    expect(validated.code).toBe(0)
    expect(validated.stdout).toBe(`valid: ${uri} at ${repo.commit(1).slice(0, 12)} (0 errors, 0 warnings)\n`)
    const described = await cli(["describe", `${uri}#sub/dir`, "-v", "v1"])
    expect(described.code).toBe(0)
    const lines = described.stdout.split("\n")
    expect(lines.slice(0, 3)).toEqual(["name:        subdir", `source:      ${uri}#sub/dir at ${repo.commit(1)}`, "file:        MLproject"])
    expect(described.stdout).not.toContain("/projects/runs/")
  })

  test("a local Git work tree with -v is read at that commit from the cache; the work tree is untouched", async () => {
    await using dir = tmpdirFor()
    dir.write("work/MLproject", "name: first\nentry_points:\n  main:\n    command: 'true'\n")
    const work = `${dir.path}/work`
    sh(["git", "init", "-q", "--initial-branch=main", work])
    sh(["git", "-C", work, "add", "-A"])
    sh(["git", "-C", work, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "one"])
    sh(["git", "-C", work, "tag", "v1"])
    dir.write("work/MLproject", "name: second\nentry_points:\n  main:\n    command: 'true'\n")
    const described = await cli(["describe", "work", "-v", "v1", "--json"], { cwd: dir.path })
    expect(described.code, described.stdout).toBe(0)
    expect(described.events.find((e) => e.type === "project.described")).toMatchObject({ name: "first", commit: sh(["git", "-C", work, "rev-parse", "v1"]) })
    expect((await cli(["describe", "work", "--json"], { cwd: dir.path })).events.find((e) => e.type === "project.described")).toMatchObject({ name: "second", source: work })
  })

  test("a local folder keeps its folder as the source, and -v on a folder outside Git says why", async () => {
    await using dir = tmpdirFor()
    dir.write("p/MLproject", "name: plain\nentry_points:\n  main:\n    command: 'true'\n")
    const plain = await cli(["validate", "p", "--json"], { cwd: dir.path })
    expect(plain.events.find((e) => e.type === "project.validated")).toMatchObject({ source: `${dir.path}/p`, dir: `${dir.path}/p` })
    expect((plain.events.find((e) => e.type === "project.validated") as Record<string, unknown>).commit).toBeUndefined()
    const versioned = await cli(["validate", "p", "-v", "v1"], { cwd: dir.path })
    expect(versioned.code).toBe(2)
    expect(versioned.stderr).toContain("Setting a version is only supported for Git project URIs")
  })
})

describe("the files a fetched project's warnings and errors name", () => {
  test("are shown relative to the repository (MLproject:LINE:COL), never inside the removed working copy", async () => {
    await using dir = tmpdirFor()
    const repo = `${dir.path}/repo`
    dir.write("repo/sub/MLproject", "name: r\nentry_points:\n  main:\n    parameters:\n      a: {type: flaot, default: x}\n    command: echo {a}\n  bad:\n    command: echo {b!r}\n")
    sh(["git", "init", "-q", "--initial-branch=main", repo])
    sh(["git", "-C", repo, "add", "-A"])
    sh(["git", "-C", repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "one"])
    const uri = `file://${repo}#sub`
    const validated = await cli(["validate", uri, "-v", "main", "--json"])
    const event = validated.events.find((e) => e.type === "project.validated") as unknown as { diagnostics: Array<Record<string, unknown>> }
    expect(event.diagnostics.map((d) => d.file)).toEqual(["sub/MLproject", "sub/MLproject"])
    const described = await cli(["describe", uri, "-v", "main", "--json"])
    expect(described.events.filter((e) => e.type === "warning").map((e) => e.file)).toContain("sub/MLproject")
    const run = await cli(["run", uri, "-v", "main", "-e", "bad", "--json"], { cwd: dir.path })
    expect(run.code).toBe(2)
    expect(run.events.at(-1)).toMatchObject({ type: "error", file: "sub/MLproject", line: 8 })
    const text = await cli(["run", uri, "-v", "main", "-e", "bad"], { cwd: dir.path })
    const errorLine = text.stderr.split("\n").find((line) => line.startsWith("error: ")) ?? ""
    expect(errorLine).toStartWith("error: sub/MLproject:8:")
    expect(errorLine).not.toContain("/projects/runs/")
  })
})
