// End to end: `mlproject run` recording on a tracking server, and a bash entry point logging with `mlproject log`.
import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { binary, cli } from "../lib/cli.ts"
import { readRun } from "../lib/mlruns.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "5" }
// The entry point finds the same binary on its PATH.
const withBinary = { PATH: `${dirname(binary)}:${process.env.PATH}` }

const writeProject = (dir: TmpDir): string => {
  dir.write(
    "project/MLproject",
    [
      "name: bash-logger",
      "entry_points:",
      "  main:",
      "    parameters:",
      "      alpha: {type: float, default: 0.5}",
      "      label: {type: string, default: 'two words'}",
      "    command: bash train.sh {alpha}",
      "",
    ].join("\n"),
  )
  dir.write(
    "project/train.sh",
    [
      "set -euo pipefail",
      'for step in 1 2 3; do mlproject log metric loss "0.$step" --step "$step"; done',
      "mlproject log param inner_alpha \"$1\"",
      "mlproject log tag stage bash",
      "echo trained > model.txt",
      "mlproject log artifact model.txt --path model",
      'echo "logged to $MLFLOW_RUN_ID"',
      "",
    ].join("\n"),
  )
  return join(dir.path, "project")
}

const finished = (events: Array<Record<string, unknown>>) => events.find((e) => e.type === "run.finished") as Record<string, unknown>

describe("mlproject run with a bash entry point that logs", () => {
  test("records on a tracking server what the file store records, plus what the entry point logged", async () => {
    await using dir = tmpdirFor()
    await using server = mlflowServer()
    const project = writeProject(dir)

    const local = await cli(["run", project, "--json"], { cwd: dir.path, env: withBinary })
    expect(local.code).toBe(0)
    const localRun = readRun(join(dir.path, "mlruns"), "0", finished(local.events).run_id as string)

    const remote = await cli(["run", project, "--experiment-name", "bash", "--json"], { cwd: dir.path, env: { ...withBinary, ...fast, MLFLOW_TRACKING_URI: server.url } })
    expect(remote.code).toBe(0)
    const runId = finished(remote.events).run_id as string
    expect(finished(remote.events)).toMatchObject({ status: "FINISHED", tracking_uri: server.url })
    expect(remote.events.filter((e) => e.type === "log").map((e) => e.line)).toContain(`logged to ${runId}`)

    expect(server.runs.size).toBe(1)
    const run = server.runs.get(runId)
    expect(run?.info.status).toBe("FINISHED")
    expect(run?.info.end_time).toBeGreaterThanOrEqual(run?.info.start_time ?? Infinity)
    expect(server.experiments.get(run?.info.experiment_id ?? "")?.name).toBe("bash")
    // Same params and tags as the file store run (the run name is drawn at random for each; the run key differs
    // because the first run wrote model.txt into the project folder, which is content).
    const withoutName = (tags: Record<string, string>) => Object.fromEntries(Object.entries(tags).filter(([k]) => k !== "mlflow.runName" && k !== "mlproject.run_key"))
    expect(Object.fromEntries(run?.params ?? [])).toEqual(localRun.params)
    expect(withoutName(Object.fromEntries(run?.tags ?? []))).toEqual(withoutName(localRun.tags))
    expect(localRun.params).toEqual({ alpha: "0.5", label: "two words", inner_alpha: "0.5" })
    expect(localRun.tags.stage).toBe("bash")

    expect(run?.metrics.map((m) => [m.key, m.value, m.step])).toEqual([["loss", 0.1, 1], ["loss", 0.2, 2], ["loss", 0.3, 3]])
    expect(readFileSync(join(localRun.dir, "metrics", "loss"), "utf8").trim().split("\n").map((l) => l.split(" ").slice(1).join(" "))).toEqual(["0.1 1", "0.2 2", "0.3 3"])
    expect(server.artifacts.get(`${run?.info.experiment_id}/${runId}/artifacts/model/model.txt`)).toBe("trained\n")
    expect(readFileSync(join(localRun.dir, "artifacts", "model", "model.txt"), "utf8")).toBe("trained\n")
  })

  test("databricks://<profile>: the run is recorded in the workspace and the child gets MLflow's Databricks variables", async () => {
    await using dir = tmpdirFor()
    await using server = mlflowServer({ auth: "Bearer dapi-prof" })
    dir.write(".databrickscfg", `[prof]\nhost = ${server.url}\ntoken = dapi-prof\n`)
    const project = writeProject(dir)
    dir.write("project/train.sh", 'mlproject log metric loss 1 && echo "uri=$MLFLOW_TRACKING_URI host=$DATABRICKS_HOST token=${DATABRICKS_TOKEN:+set}"\n')
    const env = { ...withBinary, ...fast, HOME: dir.path, MLFLOW_TRACKING_URI: "databricks://prof", DATABRICKS_HOST: undefined, DATABRICKS_TOKEN: undefined }
    const result = await cli(["run", project, "--experiment-name", "/Users/ada/exp", "--json"], { cwd: dir.path, env })
    expect(result.code).toBe(0)
    expect(result.events.filter((e) => e.type === "log").map((e) => e.line)).toContain(`uri=databricks host=${server.url} token=set`)
    const run = [...server.runs.values()][0]
    expect(run?.info.status).toBe("FINISHED")
    expect(run?.metrics.map((m) => m.key)).toEqual(["loss"])
  })

  test("a run whose tracking server fails now and then is still recorded exactly once", async () => {
    await using dir = tmpdirFor()
    await using server = mlflowServer()
    const project = writeProject(dir)
    server.fail({ endpoint: "runs/create", when: "after", status: 502 })
    server.fail({ endpoint: "runs/log-metric", when: "after", status: 500, times: 2 })
    server.fail({ endpoint: "runs/update", status: 429, retryAfter: "0" })
    const result = await cli(["run", project, "--json"], { cwd: dir.path, env: { ...withBinary, ...fast, MLFLOW_TRACKING_URI: server.url } })
    expect(result.code).toBe(0)
    expect(server.runs.size).toBe(1)
    const run = [...server.runs.values()][0]
    expect(run?.info.status).toBe("FINISHED")
    expect(run?.metrics.length).toBe(3)
  })
})
