// Against real mlruns folders written by MLflow 0.x–3.x: we read all of them, and write what they contain.
import { describe, expect, test } from "bun:test"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { createFileStore } from "../../src/tracking/file-store.ts"
import { corpusDir, hasShared } from "../lib/shared.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const corpus = corpusDir("mlruns")
const entries = hasShared ? readdirSync(corpus).filter((name) => /^\d\d__/.test(name)) : []
const storeOf = (entry: string) => join(corpus, entry, "mlruns")
const entryStarting = (prefix: string) => entries.find((e) => e.startsWith(prefix)) ?? `${prefix}missing`

/** Runs the corpus copied, as `<exp>/<run>` or `.trash/<exp>/<run>` relative to the mlruns folder. */
const keptRuns = (entry: string): string[] =>
  readFileSync(join(corpus, entry, "RUNS.txt"), "utf8")
    .split("\n")
    .filter((line) => line.endsWith("\tkept"))
    .map((line) => line.split("\t")[0] ?? "")

/** Every path under `dir` with its modification time, to prove reading wrote nothing. */
const snapshot = (dir: string): string[] =>
  (readdirSync(dir, { recursive: true }) as string[]).sort().map((p) => `${p} ${statSync(join(dir, p)).mtimeMs}`)

describe.skipIf(!hasShared)("reading every store in the corpus", () => {
  test.each(entries)("%s", async (entry) => {
    const root = storeOf(entry)
    const before = snapshot(root)
    const store = createFileStore(root)
    const experimentIds = [
      ...readdirSync(root).filter((n) => existsSync(join(root, n, "meta.yaml"))),
      ...(existsSync(join(root, ".trash")) ? readdirSync(join(root, ".trash")) : []),
    ]
    for (const id of experimentIds) {
      const experiment = await store.getExperiment(id)
      expect(experiment?.experiment_id).toBe(id)
      expect(experiment?.artifact_location).not.toBe("")
    }
    const runs = keptRuns(entry)
    for (const path of runs) {
      const parts = path.split("/")
      const runId = parts.at(-1) ?? ""
      const run = await store.getRun(runId)
      expect(run.info.run_id).toBe(runId)
      expect(run.info.experiment_id).toBe(parts.at(-2) ?? "")
      expect(["RUNNING", "FINISHED", "FAILED"]).toContain(run.info.status)
      expect(run.info.start_time).toBeGreaterThan(1_500_000_000_000)
      // The info alone (what the final-status check reads) is exactly getRun's, 1.x runs named by their tag included.
      expect(await store.getRunInfo(runId)).toEqual(run.info)
    }
    expect(snapshot(root)).toEqual(before)
  })

  test("all 272 copied runs were read", () => {
    expect(entries.flatMap(keptRuns).length).toBe(272)
  })
})

describe.skipIf(!hasShared)("exact values", () => {
  test("a 2.x PROJECT run (05)", async () => {
    const run = await createFileStore(storeOf(entryStarting("05__"))).getRun("f5263d6ecfbb488cac5d40d23b13f4d6")
    expect(run.info).toEqual({
      run_id: "f5263d6ecfbb488cac5d40d23b13f4d6",
      experiment_id: "0",
      run_name: "omniscient-lamb-165",
      user_id: "root",
      status: "FINISHED",
      start_time: 1721840266122,
      end_time: 1721840424908,
      artifact_uri: "mlflow-artifacts:/0/f5263d6ecfbb488cac5d40d23b13f4d6/artifacts",
      lifecycle_stage: "active",
    })
    expect(run.data.tags).toMatchObject({
      "mlflow.source.type": "PROJECT",
      "mlflow.project.entryPoint": "main",
      "mlflow.source.git.commit": "00044e279f0519ea67fcbe8ca543f545eeeb5a3b",
      "mlflow.source.name": "file:///home/kama/Documents/MLOps/ApartmentPrice",
    })
  })

  test("a 1.x PROJECT run (04): `name: ''`, no run_name", async () => {
    const run = await createFileStore(storeOf(entryStarting("04__"))).getRun("ea08028cf5dd49e48517c8826f0640c9")
    expect(run.info).toMatchObject({ run_name: "", user_id: "daraubundows", status: "FINISHED", end_time: 1627326734155 })
    expect(run.data.tags["mlflow.project.backend"]).toBe("local")
  })

  test("deleted runs keep their folder and say so (05)", async () => {
    const store = createFileStore(storeOf(entryStarting("05__")))
    expect((await store.getRun("93d13b92836c4251ab5c4d16d3ddca2b")).info.lifecycle_stage).toBe("deleted")
  })

  test.each([
    ["05__", "datasets"],
    ["14__", "models"],
    ["13__", "traces"],
    ["05__", "tags"],
  ])("%s: the %s folder of an experiment is not a run", async (prefix, folder) => {
    const error = await createFileStore(storeOf(entryStarting(prefix)))
      .getRun(folder)
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: "tracking.run.not_found" })
  })

  test("experiments: 0.x int id without lifecycle_stage (22), .trash (19), 18-digit ids (05)", async () => {
    expect(await createFileStore(storeOf(entryStarting("22__"))).getExperiment("0")).toEqual({
      experiment_id: "0",
      name: "Default",
      artifact_location: "/Users/vader/git/AICOE/DataHub-MaaS/examples/mlruns/0",
      lifecycle_stage: "active",
      tags: {},
    })
    const store02 = createFileStore(storeOf(entryStarting("02__")))
    expect((await store02.getExperiment("0"))?.tags).toEqual({ "mlflow.experimentKind": expect.any(String) })
    expect((await store02.getExperimentByName("Default"))?.tags).toHaveProperty(["mlflow.experimentKind"])
    const store05 = createFileStore(storeOf(entryStarting("05__")))
    expect(await store05.getExperimentByName("decision_tree_regressor_mlops_experiment")).toMatchObject({
      experiment_id: "355409890148782759",
      creation_time: 1721747770479,
    })
    const trashRoot = storeOf(entryStarting("19__"))
    const [trashed = ""] = readdirSync(join(trashRoot, ".trash"))
    const experiment = await createFileStore(trashRoot).getExperiment(trashed)
    expect(experiment?.lifecycle_stage).toBe("deleted")
    expect(await createFileStore(trashRoot).getExperimentByName(experiment?.name ?? "")).toBeNull()
  })

  test("tag keys with spaces (12) and params (01)", async () => {
    const root12 = storeOf(entryStarting("12__"))
    const run12 = keptRuns(entryStarting("12__")).find((p) => existsSync(join(root12, p, "tags", "Run Time"))) ?? ""
    const run = await createFileStore(root12).getRun(run12.split("/").at(-1) ?? "")
    expect(run.data.tags["Run Time"]).toMatch(/^\d+\.\d+$/)
    const root01 = storeOf(entryStarting("01__"))
    const withParams = keptRuns(entryStarting("01__")).find((p) => existsSync(join(root01, p, "params"))) ?? ""
    const params = (await createFileStore(root01).getRun(withParams.split("/").at(-1) ?? "")).data.params
    const [key = ""] = readdirSync(join(root01, withParams, "params"))
    expect(params[key]).toBe(readFileSync(join(root01, withParams, "params", key), "utf8"))
  })
})

/** `key: value` lines → the YAML form of each value: int, null, [], '', '<digits>', quoted or plain. */
const yamlForms = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .trimEnd()
      .split("\n")
      .map((line) => {
        const [key = "", value = ""] = line.split(/: (.*)/s)
        const form =
          value === "null" ? "null"
          : value === "[]" ? "[]"
          : value === "''" ? "''"
          : /^'\d+'$/.test(value) ? "'digits'"
          : /^-?\d+$/.test(value) ? "int"
          : /^['"]/.test(value) ? "quoted"
          : "plain"
        return [key, form]
      }),
  )

describe.skipIf(!hasShared)("what we write matches a real MLflow PROJECT run (05, MLflow 2.x)", () => {
  const realRoot = () => storeOf(entryStarting("05__"))
  const realRun = () => join(realRoot(), "0", "f5263d6ecfbb488cac5d40d23b13f4d6")

  test("same meta.yaml keys, YAML types and quoting; same tag files; same metric lines", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const realTags = readdirSync(join(realRun(), "tags"))
    const tags = realTags.map((key) => ({ key, value: readFileSync(join(realRun(), "tags", key), "utf8") }))
    const info = await store.createRun({
      experiment_id: "0",
      user_id: "root",
      start_time: 1721840266122,
      run_name: "omniscient-lamb-165",
      tags: tags.filter((t) => t.key !== "mlflow.runName"),
    })
    await store.logBatch(info.run_id, { params: [{ key: "n_estimators", value: "100" }] })
    await store.logMetric(info.run_id, { key: "mean_score_time", value: 0.0123, timestamp: 1721840424000, step: 0 })
    await store.updateRun(info.run_id, { status: "FINISHED", end_time: 1721840424908 })
    const ours = join(dir.path, "0", info.run_id)

    const real = readFileSync(join(realRun(), "meta.yaml"), "utf8")
    const mine = readFileSync(join(ours, "meta.yaml"), "utf8")
    expect(Object.keys(yamlForms(mine))).toEqual(Object.keys(yamlForms(real)))
    expect(yamlForms(mine)).toEqual(yamlForms(real))
    // Every line but the run id and where artifacts go is the same text.
    const differing = (text: string) => text.split("\n").filter((l) => !/^(artifact_uri|run_id|run_uuid): /.test(l))
    expect(differing(mine)).toEqual(differing(real))

    expect(readdirSync(join(ours, "tags")).sort()).toEqual([...realTags].sort())
    for (const key of realTags) {
      const value = readFileSync(join(ours, "tags", key), "utf8")
      expect(value).toBe(readFileSync(join(realRun(), "tags", key), "utf8"))
      expect(value.endsWith("\n")).toBe(false)
    }
    expect(readFileSync(join(ours, "params", "n_estimators"), "utf8")).toBe("100")

    // MLflow writes str(value): repr for floats, and plain digits when Python code logged an int (05
    // has "1721830101646 1 0"). JS numbers carry no such difference, so we always write the float form.
    const metricLine = /^\d{13} -?(?:\d+\.\d+(?:e[-+]\d+)?|\de[-+]\d+|nan|inf|\d+) \d+\n$/
    const realMetricDir = join(realRoot(), "355409890148782759", "93d13b92836c4251ab5c4d16d3ddca2b", "metrics")
    for (const key of readdirSync(realMetricDir)) expect(readFileSync(join(realMetricDir, key), "utf8")).toMatch(metricLine)
    expect(readFileSync(join(ours, "metrics", "mean_score_time"), "utf8")).toBe("1721840424000 0.0123 0\n")
  })

  test("same experiment meta.yaml keys and YAML types as a 2.x experiment", async () => {
    await using dir = tmpdirFor()
    const store = createFileStore(dir.path)
    const { experiment_id } = await store.getOrCreateExperiment("decision_tree_regressor_mlops_experiment")
    const real = readFileSync(join(realRoot(), "355409890148782759", "meta.yaml"), "utf8")
    const mine = readFileSync(join(dir.path, experiment_id, "meta.yaml"), "utf8")
    expect(yamlForms(mine)).toEqual(yamlForms(real))
    expect(mine.split("\n").find((l) => l.startsWith("name:"))).toBe(real.split("\n").find((l) => l.startsWith("name:")))
  })
})
