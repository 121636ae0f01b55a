// examples/multistep end to end through dist/mlproject: main chains load -> etl -> train with `run --reuse`, and a
// second main reuses every step.
import { describe, expect, test } from "bun:test"
import { cpSync, existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { cli, type CliResult } from "../lib/cli.ts"
import { experiments, readRun, runIds, snapshotTree, storeProblems, type RawRun } from "../lib/mlruns.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const example = resolve(import.meta.dir, "..", "..", "examples", "multistep")
const python = Bun.which("python3")
if (!python) console.warn("note: python3 is not on PATH: the examples/multistep tests are skipped")

const steps = ["load", "etl", "train"] as const
type Step = (typeof steps)[number]

/** A copy of the example beside a store of its own (a space in the path: artifact URIs are percent-encoded). */
const workspace = (dir: TmpDir) => {
  const project = join(dir.path, "multi step")
  cpSync(example, project, { recursive: true })
  const mlruns = join(dir.path, "ml runs")
  const main = (...args: string[]) => cli(["run", project, "--json", ...args], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: mlruns } })
  return { project, mlruns, main }
}

const mainRunId = (run: CliResult): string => {
  const finished = run.events.find((e) => e.type === "run.finished")
  if (!finished) throw new Error(`no run.finished: ${run.stdout}\n${run.stderr}`)
  return finished.run_id as string
}

const lines = (run: CliResult, stream = "stdout"): string[] => run.events.filter((e) => e.type === "log" && e.stream === stream).map((e) => e.line as string)

/** The step runs a main run names in its tags step.load, step.etl, step.train. */
const stepsOf = (mlruns: string, mainRun: RawRun): Record<Step, RawRun> =>
  Object.fromEntries(steps.map((step) => [step, readRun(mlruns, "0", mainRun.tags[`step.${step}`] as string)])) as Record<Step, RawRun>

const artifact = (run: RawRun, name: string) => join(run.dir, "artifacts", name)

describe.skipIf(!python)("examples/multistep", () => {
  test("the first main runs load, etl and train, each handing its artifact to the next; the second reuses all three", async () => {
    await using dir = tmpdirFor()
    const { project, mlruns, main } = workspace(dir)
    const before = snapshotTree(project)

    const first = await main()
    expect(first.code).toBe(0)
    expect(first.events.at(-1)).toMatchObject({ type: "run.finished", status: "FINISHED", exit_code: 0 })
    expect(runIds(mlruns, "0")).toHaveLength(4)
    const firstMain = readRun(mlruns, "0", mainRunId(first))
    expect(firstMain.tags["mlflow.project.entryPoint"]).toBe("main")
    const made = stepsOf(mlruns, firstMain)
    for (const step of steps) {
      expect(made[step].meta.status).toBe(3) // FINISHED
      expect(made[step].tags["mlflow.project.entryPoint"]).toBe(step)
      expect(made[step].tags["mlproject.run_key"]).toMatch(/^[0-9a-f]{64}$/)
    }
    expect(new Set(runIds(mlruns, "0"))).toEqual(new Set([firstMain.meta.run_id as string, ...steps.map((s) => made[s].meta.run_id as string)]))

    // Each step's `data` is the previous step's artifact file, in the store.
    expect(made.load.params).toEqual({ rows: "100" })
    expect(readFileSync(artifact(made.load, "raw.csv"), "utf8").split("\n")).toHaveLength(102) // header, 100 rows, ""
    expect(made.etl.params).toEqual({ data: artifact(made.load, "raw.csv"), max_value: "100" })
    expect(made.etl.metrics["rows_out"]).toMatch(/^\d+ 95(\.0)? 0\n$/)
    expect(made.train.params).toEqual({ data: artifact(made.etl, "clean.csv"), alpha: "0.1", train_rows: "95" })
    expect(existsSync(artifact(made.train, "model.json"))).toBe(true)
    const rmse = Number((made.train.metrics["rmse"] as string).split(" ")[1])
    expect(rmse).toBeGreaterThan(0.2)
    expect(rmse).toBeLessThan(0.35)
    expect(Number((made.train.metrics["r2"] as string).split(" ")[1])).toBeGreaterThan(0.99)
    // The main run carries train's metrics.
    expect(firstMain.metrics["rmse"]?.split(" ")[1]).toBe((made.train.metrics["rmse"] as string).split(" ")[1])
    expect(lines(first)).toContain("[load] load: wrote 100 rows (5 outliers) to the artifact raw.csv")
    expect(lines(first)).toContain("0 of 3 steps reused")

    const second = await main()
    expect(second.code).toBe(0)
    expect(second.events.at(-1)).toMatchObject({ type: "run.finished", status: "FINISHED" })
    // Only the new main run was created; it names the first pass's step runs, each reused.
    expect(runIds(mlruns, "0")).toHaveLength(5)
    const secondMain = readRun(mlruns, "0", mainRunId(second))
    expect(secondMain.meta.run_id).not.toBe(firstMain.meta.run_id)
    for (const step of steps) expect(secondMain.tags[`step.${step}`]).toBe(firstMain.tags[`step.${step}`] as string)
    const summary = lines(second)
    for (const step of steps) expect(summary).toContainEqual(expect.stringMatching(new RegExp(`^  ${step} +${firstMain.tags[`step.${step}`]}  reused  `)))
    expect(summary).toContain("3 of 3 steps reused")
    expect(summary.filter((line) => line.startsWith("["))).toEqual([]) // no step program ran
    expect(secondMain.metrics["rmse"]?.split(" ")[1]).toBe((made.train.metrics["rmse"] as string).split(" ")[1])

    // Nothing was written into the project (that would change every key), and the store is one MLflow can read.
    expect(snapshotTree(project)).toEqual(before)
    expect(storeProblems(mlruns)).toEqual([])
  })

  test("-P alpha=0.2 runs only train; -P max_value=200 runs etl, whose output is unchanged, so train is reused", async () => {
    await using dir = tmpdirFor()
    const { mlruns, main } = workspace(dir)
    const first = await main()
    expect(first.code).toBe(0)
    const firstMain = readRun(mlruns, "0", mainRunId(first))

    const alpha = await main("-P", "alpha=0.2")
    expect(alpha.code).toBe(0)
    expect(runIds(mlruns, "0")).toHaveLength(6) // + main, + train
    const alphaMain = readRun(mlruns, "0", mainRunId(alpha))
    expect(alphaMain.tags["step.load"]).toBe(firstMain.tags["step.load"] as string)
    expect(alphaMain.tags["step.etl"]).toBe(firstMain.tags["step.etl"] as string)
    expect(alphaMain.tags["step.train"]).not.toBe(firstMain.tags["step.train"] as string)
    const train = stepsOf(mlruns, alphaMain).train
    expect(train.meta.status).toBe(3)
    expect(train.params).toMatchObject({ alpha: "0.2", data: artifact(stepsOf(mlruns, firstMain).etl, "clean.csv") })
    expect(lines(alpha)).toContain("2 of 3 steps reused")
    expect(lines(alpha).filter((line) => line.startsWith("[")).map((line) => line.split(" ")[0])).toEqual(["[train]"])

    // etl's key changes with max_value; train's key reads the content of clean.csv, which is the same bytes.
    const cap = await main("-P", "max_value=200")
    expect(cap.code).toBe(0)
    expect(runIds(mlruns, "0")).toHaveLength(8) // + main, + etl
    const capMain = readRun(mlruns, "0", mainRunId(cap))
    expect(capMain.tags["step.load"]).toBe(firstMain.tags["step.load"] as string)
    expect(capMain.tags["step.etl"]).not.toBe(firstMain.tags["step.etl"] as string)
    expect(capMain.tags["step.train"]).toBe(firstMain.tags["step.train"] as string)
    const capSteps = stepsOf(mlruns, capMain)
    expect(readFileSync(artifact(capSteps.etl, "clean.csv"), "utf8")).toBe(readFileSync(artifact(stepsOf(mlruns, firstMain).etl, "clean.csv"), "utf8"))
    expect(lines(cap)).toContain("2 of 3 steps reused")
    expect(storeProblems(mlruns)).toEqual([])
  })

  test("a failing step stops the workflow: the driver names it, tags its run, and main is FAILED", async () => {
    await using dir = tmpdirFor()
    const { mlruns, main } = workspace(dir)
    const run = await main("-P", "rows=1")
    expect(run.code).toBe(1)
    expect(run.events.at(-1)).toMatchObject({ type: "run.finished", status: "FAILED", exit_code: 1 })
    const mainRun = readRun(mlruns, "0", mainRunId(run))
    const load = readRun(mlruns, "0", mainRun.tags["step.load"] as string)
    expect(load.meta.status).toBe(4) // FAILED
    expect(mainRun.tags["step.etl"]).toBeUndefined()
    expect(runIds(mlruns, "0")).toHaveLength(2)
    expect(lines(run, "stderr")).toContain(`main: step 'load' failed: run ${load.meta.run_id} ended FAILED (exit code 1), mlproject exited 1`)
  })

  test("the steps are recorded in the main run's experiment, even with MLFLOW_EXPERIMENT_NAME set in the caller's shell", async () => {
    await using dir = tmpdirFor()
    const { project, mlruns } = workspace(dir)
    const run = await cli(["run", project, "--experiment-name", "workflow", "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: mlruns, MLFLOW_EXPERIMENT_NAME: "shell" } })
    expect(run.code).toBe(0)
    const created = run.events.find((e) => e.type === "run.created") as Record<string, unknown>
    const experiment = created.experiment_id as string
    expect(experiments(mlruns).find((e) => e.id === experiment)?.meta.name).toBe("workflow")
    expect(experiments(mlruns).map((e) => e.meta.name)).not.toContain("shell")
    expect(runIds(mlruns, experiment)).toHaveLength(4)
  })
})
