// The file store writes MLflow's mlruns layout and reads it back: experiments, runs, params, tags, metrics.
import { describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { isToolError, type ToolError } from "../../src/errors.ts"
import { createFileStore } from "../../src/tracking/file-store.ts"
import type { Store } from "../../src/tracking/types.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const rejection = async (promise: Promise<unknown>): Promise<ToolError> => {
  try {
    await promise
  } catch (error) {
    if (isToolError(error)) return error
    throw error
  }
  throw new Error("expected a ToolError")
}

/** Every file and folder under `dir`, relative, sorted. */
const tree = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).sort()

const newRun = async (store: Store, experiment_id = "0", tags = [{ key: "mlflow.user", value: "ada" }]) =>
  store.createRun({ experiment_id, user_id: "ada", start_time: 1721829011136, run_name: "brave-fox-7", tags })

describe("a new store", () => {
  test("gets .trash and experiment 0 'Default' on first use, with an absolute file artifact location", async () => {
    await using dir = tmpdirFor()
    const root = join(dir.path, "ml runs")
    const store = createFileStore(root)
    const experiment = await store.getExperiment("0")
    expect(experiment).toMatchObject({ experiment_id: "0", name: "Default", lifecycle_stage: "active", tags: {} })
    expect(experiment?.artifact_location).toBe(`file://${dir.path}/ml%20runs/0`)
    expect(tree(root)).toEqual([".trash", "0", "0/meta.yaml"])
    const text = readFileSync(join(root, "0", "meta.yaml"), "utf8")
    expect(text.replace(/\d{13}/g, "<ms>")).toBe(
      `artifact_location: file://${dir.path}/ml%20runs/0\ncreation_time: <ms>\nexperiment_id: '0'\nlast_update_time: <ms>\nlifecycle_stage: active\nname: Default\n`,
    )
  })

  test("an existing empty folder (mkdir mlruns) is treated as new", async () => {
    await using dir = tmpdirFor()
    dir.write("mlruns/.gitkeep", "")
    expect(await createFileStore(join(dir.path, "mlruns")).getExperiment("0")).not.toBeNull()
  })

  test("reading a store that has experiments but no 0 writes nothing", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(join(dir.path, "mlruns"))
    const { experiment_id } = await store.getOrCreateExperiment("only")
    const other = join(dir.path, "copy")
    mkdirSync(join(other, experiment_id), { recursive: true })
    writeFileSync(join(other, experiment_id, "meta.yaml"), readFileSync(join(dir.path, "mlruns", experiment_id, "meta.yaml")))
    const reader = createFileStore(other)
    expect(await reader.getExperiment("0")).toBeNull()
    expect(await reader.getExperimentByName("only")).toMatchObject({ experiment_id })
    expect(tree(other)).toEqual([experiment_id, `${experiment_id}/meta.yaml`])
  })
})

describe("experiments", () => {
  test("getOrCreateExperiment makes an 18-digit id once, then finds it", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const first = await store.getOrCreateExperiment("yes")
    expect(first.created).toBe(true)
    expect(first.experiment_id).toMatch(/^[1-9]\d{17}$/)
    expect(await store.getOrCreateExperiment("yes")).toEqual({ experiment_id: first.experiment_id, created: false })
    const text = readFileSync(join(dir.path, first.experiment_id, "meta.yaml"), "utf8")
    expect(text).toContain(`experiment_id: '${first.experiment_id}'\n`)
    expect(text).toContain("name: 'yes'\n") // a YAML 1.1 boolean word stays a string
    expect(await store.getExperimentByName("no such")).toBeNull()
  })

  test("a name that only exists in .trash is refused, as MLflow refuses it", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { experiment_id } = await store.getOrCreateExperiment("old")
    mkdirSync(join(dir.path, ".trash"), { recursive: true })
    Bun.spawnSync(["mv", join(dir.path, experiment_id), join(dir.path, ".trash", experiment_id)])
    expect(await store.getExperimentByName("old")).toBeNull()
    expect(await store.getExperiment(experiment_id)).toMatchObject({ lifecycle_stage: "deleted" })
    const error = await rejection(store.getOrCreateExperiment("old"))
    expect(error.message).toContain("Experiment 'old' already exists in deleted state")
    expect((await rejection(newRun(store, experiment_id))).message).toBe(`Could not create run under non-active experiment with ID ${experiment_id}.`)
  })

  test("unknown and malformed ids", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    expect(await store.getExperiment("123")).toBeNull()
    expect((await rejection(store.getExperiment("../etc"))).code).toBe("tracking.experiment.invalid_id")
    const error = await rejection(newRun(store, "123"))
    expect(error).toMatchObject({ code: "tracking.experiment.not_found", exitCode: 2 })
    expect(error.message).toBe("Could not create run under experiment with ID 123 - no such experiment exists.")
  })
})

describe("runs", () => {
  test("createRun writes MLflow 2.x's meta.yaml, the tags, and empty metrics/params/artifacts", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const info = await newRun(store)
    expect(info).toMatchObject({ experiment_id: "0", run_name: "brave-fox-7", status: "RUNNING", end_time: null, lifecycle_stage: "active" })
    const runDir = join(dir.path, "0", info.run_id)
    expect(tree(runDir)).toEqual(["artifacts", "meta.yaml", "metrics", "params", "tags", "tags/mlflow.runName", "tags/mlflow.user"])
    expect(readFileSync(join(runDir, "meta.yaml"), "utf8")).toBe(
      [
        `artifact_uri: file://${dir.path}/0/${info.run_id}/artifacts`,
        "end_time: null",
        "entry_point_name: ''",
        "experiment_id: '0'",
        "lifecycle_stage: active",
        `run_id: ${info.run_id}`,
        "run_name: brave-fox-7",
        `run_uuid: ${info.run_id}`,
        "source_name: ''",
        "source_type: 4",
        "source_version: ''",
        "start_time: 1721829011136",
        "status: 1",
        "tags: []",
        "user_id: ada",
        "",
      ].join("\n"),
    )
    expect(readFileSync(join(runDir, "tags", "mlflow.runName"), "utf8")).toBe("brave-fox-7")
  })

  test("a run_name that disagrees with the mlflow.runName tag is refused", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const error = await rejection(newRun(store, "0", [{ key: "mlflow.runName", value: "other" }]))
    expect(error.message).toContain("Both 'run_name' argument and 'mlflow.runName' tag are specified")
  })

  test("logBatch appends each key's metrics in order, making metrics/ and sub-folders that are missing", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { run_id } = await newRun(store)
    const runDir = join(dir.path, "0", run_id)
    // Runs other tools wrote may have no metrics/ folder; a key with `/` may come first or after plain keys.
    rmSync(join(runDir, "metrics"), { recursive: true })
    const keys = ["a/b", "loss", "acc", "a/c", "deep/x/y", "loss"]
    await store.logBatch(run_id, { metrics: keys.map((key, step) => ({ key, value: step / 2, timestamp: 100 + step, step })) })
    rmSync(join(runDir, "metrics"), { recursive: true })
    await store.logBatch(run_id, { metrics: keys.slice(1).map((key, step) => ({ key, value: -step, timestamp: 200 + step, step })) })
    expect(readFileSync(join(runDir, "metrics", "loss"), "utf8")).toBe("200 -0.0 0\n204 -4.0 4\n")
    expect(readFileSync(join(runDir, "metrics", "acc"), "utf8")).toBe("201 -1.0 1\n")
    expect(readFileSync(join(runDir, "metrics", "a", "c"), "utf8")).toBe("202 -2.0 2\n")
    expect(readFileSync(join(runDir, "metrics", "deep", "x", "y"), "utf8")).toBe("203 -3.0 3\n")
    expect(existsSync(join(runDir, "metrics", "a", "b"))).toBe(false)
  })

  test("logBatch appends to the files of keys logged before, in the order of the batch", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { run_id } = await newRun(store)
    const runDir = join(dir.path, "0", run_id)
    const keys = ["a/b", "loss", "acc", "a/c", "loss", "a/b"]
    await store.logBatch(run_id, { metrics: keys.map((key, step) => ({ key, value: step / 2, timestamp: 100 + step, step })) })
    await store.logBatch(run_id, { metrics: [{ key: "a/b", value: 1e16, timestamp: 300, step: 9 }] })
    expect(readFileSync(join(runDir, "metrics", "loss"), "utf8")).toBe("101 0.5 1\n104 2.0 4\n")
    expect(readFileSync(join(runDir, "metrics", "a", "b"), "utf8")).toBe("100 0.0 0\n105 2.5 5\n300 1e+16 9\n")
    expect(readFileSync(join(runDir, "metrics", "a", "c"), "utf8")).toBe("103 1.5 3\n")
    expect(readFileSync(join(runDir, "metrics", "acc"), "utf8")).toBe("102 1.0 2\n")
  })

  test("logBatch, setTag, logMetric and updateRun round-trip through getRun", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { run_id } = await newRun(store)
    const odd = { empty: "", newline: "a\nb\n", unicode: "größe 😀 日本", quote: `it's "x"`, shell: "$(rm -rf /); `x` && y" }
    await store.logBatch(run_id, {
      params: Object.entries(odd).map(([key, value]) => ({ key, value })),
      tags: [
        { key: "nested/key/deep", value: "v" },
        { key: "Run Time", value: "1.5" },
      ],
      metrics: [
        { key: "loss", value: 0.5, timestamp: 10, step: 0 },
        { key: "loss", value: 0.25, timestamp: 11, step: 1 },
        { key: "group/lr", value: 0.00001, timestamp: 12, step: 0 },
      ],
    })
    await store.logBatch(run_id, { params: [{ key: "empty", value: "" }] }) // same value again: fine
    await store.setTag(run_id, "mlflow.runName", "renamed")
    await store.logMetric(run_id, { key: "loss", value: 1, timestamp: 9, step: 1 })
    await store.updateRun(run_id, { status: "FINISHED", end_time: 1721829017378 })

    const run = await createFileStore(dir.path).getRun(run_id)
    expect(run.info).toMatchObject({ run_name: "renamed", status: "FINISHED", end_time: 1721829017378, user_id: "ada" })
    expect(run.data.params).toEqual(odd)
    expect(run.data.tags).toMatchObject({ "nested/key/deep": "v", "Run Time": "1.5", "mlflow.runName": "renamed" })
    expect(run.data.metrics.loss).toEqual({ key: "loss", value: 0.25, timestamp: 11, step: 1 })
    expect(run.data.metrics["group/lr"]?.value).toBe(0.00001)

    const runDir = join(dir.path, "0", run_id)
    expect(readFileSync(join(runDir, "params", "newline"), "utf8")).toBe("a\nb\n") // raw, nothing added
    expect(readFileSync(join(runDir, "tags", "nested", "key", "deep"), "utf8")).toBe("v")
    expect(readFileSync(join(runDir, "metrics", "loss"), "utf8")).toBe("10 0.5 0\n11 0.25 1\n9 1.0 1\n")
    expect(readFileSync(join(runDir, "metrics", "group", "lr"), "utf8")).toBe("12 1e-05 0\n")
    const meta = readFileSync(join(runDir, "meta.yaml"), "utf8")
    expect(meta).toContain("run_name: renamed\n")
    expect(meta).toContain("status: 3\n")
    expect(meta).toContain("end_time: 1721829017378\n")
    expect(tree(dir.path).filter((p) => p.includes(".mlproject"))).toEqual([])
    expect(await store.getRunInfo(run_id)).toEqual(run.info)
  })

  test("getRunInfo is getRun's info, a run without run_name (1.x) named by its mlflow.runName tag", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { run_id } = await newRun(store)
    const metaFile = join(dir.path, "0", run_id, "meta.yaml")
    writeFileSync(metaFile, readFileSync(metaFile, "utf8").replace(/^run_name: .*\n/m, ""))
    const info = await store.getRunInfo(run_id)
    expect(info).toMatchObject({ run_id, run_name: "brave-fox-7", status: "RUNNING", user_id: "ada" })
    expect(info).toEqual((await store.getRun(run_id)).info)
  })

  test("a param is immutable: another value is MLflow's error", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { run_id } = await newRun(store)
    await store.logBatch(run_id, { params: [{ key: "alpha", value: "0.5" }] })
    const error = await rejection(store.logBatch(run_id, { params: [{ key: "alpha", value: "0.7" }] }))
    expect(error.code).toBe("tracking.param.changed")
    expect(error.message).toBe(
      `Changing param values is not allowed. Param with key='alpha' was already logged with value='0.5' for run ID='${run_id}'. Attempted logging new value '0.7'.`,
    )
  })

  test("invalid keys are refused before anything is written", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { run_id } = await newRun(store)
    const error = await rejection(store.logBatch(run_id, { params: [{ key: "ok", value: "1" }, { key: "../escape", value: "x" }] }))
    expect(error).toMatchObject({ code: "tracking.key.invalid", exitCode: 2 })
    expect(existsSync(join(dir.path, "0", run_id, "params", "ok"))).toBe(false)
    expect((await rejection(store.setTag(run_id, "/abs", "x"))).code).toBe("tracking.key.invalid")
  })

  test("updateRun with a terminal status and no end_time ends the run now", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { run_id } = await newRun(store)
    const before = Date.now()
    await store.updateRun(run_id, { status: "KILLED" })
    const { info } = await store.getRun(run_id)
    expect(info.status).toBe("KILLED")
    expect(info.end_time).toBeGreaterThanOrEqual(before)
    expect(readFileSync(join(dir.path, "0", run_id, "meta.yaml"), "utf8")).toContain("status: 5\n")
  })

  test("a deleted run can be read but not written", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { run_id } = await newRun(store)
    const metaPath = join(dir.path, "0", run_id, "meta.yaml")
    writeFileSync(metaPath, readFileSync(metaPath, "utf8").replace("lifecycle_stage: active", "deleted_time: 1721829017378\nlifecycle_stage: deleted"))
    expect((await store.getRun(run_id)).info.lifecycle_stage).toBe("deleted")
    const error = await rejection(store.setTag(run_id, "k", "v"))
    expect(error.message).toBe(`The run ${run_id} must be in the 'active' state. Current state is deleted.`)
    expect((await rejection(store.updateRun(run_id, { status: "FINISHED" }))).code).toBe("tracking.run.deleted")
  })

  test("unknown runs and corrupt files are named", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const missing = "0123456789abcdef0123456789abcdef"
    const notFound = await rejection(store.getRun(missing))
    expect(notFound).toMatchObject({ code: "tracking.run.not_found", message: `Run '${missing}' not found in ${dir.path}` })
    expect((await rejection(store.getRun("../../x"))).code).toBe("tracking.run.invalid_id")
    const { run_id } = await newRun(store)
    writeFileSync(join(dir.path, "0", run_id, "meta.yaml"), "artifact_uri: [unclosed\n")
    const corrupt = await rejection(store.getRun(run_id))
    expect(corrupt.code).toBe("tracking.meta.corrupt")
    expect(corrupt.message).toContain(join(dir.path, "0", run_id, "meta.yaml"))
  })

  test("filesystem failures become tracking.io errors naming the store", async () => {
    await using dir = tmpdirFor()
    const file = dir.write("not-a-folder", "")
    const error = await rejection(createFileStore(join(file, "mlruns")).getOrCreateExperiment("x"))
    expect(error).toMatchObject({ code: "tracking.io", exitCode: 1 })
    expect(error.message).toContain(join(file, "mlruns"))
  })
})
