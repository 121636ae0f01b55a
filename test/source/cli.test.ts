// End to end with the compiled binary: runs from git:// and from a token-protected HTTP remote, tags recorded, token nowhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { binary, cli } from "../lib/cli.ts"
import { filesContaining } from "../lib/fetch.ts"
import { gitRepo, type GitRepo } from "../lib/git.ts"
import { gitDaemon, type GitDaemon } from "../lib/git-daemon.ts"
import { gitHttp } from "../lib/git-http.ts"
import { readRun, runIds } from "../lib/mlruns.ts"
import { tmpdirFor } from "../lib/tmp.ts"

let repo: GitRepo
let daemon: GitDaemon

beforeAll(async () => {
  repo = gitRepo({ commits: 2000, branches: { feature: 1500 } })
  daemon = await gitDaemon(repo.base)
})

afterAll(async () => {
  await daemon[Symbol.asyncDispose]()
  await repo[Symbol.asyncDispose]()
})

const finished = (events: Array<Record<string, unknown>>) => events.find((e) => e.type === "run.finished") as Record<string, unknown>

describe.skipIf(!existsSync(binary))("mlproject run of a Git project", () => {
  test("an old commit over git:// runs and is recorded with its commit, repo URL and source name", async () => {
    await using dir = tmpdirFor()
    const uri = `${daemon.url}/repo.git`
    const env = { MLPROJECT_HOME: join(dir.path, "home") }
    const run = await cli(["run", uri, "-v", repo.commit(1001), "--env-manager", "local", "--json"], { cwd: dir.path, env })
    expect(run.code, run.stderr).toBe(0)
    const done = finished(run.events)
    expect(done).toMatchObject({ status: "FINISHED" })
    expect(run.events.filter((e) => e.type === "log").map((e) => e.line)).toContain("1001")
    expect(run.events.find((e) => e.type === "fetch.done")).toMatchObject({ commit: repo.commit(1001), cached: false })
    const tags = readRun(join(dir.path, "mlruns"), "0", done.run_id as string).tags
    expect(tags["mlflow.source.git.commit"]).toBe(repo.commit(1001))
    expect(tags["mlflow.source.git.repoURL"]).toBe(uri)
    expect(tags["mlflow.source.name"]).toBe(uri)
    expect(tags["mlflow.source.git.branch"]).toBeUndefined()

    const again = await cli(["run", uri, "-v", "feature", "--env-manager", "local", "--json"], { cwd: dir.path, env })
    expect(again.code, again.stderr).toBe(0)
    const branchTags = readRun(join(dir.path, "mlruns"), "0", finished(again.events).run_id as string).tags
    expect(branchTags["mlflow.source.git.branch"]).toBe("feature")
    // Working copies are removed when the run ends.
    expect(existsSync(join(dir.path, "home", "projects", "runs")) ? Array.from(new Bun.Glob("*").scanSync(join(dir.path, "home", "projects", "runs"))) : []).toEqual([])
  })

  test("a token in the URL is in no output, no event and no file under mlruns or the cache", async () => {
    const token = "ghp_CliLevelSecret_5a5a5a"
    await using server = gitHttp(repo.base, { auth: { user: "bot", password: token } })
    await using dir = tmpdirFor()
    const uri = `${server.url.replace("http://", `http://bot:${token}@`)}/repo.git#sub/dir`
    const env = { MLPROJECT_HOME: join(dir.path, "home") }
    for (const args of [["--json"], []]) {
      const run = await cli(["run", uri, "-v", "feature", "--env-manager", "local", ...args], { cwd: dir.path, env })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).not.toContain(token)
      expect(run.stderr).not.toContain(token)
    }
    const runs = runIds(join(dir.path, "mlruns"), "0")
    expect(runs).toHaveLength(2)
    expect(readRun(join(dir.path, "mlruns"), "0", runs[0] as string).tags["mlflow.source.name"]).toBe(`${server.url}/repo.git#sub/dir`)
    expect(filesContaining(dir.path, token)).toEqual([])
    const wrong = await cli(["run", uri.replace(token, "ghp_wrongWrongWrong"), "--json"], { cwd: dir.path, env })
    expect(wrong.code).toBe(2)
    expect(wrong.stdout + wrong.stderr).not.toContain("ghp_wrongWrongWrong")
  })
})
