// `mlproject migrate-store`: mlruns folders (the corpus, and one `mlproject run` made) copied into sqlite and PostgreSQL, read back.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { experimentDirs, readRun, runDirsOf } from "../../src/tracking/file-store-read.ts"
import { storeFor } from "../../src/tracking/store-for.ts"
import { closeDbStores } from "../../src/tracking/sql/db-store.ts"
import { openDb } from "../../src/tracking/sql/db-client.ts"
import { parseDbUri } from "../../src/tracking/sql/db-uri.ts"
import { storedMetricValue } from "../../src/tracking/sql/sql-rows.ts"
import { parseMetricLine } from "../../src/tracking/metric-line.ts"
import { pathToFileUri } from "../../src/tracking/tracking-uri.ts"
import type { Metric, Run } from "../../src/tracking/types.ts"
import { binary, cli, type CliResult } from "../lib/cli.ts"
import { postgresSkipReason, startPostgres, type DbServer } from "../lib/databases.ts"
import { corpusDir, hasShared, sharedSkipReason } from "../lib/shared.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const scratch = tmpdirFor("mlproject-migrate-")
const postgres: Promise<DbServer | null> = startPostgres()
afterAll(async () => {
  await closeDbStores()
  await (await postgres)?.stop()
  await scratch[Symbol.asyncDispose]()
})

let counter = 0
const sqliteUri = (label: string) => `sqlite:///${join(scratch.path, `${label}-${++counter}.db`)}`
const migrate = (source: string, target: string): Promise<CliResult> => cli(["migrate-store", source, target, "--json"], { cwd: scratch.path })
const ofType = (result: CliResult, type: string) => result.events.filter((e) => e.type === type)
const done = (result: CliResult) => ofType(result, "migrate.done")[0] as Record<string, unknown>
const runStatuses = (result: CliResult) => Object.fromEntries(ofType(result, "migrate.run").map((e) => [e.run_id as string, e.status as string]))

type SourceRun = { run: Run; experimentId: string; lines: number; longestTag: number }

/** Every run of a file store as the file store reads it, with its distinct metric lines counted from the files themselves. */
const sourceRuns = (root: string): Map<string, SourceRun> => {
  const runs = new Map<string, SourceRun>()
  for (const experiment of experimentDirs(root))
    for (const dir of runDirsOf(experiment)) {
      if (!existsSync(join(dir.dir, "meta.yaml"))) continue
      const run = readRun(dir)
      const metrics = join(dir.dir, "metrics")
      const files = existsSync(metrics) ? (readdirSync(metrics, { recursive: true }) as string[]).filter((f) => statSync(join(metrics, f)).isFile()) : []
      // Identical lines of one file are one row (the metrics table's primary key holds the whole point).
      const lines = files.reduce((n, f) => {
        const points = readFileSync(join(metrics, f), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => parseMetricLine(f, l)!)
        return n + new Set(points.map((p) => JSON.stringify([p.timestamp, storedMetricValue(p.value), p.step]))).size
      }, 0)
      const longestTag = Math.max(0, ...Object.values(run.data.tags).map((v) => v.length))
      runs.set(dir.runId, { run, experimentId: experiment.id, lines, longestTag })
    }
  return runs
}

/** A latest metric as the database keeps it: NaN and infinities stored MLflow's way. */
const stored = (metrics: Record<string, Metric>) =>
  Object.fromEntries(Object.entries(metrics).map(([key, m]) => [key, { step: m.step, timestamp: m.timestamp, ...storedMetricValue(m.value) }]))

/** Reads every copied run back through the Store and compares it with the file store's reading of it. */
const expectCopied = async (target: string, source: Map<string, SourceRun>, result: CliResult, copied: readonly string[]): Promise<void> => {
  const mapped = Object.fromEntries(ofType(result, "migrate.experiment").map((e) => [e.source_experiment_id as string, e.experiment_id as string]))
  const store = storeFor(target)
  const db = await openDb(parseDbUri(target, scratch.path))
  try {
    for (const runId of copied) {
      const from = source.get(runId)!
      const run = await store.getRun(runId)
      expect(run.info).toEqual({ ...from.run.info, experiment_id: mapped[from.experimentId]! })
      expect(run.data.params).toEqual(from.run.data.params)
      expect(run.data.tags).toEqual(from.run.data.tags)
      expect(stored(run.data.metrics)).toEqual(stored(from.run.data.metrics))
      const [count] = await db.all("SELECT COUNT(*) AS n FROM metrics WHERE run_uuid = ?", [runId])
      expect(Number(count?.n)).toBe(from.lines)
    }
  } finally {
    await db.close()
  }
}

const withBinary = { PATH: `${dirname(binary)}:${process.env.PATH}` }

/** A file store made by `mlproject run`: three runs, in Default and in 'shared', one with a tag too long for a database. */
const madeStore = async (): Promise<{ root: string; runIds: string[]; longTagRun: string }> => {
  const dir = join(scratch.path, `made-${++counter}`)
  const write = (file: string, text: string) => {
    const path = join(dir, file)
    Bun.spawnSync(["mkdir", "-p", dirname(path)])
    writeFileSync(path, text)
  }
  write("project/MLproject", ["name: migrate", "entry_points:", "  main:", "    parameters:", "      alpha: {type: float, default: 0.5}", "      long: {type: string, default: 'no'}", "    command: bash train.sh {alpha} {long}", ""].join("\n"))
  write(
    "project/train.sh",
    [
      "set -euo pipefail",
      'for step in 1 2 3; do mlproject log metric loss "0.$step" --step "$step"; done',
      "mlproject log metric loss 0.9 --step 2 --timestamp 1",
      "mlproject log metric odd nan && mlproject log metric odd inf --step 1 && mlproject log metric low -- -inf",
      'mlproject log param inner "$1"',
      'if [ "$2" = yes ]; then mlproject log tag long "$(head -c 6000 /dev/zero | tr "\\0" x)"; fi',
      "",
    ].join("\n"),
  )
  const env = { ...withBinary, MLFLOW_TRACKING_URI: "./mlruns" }
  const runIds: string[] = []
  for (const args of [[], ["--experiment-name", "shared", "-P", "alpha=0.7"], ["--experiment-name", "shared", "-P", "long=yes"]]) {
    const run = await cli(["run", "project", ...args, "--json"], { cwd: dir, env })
    expect(run.code).toBe(0)
    runIds.push(ofType(run, "run.finished")[0]!.run_id as string)
  }
  return { root: join(dir, "mlruns"), runIds, longTagRun: runIds[2]! }
}

const made = await madeStore()

describe.skipIf(!hasShared)(`the corpus into sqlite${hasShared ? "" : ` (${sharedSkipReason})`}`, () => {
  const entries = hasShared ? readdirSync(corpusDir("mlruns")).filter((name) => /^\d\d__/.test(name)) : []
  test.each(entries)("%s", async (entry) => {
    const root = join(corpusDir("mlruns"), entry, "mlruns")
    const source = sourceRuns(root)
    // Only tags longer than the tags table of MLflow 2.15.1's schema (5000) stop a run.
    const tooLong = [...source].filter(([, r]) => r.longestTag > 5000).map(([id]) => id)
    const copied = [...source.keys()].filter((id) => !tooLong.includes(id))
    const target = sqliteUri(entry.slice(0, 2))
    const first = await migrate(root, target)
    expect(first.code).toBe(tooLong.length > 0 ? 1 : 0)
    expect(done(first)).toMatchObject({ runs_copied: copied.length, runs_failed: tooLong.length, runs_skipped: 0, artifacts_copied: false })
    for (const id of tooLong) expect(ofType(first, "migrate.run").find((e) => e.run_id === id)).toMatchObject({ status: "failed", code: "tracking.value.too_long" })
    await expectCopied(target, source, first, copied)

    const again = await migrate(root, target)
    expect(again.code).toBe(first.code)
    expect(done(again)).toMatchObject({ runs_copied: 0, runs_skipped: copied.length, runs_different: 0, metric_points: 0, experiments_created: 0 })
  })
})

describe("a store made by mlproject run", () => {
  test("into sqlite: ids, names, every metric point, NaN and infinities; a second run copies nothing; a changed run is left alone", async () => {
    const target = sqliteUri("made")
    // The destination already has 'shared' under another id, and Default as 0.
    const before = storeFor(target)
    await before.getOrCreateExperiment("unrelated")
    const shared = await before.getOrCreateExperiment("shared")
    await closeDbStores()

    const source = sourceRuns(made.root)
    const sharedSource = source.get(made.runIds[1]!)!.experimentId
    const first = await migrate(made.root, target)
    expect(first.code).toBe(1)
    expect(ofType(first, "migrate.experiment")).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source_experiment_id: "0", experiment_id: "0", status: "existing" }),
        expect.objectContaining({ source_experiment_id: sharedSource, experiment_id: shared.experiment_id, name: "shared", status: "existing", reason: expect.stringContaining("has this name") }),
      ]),
    )
    expect(runStatuses(first)).toEqual({ [made.runIds[0]!]: "copied", [made.runIds[1]!]: "copied", [made.longTagRun]: "failed" })
    expect(done(first)).toMatchObject({ runs_copied: 2, runs_failed: 1, metric_points: 2 * 7 })
    await expectCopied(target, source, first, made.runIds.slice(0, 2))
    const odd = (await storeFor(target).getRun(made.runIds[0]!)).data.metrics
    expect(odd.odd).toMatchObject({ step: 1, value: Number.MAX_VALUE })
    expect(odd.low?.value).toBe(-Number.MAX_VALUE)
    // The latest loss is step 3's point, not the later-logged 0.9 of step 2.
    expect(odd.loss).toMatchObject({ step: 3, value: 0.3 })

    const again = await migrate(made.root, target)
    expect(done(again)).toMatchObject({ runs_copied: 0, runs_skipped: 2, runs_failed: 1, experiments_created: 0 })

    await storeFor(target).setTag(made.runIds[0]!, "after", "migration")
    await closeDbStores()
    const third = await migrate(made.root, target)
    expect(ofType(third, "migrate.run").find((e) => e.run_id === made.runIds[0])).toMatchObject({ status: "different", reason: expect.stringContaining("tag 'after'") })
    expect((await storeFor(target).getRun(made.runIds[0]!)).data.tags.after).toBe("migration")
  })

  test("a file: URI source, and the human text says what was not copied", async () => {
    const target = sqliteUri("human")
    const result = await cli(["migrate-store", pathToFileUri(made.root), target], { cwd: scratch.path })
    expect(result.code).toBe(1)
    expect(result.stdout).toContain("copied 2 runs")
    expect(result.stdout).toContain("artifacts were not copied")
    expect(result.stderr).toContain(`run ${made.longTagRun} not copied: Tag 'long' has a value of 6000 characters`)
  })
})

const server = await postgres
describe.skipIf(server === null)(`into PostgreSQL${server ? "" : ` (${postgresSkipReason})`}`, () => {
  test("the made store and a corpus store: read back, no-op the second time, the id sequence moved on", async () => {
    const target = await server!.newDatabase("migrate_pg")
    const first = await migrate(made.root, target)
    expect(first.code).toBe(1)
    await expectCopied(target, sourceRuns(made.root), first, made.runIds.slice(0, 2))
    if (hasShared) {
      const root = join(corpusDir("mlruns"), readdirSync(corpusDir("mlruns")).find((n) => n.startsWith("05__"))!, "mlruns")
      const corpus = await migrate(root, target)
      expect(corpus.code).toBe(0)
      await expectCopied(target, sourceRuns(root), corpus, [...sourceRuns(root).keys()])
      expect(done(await migrate(root, target))).toMatchObject({ runs_copied: 0, experiments_created: 0 })
    }
    expect(done(await migrate(made.root, target))).toMatchObject({ runs_copied: 0, runs_skipped: 2 })
    // Ids written by hand must not be handed out again by PostgreSQL's sequence.
    expect((await storeFor(target).getOrCreateExperiment("after-migration")).created).toBe(true)
  })
})

describe("refused input: exit 2 and a clear code", () => {
  test.each([
    ["a missing source", () => [join(scratch.path, "nope"), sqliteUri("x")], "migrate.source.invalid"],
    ["a file as source", () => [scratch.write("file.txt", "x"), sqliteUri("x")], "migrate.source.invalid"],
    ["a folder without experiments", () => [dirname(scratch.write("empty/.keep", "")), sqliteUri("x")], "migrate.source.invalid"],
    ["a server as source", () => ["http://127.0.0.1:5000", sqliteUri("x")], "migrate.source.invalid"],
    ["a folder as destination", () => [made.root, join(scratch.path, "mlruns2")], "migrate.target.invalid"],
    ["a tracking server as destination", () => [made.root, "http://127.0.0.1:5000"], "migrate.target.invalid"],
    ["an in-memory database", () => [made.root, "sqlite://"], "tracking.uri.invalid"],
    ["a file that is no database", () => [made.root, `sqlite:///${scratch.write("not.db", "plain text, not sqlite ".repeat(100))}`], "tracking.db.invalid"],
  ])("%s", async (_, args, code) => {
    const [source, target] = args()
    const result = await migrate(source!, target!)
    expect(result.code).toBe(2)
    expect(result.events.at(-1)).toMatchObject({ type: "error", code })
  })

  test("one argument is a usage error", async () => {
    const result = await cli(["migrate-store", made.root])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("expected 'mlproject migrate-store SRC DST'")
  })
})
