// The JSON contract of `run`: once run.created was emitted, run.finished is the last event, whatever failed; input errors record nothing.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { cli, type CliResult } from "../lib/cli.ts"
import { dockerSkipReason, skipDocker } from "../lib/docker.ts"
import { isolatedEnv, removeEnvHomes } from "../lib/env-project.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { readRun, runIds } from "../lib/mlruns.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

afterAll(removeEnvHomes)

const project = (dir: TmpDir, body: string) => dir.write("project/MLproject", `name: contract\n${body}`)
const simple = (command: string, parameters = "") => `entry_points:\n  main:\n${parameters}    command: ${JSON.stringify(command)}\n`

/** The contract for a run that existed and failed: error (with run_id) right before run.finished, which is last. */
const expectFailedRun = (result: CliResult, code: string) => {
  const created = result.events.find((e) => e.type === "run.created")
  expect(created).toBeDefined()
  const runId = created?.run_id
  const finished = result.events.at(-1)
  expect(finished).toMatchObject({ type: "run.finished", run_id: runId, status: "FAILED", exit_code: null, error_code: code, recorded: true, duration_ms: 0 })
  expect(result.events.at(-2)).toMatchObject({ type: "error", code, run_id: runId })
  expect(result.events.filter((e) => e.type === "run.finished")).toHaveLength(1)
  expect(result.code).toBe(1)
  return runId as string
}

const recordedStatus = (dir: TmpDir, runId: string) => readRun(join(dir.path, "mlruns"), "0", runId).meta.status

describe("run.finished is always the last event once the run exists", () => {
  test("the environment build fails (pip cannot install a dependency)", async () => {
    await using dir = tmpdirFor()
    project(dir, `python_env: python_env.yaml\n${simple("python -c 1")}`)
    dir.write("project/python_env.yaml", 'python: "3.11"\nbuild_dependencies: []\ndependencies:\n  - mlp_missing==9.9\n')
    const result = await cli(["run", "project", "--json"], { cwd: dir.path, env: isolatedEnv() })
    const runId = expectFailedRun(result, "env.build.failed")
    expect(recordedStatus(dir, runId)).toBe(4)
  }, 120_000)

  test("the launch fails (no bash to run the command)", async () => {
    await using dir = tmpdirFor()
    project(dir, simple("echo never"))
    const result = await cli(["run", "project", "--json"], { cwd: dir.path, env: { PATH: join(dir.path, "empty") } })
    const runId = expectFailedRun(result, "exec.not_found")
    expect(recordedStatus(dir, runId)).toBe(4)
  })

  test.skipIf(skipDocker)("the image pull fails (an unreachable registry)", async () => {
    if (skipDocker) return console.log(dockerSkipReason)
    await using dir = tmpdirFor()
    project(dir, `docker_env:\n  image: 127.0.0.1:9/mlproject-test/absent:1\n${simple("true")}`)
    const result = await cli(["run", "project", "--json"], { cwd: dir.path })
    const runId = expectFailedRun(result, result.events.at(-1)?.error_code as string)
    expect(String(result.events.at(-1)?.error_code)).toStartWith("docker.")
    expect(recordedStatus(dir, runId)).toBe(4)
  }, 60_000)

  test("a tracking server rejects the params (log-batch): the run is set FAILED there and its id reported", async () => {
    await using server = mlflowServer()
    server.fail({ endpoint: "runs/log-batch", status: 400, body: { error_code: "INVALID_PARAMETER_VALUE", message: "no params today" }, times: 10 })
    await using dir = tmpdirFor()
    project(dir, simple("echo never {a}", "    parameters:\n      a: {default: 1}\n"))
    const result = await cli(["run", "project", "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: server.url } })
    const created = result.events.find((e) => e.type === "run.created")
    const runId = created?.run_id as string
    expect(result.events.at(-1)).toMatchObject({ type: "run.finished", run_id: runId, status: "FAILED", recorded: true })
    expect(result.events.at(-2)).toMatchObject({ type: "error", run_id: runId })
    expect(result.events.some((e) => e.type === "log")).toBe(false)
    expect(server.runs.get(runId)?.info.status).toBe("FAILED")
    expect(result.code).toBe(1)
  })

  test("the final status cannot be written: a warning names the run, run.finished says recorded: false", async () => {
    await using server = mlflowServer()
    server.fail({ endpoint: "runs/update", status: 400, body: { error_code: "INVALID_STATE", message: "read-only today" }, times: 10 })
    await using dir = tmpdirFor()
    project(dir, simple("echo ran"))
    const result = await cli(["run", "project", "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: server.url } })
    const runId = result.events.find((e) => e.type === "run.created")?.run_id as string
    expect(result.events.at(-1)).toMatchObject({ type: "run.finished", run_id: runId, status: "FINISHED", exit_code: 0, recorded: false })
    const warning = result.events.at(-2) as Record<string, unknown>
    expect(warning).toMatchObject({ type: "warning", code: "run.status_not_recorded" })
    expect(String(warning.message)).toContain(runId)
    expect(result.code).toBe(1)
  })

  test("text mode shows the failure and the run id", async () => {
    await using dir = tmpdirFor()
    project(dir, simple("echo never"))
    const result = await cli(["run", "project"], { cwd: dir.path, env: { PATH: join(dir.path, "empty") } })
    expect(result.code).toBe(1)
    const runId = runIds(join(dir.path, "mlruns"), "0")[0] as string
    expect(result.stderr).toContain(`error: 'bash' was not found`)
    expect(result.stderr).toContain(`run ${runId} FAILED (exec.not_found, before its entry point ended)`)
  })
})

describe("duration_ms", () => {
  test("counts the entry point only: an environment build before it is not included", async () => {
    await using dir = tmpdirFor()
    project(dir, `python_env: python_env.yaml\n${simple("true")}`)
    dir.write("project/python_env.yaml", 'python: "3.11"\nbuild_dependencies: []\ndependencies:\n  - mlp_alpha\n')
    const result = await cli(["run", "project", "--json"], { cwd: dir.path, env: isolatedEnv() })
    expect(result.code).toBe(0)
    const created = Date.parse(String(result.events.find((e) => e.type === "run.created")?.time))
    const finished = result.events.at(-1) as Record<string, unknown>
    const whole = Date.parse(String(finished.time)) - created
    // The cold virtualenv takes a second or more; `true` takes milliseconds.
    expect(whole).toBeGreaterThan(500)
    expect(Number(finished.duration_ms)).toBeLessThan(whole / 2)
    const meta = readRun(join(dir.path, "mlruns"), "0", String(finished.run_id)).meta
    expect(Number(meta.end_time) - Number(meta.start_time)).toBeGreaterThan(Number(finished.duration_ms))
  }, 120_000)
})

describe("input errors record nothing", () => {
  const long = "x".repeat(6001)
  const cases: Array<[string, string, string[], string, number | null]> = [
    ["an over-long -P value", simple("echo {a}", "    parameters:\n      a: {default: 1}\n"), ["-P", `a=${long}`], "tracking.value.too_long", 5],
    ["an over-long default", simple("echo {a}", `    parameters:\n      a: {default: ${long}}\n`), [], "tracking.value.too_long", 5],
    ["a parameter name MLflow cannot store", simple("echo hi", "    parameters:\n      'bad*name': {default: 1}\n"), [], "tracking.key.invalid", 5],
    ["an extra -P parameter with a name MLflow cannot store", simple("echo hi"), ["-P", "what?=1"], "param.invalid_name", null],
    ["an over-long run name", simple("echo hi"), ["--run-name", "r".repeat(8001)], "tracking.value.too_long", null],
  ]
  test.each(cases)("%s: exit 2, located, no run and no new experiment", async (_, body, args, code, line) => {
    await using dir = tmpdirFor()
    project(dir, body)
    const result = await cli(["run", "project", "--experiment-name", "fresh", ...args, "--json"], { cwd: dir.path })
    expect(result.code).toBe(2)
    const error = result.events.at(-1) as Record<string, unknown>
    expect(error).toMatchObject({ type: "error", code })
    expect(error.run_id).toBeUndefined()
    if (line !== null) expect(error).toMatchObject({ file: join(dir.path, "project", "MLproject"), line })
    expect(result.events.some((e) => e.type === "run.created" || e.type === "experiment.created")).toBe(false)
    const mlruns = join(dir.path, "mlruns")
    const folders = existsSync(mlruns) ? readdirSync(mlruns).filter((name) => /^\d+$/.test(name)) : []
    expect(folders.every((id) => runIds(mlruns, id).length === 0)).toBe(true)
    expect(folders.filter((id) => id !== "0")).toEqual([])
  })
})

describe("--events targets", () => {
  const targets: Array<[string, (dir: TmpDir) => string]> = [
    ["a descriptor that is not open", () => "fd:9"],
    ["a full device", () => "/dev/full"],
    ["a folder", (dir) => dir.path],
    ["a file in a missing folder", (dir) => join(dir.path, "missing", "events.jsonl")],
    ["a malformed descriptor", () => "fd:x"],
  ]
  test.each(targets)("%s is a usage error (exit 2), nothing runs or is recorded", async (_, target) => {
    await using dir = tmpdirFor()
    project(dir, simple("touch ran"))
    const result = await cli(["run", "project", "--events", target(dir)], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.stderr).toStartWith("error: --events ")
    expect(result.stderr).not.toContain("internal error")
    expect(existsSync(join(dir.path, "project", "ran"))).toBe(false)
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  })
})
