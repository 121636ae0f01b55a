// mlproject sweep through the binary: a 3×3 grid under one parent, the best run named, interrupts, bad specs, --reuse.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { cli, requireBinary } from "../lib/cli.ts"
import { readRun, runIds } from "../lib/mlruns.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

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

// loss = (a - 2)^2 + (b - 0.2)^2: the best trial of the grid below is a=2, b=0.2.
const project = (dir: TmpDir, extra = "") =>
  dir.write(
    "project/MLproject",
    `name: sweepme\nentry_points:\n  main:\n    parameters:\n      a: {type: float, default: 0}\n      b: {type: float, default: 0}\n    command: "${extra}mlproject log metric loss $(awk 'BEGIN{{print ({a}-2)^2+({b}-0.2)^2}}')"\n  slow:\n    command: "echo ready; sleep {m}"\n    parameters:\n      m: {type: string}\n`,
  )

const envOf = (dir: TmpDir) => ({ MLPROJECT_HOME: join(dir.path, "home") })

const sweepRuns = (dir: TmpDir) => {
  const mlruns = join(dir.path, "mlruns")
  return runIds(mlruns, "0").map((id) => readRun(mlruns, "0", id))
}

describe("mlproject sweep", () => {
  test("a 3×3 grid with -j 3: nine children under one parent, the right params, the best run named", async () => {
    await using dir = tmpdirFor()
    project(dir)
    const result = await cli(["sweep", "project", "-P", "a=1,2,3", "-P", "b=0.1:0.3:0.1", "-j", "3", "--metric", "loss", "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(result.code, result.stderr).toBe(0)
    const finished = result.events.at(-1) as unknown as Record<string, unknown> & { trials: Array<Record<string, unknown>> }
    expect(finished).toMatchObject({ type: "sweep.finished", status: "FINISHED", metric: "loss", goal: "minimize" })
    const parentId = finished.parent_run_id as string
    const runs = sweepRuns(dir)
    const parent = runs.find((run) => run.meta.run_id === parentId)
    const children = runs.filter((run) => run.tags["mlflow.parentRunId"] === parentId)
    expect(runs).toHaveLength(10)
    expect(children).toHaveLength(9)
    expect(children.every((run) => run.meta.status === 3)).toBe(true)
    expect(children.map((run) => `${run.params.a} ${run.params.b}`).sort()).toEqual(["1 0.1", "1 0.2", "1 0.3", "2 0.1", "2 0.2", "2 0.3", "3 0.1", "3 0.2", "3 0.3"])
    const best = children.find((run) => run.params.a === "2" && run.params.b === "0.2")
    expect(finished.best_run_id).toBe(best?.meta.run_id as string)
    expect(finished.trials[0]).toMatchObject({ run_id: best?.meta.run_id, params: { a: "2", b: "0.2" }, status: "FINISHED", metric: 0 })
    expect(parent?.meta.status).toBe(3)
    expect(parent?.tags["mlproject.sweep.best_run_id"]).toBe(best?.meta.run_id as string)
    expect(parent?.tags["mlproject.sweep.best.a"]).toBe("2")
    // Never more than -j at once: each trial's record on this machine says when its entry point ran (the store's
    // start time is when the run was created, and a trial made ready ahead is created before its slot frees).
    const spans = children.map((run) => {
      const record = JSON.parse(readFileSync(join(dir.path, "home", "runs", run.meta.run_id as string, "record.json"), "utf8")) as { started: number; ended: number }
      return [record.started, record.ended] as const
    })
    for (const [start] of spans) expect(spans.filter(([s, e]) => s <= start && start < e).length).toBeLessThanOrEqual(3)
  }, 60_000)

  test("--random picks that many distinct trials, the same ones for the same seed; --maximize ranks the other way", async () => {
    await using dir = tmpdirFor()
    project(dir)
    const args = ["sweep", "project", "-P", "a=1,2,3", "-P", "b=0.1,0.2", "--random", "3", "--seed", "4", "-j", "3", "--metric", "loss", "--maximize", "--json"]
    const first = await cli(args, { cwd: dir.path, env: envOf(dir) })
    const second = await cli(args, { cwd: dir.path, env: envOf(dir) })
    const picked = (r: typeof first) => (r.events.at(-1) as unknown as { trials: Array<{ params: Record<string, string> }> }).trials.map((t) => `${t.params.a} ${t.params.b}`)
    expect(picked(first)).toHaveLength(3)
    expect(new Set(picked(first)).size).toBe(3)
    expect(picked(second).sort()).toEqual(picked(first).sort())
    const metrics = (first.events.at(-1) as unknown as { trials: Array<{ metric: number }> }).trials.map((t) => t.metric)
    expect(metrics).toEqual([...metrics].sort((x, y) => y - x))
  }, 60_000)

  test("an interrupted sweep cancels every running trial (KILLED), marks the parent KILLED, leaves no process", async () => {
    await using dir = tmpdirFor()
    project(dir)
    const marker = `71.${Math.floor(Math.random() * 1e6)}`
    const child = Bun.spawn([requireBinary(), "sweep", "project", "-e", "slow", "-P", `m=${marker},${marker}1,${marker}2,${marker}3`, "-j", "2", "--grace", "1", "--json"], {
      cwd: dir.path,
      env: { ...process.env, ...envOf(dir) },
      stdout: "pipe",
      stderr: "ignore",
    })
    for (let waited = 0; aliveWith(marker).length + aliveWith(`${marker}1`).length < 2; waited += 25) {
      if (waited > 15_000) throw new Error("the trials did not start")
      await Bun.sleep(25)
    }
    child.kill("SIGINT")
    expect(await child.exited).toBe(130)
    for (const m of [marker, `${marker}1`, `${marker}2`, `${marker}3`]) expect(aliveWith(m)).toEqual([])
    const runs = sweepRuns(dir)
    expect(runs.every((run) => run.meta.status !== 1 && run.meta.status !== 2)).toBe(true)
    const parent = runs.find((run) => run.tags["mlproject.sweep.trials"] !== undefined)
    expect(parent?.meta.status).toBe(5)
    // The trials that ran were stopped; none that had not started ever ran.
    expect(runs.filter((run) => run.tags["mlflow.parentRunId"]).every((run) => run.meta.status === 5)).toBe(true)
  }, 60_000)

  test("--fail-fast stops at the first failed trial: exit 1, the parent FAILED, no more trials start", async () => {
    await using dir = tmpdirFor()
    dir.write("project/MLproject", "name: ff\nentry_points:\n  main:\n    parameters:\n      x: {type: int}\n    command: \"[ {x} -ne 2 ] && sleep 0.2\"\n")
    const result = await cli(["sweep", "project", "-P", "x=1:8:1", "-j", "1", "--fail-fast", "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(result.code).toBe(1)
    const finished = result.events.at(-1) as unknown as { status: string; trials: Array<{ status: string; run_id: string | null }> }
    expect(finished.status).toBe("FAILED")
    expect(finished.trials.filter((t) => t.run_id !== null).length).toBeLessThanOrEqual(3)
  }, 60_000)

  test("--reuse skips the trials already done in the experiment", async () => {
    await using dir = tmpdirFor()
    project(dir)
    const sweep = (values: string) => cli(["sweep", "project", "-P", `a=${values}`, "-P", "b=0.1", "--metric", "loss", "--reuse", "--json"], { cwd: dir.path, env: envOf(dir) })
    const first = await sweep("1,2")
    expect(first.code).toBe(0)
    const again = await sweep("1,2,3")
    expect(again.code).toBe(0)
    const trials = again.events.filter((e) => e.type === "sweep.trial" && e.status !== "RUNNING")
    expect(trials.filter((e) => e.reused).map((e) => (e.params as Record<string, string>).a).sort()).toEqual(["1", "2"])
    expect(trials.filter((e) => !e.reused).map((e) => (e.params as Record<string, string>).a)).toEqual(["3"])
  }, 60_000)

  test.each([
    ["a zero step", ["-P", "a=0:1:0"], "the step must be above zero"],
    ["a negative step", ["-P", "a=0:1:-0.5"], "the step must be above zero"],
    ["no -P at all", [], "at least one -P"],
    ["a value the parameter's type refuses", ["-P", "a=1,x"], "a"],
    ["-j 0", ["-P", "a=1", "-j", "0"], "--jobs"],
  ])("%s: exit 2, nothing recorded", async (_, args, message) => {
    await using dir = tmpdirFor()
    project(dir)
    const result = await cli(["sweep", "project", ...args, "--json"], { cwd: dir.path, env: envOf(dir) })
    expect(result.code).toBe(2)
    expect(String(result.events.at(-1)?.message)).toContain(message)
    expect(existsSync(join(dir.path, "mlruns")) && runIds(join(dir.path, "mlruns"), "0").length > 0).toBe(false)
  })
})
