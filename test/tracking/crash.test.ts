// SIGKILL at random moments of `run` and `log`: the store stays readable by MLflow at every moment, and later runs sweep the litter.
import { expect, test } from "bun:test"
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli, requireBinary } from "../lib/cli.ts"
import { experiments, storeProblems } from "../lib/mlruns.ts"
import { tmpdirFor } from "../lib/tmp.ts"
import { hostTag, ownerTag } from "../../src/util/owner.ts"

const killAfter = async (args: string[], env: Record<string, string>, delayMs: number): Promise<void> => {
  const child = Bun.spawn([requireBinary(), ...args], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "ignore", stdin: "ignore" })
  await Bun.sleep(delayMs)
  child.kill("SIGKILL")
  await child.exited
}

const timed = async (args: string[], env: Record<string, string>): Promise<number> => {
  const result = await cli(args, { env })
  expect(result.code, result.stderr).toBe(0)
  return result.ms
}

test("30 runs and 30 log commands killed at random moments leave a store MLflow reads; a later run and log leave no litter", async () => {
  await using dir = tmpdirFor("mlproject-crash-")
  const project = join(dir.path, "project")
  dir.write("project/MLproject", "name: crash\nentry_points:\n  main:\n    parameters:\n      a: {type: string, default: x}\n      b: {type: string, default: y}\n    command: \"true\"\n")
  const store = join(dir.path, "mlruns")
  const env = { MLFLOW_TRACKING_URI: `file://${store}` }

  // How long each command takes when left alone: the kills are spread over that window.
  const runMs = await timed(["run", project], env)
  const base = await cli(["run", project, "--json"], { env })
  const runId = String(base.events.find((e) => e.type === "run.created")?.run_id)
  const logEnv = { ...env, MLFLOW_RUN_ID: runId }
  const logMs = await timed(["log", "metric", "warm", "1"], logEnv)

  for (let i = 0; i < 30; i++) {
    // Every third run creates a new experiment, so experiment creation is killed too.
    const experiment = i % 3 === 0 ? ["--experiment-name", `crash-${i}`] : []
    await killAfter(["run", project, "-P", `a=${i}`, ...experiment], env, Math.random() * runMs * 1.2)
    expect(storeProblems(store, { allowTemps: true }), `after killing run ${i}`).toEqual([])
  }
  for (let i = 0; i < 30; i++) {
    const kind = ["metric", "param", "tag"][i % 3] as string
    // Half the metric points go to a new key: creating a metric file is a moment of its own.
    const metric = i % 2 === 0 ? `m${i}` : "loss"
    const args = kind === "metric" ? ["log", "metric", metric, String(i / 10), "--step", String(i)] : ["log", kind, `${kind}${i}`, `value ${i}`]
    await killAfter(args, logEnv, Math.random() * logMs * 1.2)
    expect(storeProblems(store, { allowTemps: true }), `after killing log ${i}`).toEqual([])
  }

  // A later run in each experiment, once the hourly sweep is due, and a later log into the run that was logged to.
  const stamps = join(process.env.MLPROJECT_HOME as string, "sweeps")
  const hourAgo = new Date(Date.now() - 2 * 3600_000)
  if (existsSync(stamps)) for (const name of readdirSync(stamps)) utimesSync(join(stamps, name), hourAgo, hourAgo)
  for (const { id } of experiments(store)) await timed(["run", project, "--experiment-id", id], env)
  await timed(["log", "metric", "after", "1"], logEnv)

  expect(storeProblems(store)).toEqual([])
  expect(readdirSync(store).filter((name) => name.startsWith(".mlproject-tmp-"))).toEqual([])
  const shown = await cli(["runs", "show", runId, "--json"], { env })
  expect(shown.code).toBe(0)
  expect(shown.events.at(-1)).toMatchObject({ type: "run.shown", run_id: runId })
}, 180_000)

test("leftovers of a dead process are removed by the next run and log; a live process's are kept", async () => {
  await using dir = tmpdirFor("mlproject-sweep-")
  dir.write("project/MLproject", "entry_points:\n  main:\n    command: \"true\"\n")
  const store = join(dir.path, "mlruns")
  const env = { MLFLOW_TRACKING_URI: `file://${store}` }
  const first = await cli(["run", join(dir.path, "project"), "--json"], { env })
  const runId = String(first.events.find((e) => e.type === "run.created")?.run_id)
  const dead = Bun.spawn(["true"])
  await dead.exited
  const deadTag = `${hostTag()}-${dead.pid}-1`
  const staged = join(store, `.mlproject-tmp-${deadTag}-0badf00d.trash`)
  mkdirSync(join(staged, "tags"), { recursive: true })
  writeFileSync(join(staged, "meta.yaml"), "half")
  const deadTemp = join(store, "0", runId, `.mlproject-tmp-${deadTag}-0badf00d`)
  writeFileSync(deadTemp, "half a tag")
  // This test process is alive: what it "is writing" must stay.
  const liveTemp = join(store, "0", runId, `.mlproject-tmp-${ownerTag()}-0badf00d`)
  writeFileSync(liveTemp, "being written")
  // Another host's temp cannot be judged by pid: it stays until it is a day old.
  const foreign = join(store, `.mlproject-tmp-${hostTag("elsewhere")}-1-1-0badf00d.trash`)
  mkdirSync(foreign)

  expect((await cli(["run", join(dir.path, "project")], { env })).code).toBe(0)
  expect(existsSync(staged)).toBe(false)
  expect(existsSync(foreign)).toBe(true)
  expect((await cli(["log", "tag", "t", "v"], { env: { ...env, MLFLOW_RUN_ID: runId } })).code).toBe(0)
  expect(existsSync(deadTemp)).toBe(false)
  expect(existsSync(liveTemp)).toBe(true)
  const dayAgo = new Date(Date.now() - 25 * 3600_000)
  utimesSync(foreign, dayAgo, dayAgo)
  expect((await cli(["run", join(dir.path, "project")], { env })).code).toBe(0)
  expect(existsSync(foreign)).toBe(false)
})
