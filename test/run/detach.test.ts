// Runs that outlive the terminal: run --detach, status, logs, wait, cancel, a dead owner reconciled, --timeout, --retries.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { cli, requireBinary } from "../lib/cli.ts"
import { containersOfRun, dockerSkipReason, skipDocker, testImage } from "../lib/docker.ts"
import { sh } from "../lib/git.ts"
import { readRun } from "../lib/mlruns.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

/** Live (non-zombie) processes whose command line holds `marker`, read from /proc. */
const aliveWith = (marker: string): number[] =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
        if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false
        return readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(marker)
      } catch {
        return false
      }
    })
    .map(Number)

const project = (dir: TmpDir, entries: Record<string, string>, extra = "") =>
  dir.write(
    "project/MLproject",
    `name: detach\n${extra}entry_points:\n${Object.entries(entries).map(([name, command]) => `  ${name}:\n    command: ${JSON.stringify(command)}\n`).join("")}`,
  )

const record = (home: string, runId: string) => JSON.parse(readFileSync(join(home, "runs", runId, "record.json"), "utf8")) as Record<string, unknown>

const until = async (check: () => boolean, ms = 10_000) => {
  for (const started = Date.now(); !check(); ) {
    if (Date.now() - started > ms) throw new Error("timed out waiting")
    await Bun.sleep(25)
  }
}

const home = (dir: TmpDir) => join(dir.path, "home")
const envOf = (dir: TmpDir) => ({ MLPROJECT_HOME: home(dir) })

const detach = async (dir: TmpDir, args: string[] = []) => {
  const result = await cli(["run", "project", "--detach", "--json", ...args], { cwd: dir.path, env: envOf(dir) })
  expect(result.code, result.stderr).toBe(0)
  const detached = result.events.at(-1) as Record<string, unknown>
  expect(detached).toMatchObject({ type: "run.detached", experiment_id: "0" })
  return { runId: detached.run_id as string, pid: detached.pid as number, result }
}

const control = (dir: TmpDir, args: string[]) => cli([...args, "--json"], { cwd: dir.path, env: envOf(dir) })

describe("run --detach", () => {
  test("returns at once; status RUNNING; logs live; wait ends FINISHED; the store has the run", async () => {
    await using dir = tmpdirFor()
    const marker = `63.${Math.floor(Math.random() * 1e6)}`
    const gate = join(dir.path, "gate")
    project(dir, { main: `echo first; while [ ! -e ${gate} ]; do sleep 0.05; done; echo second; echo to-stderr >&2; true ${marker}` })
    const started = performance.now()
    const { runId, result } = await detach(dir)
    expect(performance.now() - started).toBeLessThan(5000)
    expect(result.events.some((e) => e.type === "run.finished")).toBe(false)

    const status = await control(dir, ["status", runId])
    expect(status.code).toBe(0)
    expect(status.events.at(-1)).toMatchObject({ type: "run.status", run_id: runId, status: "RUNNING", backend: "local", detached: true, end_time: null })

    await until(() => readFileSync(join(home(dir), "runs", runId, "output.log"), "utf8").includes("first"))
    const early = await control(dir, ["logs", runId])
    expect(early.events.filter((e) => e.type === "log").map((e) => e.line)).toEqual(["first"])

    const follow = cli(["logs", runId, "--follow", "--json"], { cwd: dir.path, env: envOf(dir) })
    Bun.write(gate, "")
    const followed = await follow
    expect(followed.code).toBe(0)
    expect(followed.events.filter((e) => e.type === "log").map((e) => e.line)).toEqual(["first", "second", "to-stderr"])

    const waited = await control(dir, ["wait", runId])
    expect(waited.code).toBe(0)
    expect(waited.events.at(-1)).toMatchObject({ type: "run.status", status: "FINISHED", exit_code: 0 })
    expect(readRun(join(dir.path, "mlruns"), "0", runId).meta.status).toBe(3)
    expect(record(home(dir), runId)).toMatchObject({ status: "FINISHED", exit_code: 0, detached: true })
  })

  test("what can fail early fails in the foreground: a failed environment build ends the run FAILED, no supervisor", async () => {
    await using dir = tmpdirFor()
    project(dir, { main: "true" }, "python_env: python_env.yaml\n")
    dir.write("project/python_env.yaml", 'python: "3.11"\nbuild_dependencies: []\ndependencies:\n  - mlp_missing==9.9\n')
    const result = await cli(["run", "project", "--detach", "--json"], {
      cwd: dir.path,
      env: { ...envOf(dir), PIP_CONFIG_FILE: "/dev/null", PIP_NO_INDEX: "1", PIP_FIND_LINKS: join(dir.path, "no-wheels") },
    })
    expect(result.code).toBe(1)
    expect(result.events.some((e) => e.type === "run.detached")).toBe(false)
    expect(result.events.at(-1)).toMatchObject({ type: "run.finished", status: "FAILED", error_code: "env.build.failed" })
  }, 120_000)

  test("cancel stops the whole tree (a setsid grandchild, one that ignores SIGTERM) within the grace period: KILLED", async () => {
    await using dir = tmpdirFor()
    const marker = `64.${Math.floor(Math.random() * 1e6)}`
    project(dir, { main: `setsid sleep ${marker} & (trap '' TERM; exec sleep ${marker}) & echo ready; sleep ${marker}` })
    const { runId } = await detach(dir, ["--grace", "1"])
    await until(() => aliveWith(marker).length === 3)
    const started = performance.now()
    const cancelled = await control(dir, ["cancel", runId])
    expect(cancelled.code).toBe(0)
    expect(performance.now() - started).toBeLessThan(4000)
    expect(cancelled.events.at(-1)).toMatchObject({ type: "run.status", run_id: runId, status: "KILLED" })
    expect(aliveWith(marker)).toEqual([])
    expect(readRun(join(dir.path, "mlruns"), "0", runId).meta.status).toBe(5)
  })

  test("a supervisor killed with SIGKILL is found out by status: FAILED with a tag saying why, its processes stopped", async () => {
    await using dir = tmpdirFor()
    const marker = `65.${Math.floor(Math.random() * 1e6)}`
    project(dir, { main: `sleep ${marker}` })
    const { runId, pid } = await detach(dir)
    await until(() => aliveWith(marker).length === 1)
    process.kill(pid, "SIGKILL")
    await until(() => {
      try {
        process.kill(pid, 0)
        return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true
      } catch {
        return true
      }
    })
    const status = await control(dir, ["status", runId])
    expect(status.events.at(-1)).toMatchObject({ type: "run.status", status: "FAILED" })
    expect(String((status.events.at(-1) as Record<string, unknown>).reason)).toContain("supervisor")
    expect(aliveWith(marker)).toEqual([])
    const run = readRun(join(dir.path, "mlruns"), "0", runId)
    expect(run.meta.status).toBe(4)
    expect(run.tags["mlproject.failure"]).toContain(`supervisor (pid ${pid}) died`)
  })

  test("a foreground run whose mlproject was SIGKILLed is reconciled by wait: FAILED, exit 1", async () => {
    await using dir = tmpdirFor()
    const marker = `66.${Math.floor(Math.random() * 1e6)}`
    project(dir, { main: `echo ready; sleep ${marker}` })
    const child = Bun.spawn([requireBinary(), "run", "project", "--json"], { cwd: dir.path, env: { ...process.env, ...envOf(dir) }, stdout: "pipe", stderr: "ignore" })
    await until(() => aliveWith(marker).length === 1)
    const runId = readdirSync(join(home(dir), "runs"))[0] as string
    child.kill("SIGKILL")
    await child.exited
    const waited = await control(dir, ["wait", runId])
    expect(waited.code).toBe(1)
    expect(waited.events.at(-1)).toMatchObject({ type: "run.status", status: "FAILED" })
    expect(aliveWith(marker)).toEqual([])
  })

  test("cache gc never removes the record of a live run; once it has ended, gc may", async () => {
    await using dir = tmpdirFor()
    project(dir, { main: "sleep 30" })
    const { runId } = await detach(dir)
    expect((await control(dir, ["cache", "gc", "--kind", "runs", "--max-size", "0"])).code).toBe(0)
    expect(existsSync(join(home(dir), "runs", runId, "record.json"))).toBe(true)
    expect((await control(dir, ["cancel", runId])).code).toBe(0)
    expect((await control(dir, ["cache", "gc", "--kind", "runs", "--max-size", "0"])).code).toBe(0)
    expect(existsSync(join(home(dir), "runs", runId))).toBe(false)
  })

  test("a fetched project's working copy lives as long as the supervisor, whatever later runs clean up; then it goes", async () => {
    await using dir = tmpdirFor()
    const gate = join(dir.path, "gate")
    const repo = join(dir.path, "repo")
    dir.write("repo/MLproject", `name: fetched\nentry_points:\n  main:\n    command: "while [ ! -e ${gate} ]; do sleep 0.05; done; cat data.txt"\n`)
    dir.write("repo/data.txt", "from the working copy\n")
    sh(["git", "init", "-q", "--initial-branch=main", repo])
    sh(["git", "-C", repo, "add", "-A"])
    sh(["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one"])
    const result = await cli(["run", `file://${repo}`, "-v", "main", "--detach", "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(result.code, result.stderr).toBe(0)
    const runId = (result.events.at(-1) as Record<string, unknown>).run_id as string
    const copies = join(home(dir), "projects", "runs")
    const copy = readdirSync(copies).find((name) => !name.endsWith(".leases")) as string
    expect(copy).toBeDefined()
    // Another run of the same project cleans up working copies of processes that are gone (the foreground is).
    expect((await cli(["run", `file://${repo}`, "-v", "main", "-P", "x=1", "--dry-run", "--json"], { cwd: dir.path, env: envOf(dir) })).code).toBe(0)
    expect(existsSync(join(copies, copy))).toBe(true)
    await Bun.write(gate, "")
    expect((await control(dir, ["wait", runId])).code).toBe(0)
    expect((await control(dir, ["logs", runId])).events.filter((e) => e.type === "log").map((e) => e.line)).toEqual(["from the working copy"])
    expect(existsSync(join(copies, copy))).toBe(false)
  })

  test("wait --timeout gives up with exit 124 and the run keeps going", async () => {
    await using dir = tmpdirFor()
    project(dir, { main: "sleep 30" })
    const { runId } = await detach(dir)
    const waited = await control(dir, ["wait", runId, "--timeout", "0.3"])
    expect(waited.code).toBe(124)
    expect(waited.events.at(-1)).toMatchObject({ type: "run.status", status: "RUNNING" })
    expect((await control(dir, ["cancel", runId])).code).toBe(0)
  })
})

describe("--timeout and --retries", () => {
  test("--timeout stops the run like an interrupt: FAILED, tag mlproject.timeout, exit 124", async () => {
    await using dir = tmpdirFor()
    const marker = `67.${Math.floor(Math.random() * 1e6)}`
    project(dir, { main: `sleep ${marker}` })
    const result = await cli(["run", "project", "--timeout", "500ms", "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(result.code).toBe(124)
    const finished = result.events.at(-1) as Record<string, unknown>
    expect(finished).toMatchObject({ type: "run.finished", status: "FAILED", timed_out: true })
    const run = readRun(join(dir.path, "mlruns"), "0", finished.run_id as string)
    expect(run.meta.status).toBe(4)
    expect(run.tags["mlproject.timeout"]).toBe("500ms")
    expect(aliveWith(marker)).toEqual([])
  })

  test("--retries starts a failed entry point again in the same run; the attempt count is a tag", async () => {
    await using dir = tmpdirFor()
    const counter = join(dir.path, "count")
    // Fails twice, then succeeds.
    project(dir, { main: `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; [ $n -ge 3 ]` })
    const result = await cli(["run", "project", "--retries", "5", "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(result.code).toBe(0)
    expect(result.events.filter((e) => e.type === "run.retrying").map((e) => e.attempt)).toEqual([2, 3])
    const finished = result.events.at(-1) as Record<string, unknown>
    expect(finished).toMatchObject({ status: "FINISHED", attempts: 3 })
    expect(readRun(join(dir.path, "mlruns"), "0", finished.run_id as string).tags["mlproject.attempts"]).toBe("3")
    const runs = readdirSync(join(dir.path, "mlruns", "0")).filter((name) => /^[0-9a-f]{32}$/.test(name))
    expect(runs).toHaveLength(1)
  })

  test("retries stop at N; a timeout is never retried", async () => {
    await using dir = tmpdirFor()
    project(dir, { fails: "exit 7", slow: "sleep 5" })
    const failing = await cli(["run", "project", "-e", "fails", "--retries", "2", "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(failing.code).toBe(1)
    expect(failing.events.at(-1)).toMatchObject({ status: "FAILED", exit_code: 7, attempts: 3 })
    const slow = await cli(["run", "project", "-e", "slow", "--retries", "2", "--timeout", "300ms", "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(slow.code).toBe(124)
    expect(slow.events.some((e) => e.type === "run.retrying")).toBe(false)
  })
})

describe("bad input to the control commands", () => {
  test.each([
    ["an unknown run id", ["status", "0".repeat(32)], "run.not_found"],
    ["a malformed run id", ["wait", "not-a-run"], "usage"],
    ["a malformed duration", ["wait", "0".repeat(32), "--timeout", "soon"], "usage"],
    ["no run id", ["cancel"], "usage"],
  ])("%s: exit 2, named", async (_, args, code) => {
    await using dir = tmpdirFor()
    const result = await control(dir, args as string[])
    expect(result.code).toBe(2)
    expect(result.events.at(-1)).toMatchObject({ type: "error", code })
  })

  test("a run this machine started in another store: the error names that store", async () => {
    await using dir = tmpdirFor()
    project(dir, { main: "true" })
    const run = await cli(["run", "project", "--json"], { cwd: dir.path, env: envOf(dir) })
    const runId = (run.events.at(-1) as Record<string, unknown>).run_id as string
    const other = await cli(["status", runId, "--tracking-uri", join(dir.path, "elsewhere"), "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(other.code).toBe(2)
    expect(other.events.at(-1)).toMatchObject({ type: "error", code: "run.other_store" })
    expect(String((other.events.at(-1) as Record<string, unknown>).message)).toContain(join(dir.path, "mlruns"))
  })

  test.each([["--timeout", "0"], ["--timeout", "forever"], ["--retries", "-1"], ["--retries", "two"]])("run %s %s is a usage error before anything is recorded", async (flag, value) => {
    await using dir = tmpdirFor()
    project(dir, { main: "true" })
    const result = await cli(["run", "project", flag, value, "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(result.code).toBe(2)
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  })
})

describe.skipIf(skipDocker)("a detached docker run", () => {
  if (skipDocker) test.skip(dockerSkipReason, () => {})
  test("runs in its container, shows its logs, and cancel removes the container (KILLED)", async () => {
    await using dir = tmpdirFor()
    project(dir, { main: "echo in-container; sleep 30" }, `docker_env:\n  image: ${await testImage()}\n`)
    const { runId } = await detach(dir)
    await until(() => readFileSync(join(home(dir), "runs", runId, "output.log"), "utf8").includes("in-container"), 30_000)
    expect((await control(dir, ["status", runId])).events.at(-1)).toMatchObject({ status: "RUNNING", backend: "docker" })
    expect(await containersOfRun(runId)).toHaveLength(1)
    const cancelled = await control(dir, ["cancel", runId])
    expect(cancelled.events.at(-1)).toMatchObject({ status: "KILLED" })
    expect(await containersOfRun(runId)).toEqual([])
  }, 60_000)
})
