// Copies an mlruns file store into a database store: experiments and runs with their ids, each run in one transaction, idempotent.
import { existsSync, readdirSync } from "node:fs"
import { statIfPresent } from "../../util/fs-atomic.ts"
import { join, resolve } from "node:path"
import { isToolError, ToolError } from "../../errors.ts"
import type { Emit, Event } from "../../events/event.ts"
import { experimentDirs, metaFile, readExperiment, readMetricHistory, readRun, readRunInfo, readRunSource, runDirsOf, trashFolder, type ExperimentDir, type RunDir } from "../file-store-read.ts"
import { fileUriToPath, holdsExperiments, redactUri, uriScheme } from "../tracking-uri.ts"
import type { Experiment } from "../types.ts"
import { openDb, type DbClient } from "./db-client.ts"
import { dbFailure } from "./db-errors.ts"
import { checkTagValue, ensureSchema, type DbSchema } from "./db-schema.ts"
import { dbDialect, parseDbUri, targetPlace, type DbTarget } from "./db-uri.ts"
import { distinctPoints, migrationRows, runDifference, type MigrationRows, type RunRows } from "./migrate-rows.ts"
import { storedPoint } from "./sql-rows.ts"

/**
 * The largest experiment id kept as it is: MLflow 2.15.1's schema (the one mlproject creates) makes experiment_id a
 * 32-bit INTEGER on PostgreSQL and MySQL, and the file store's 18-digit ids are past what a JavaScript number holds
 * exactly. A larger id gets the next id of the database (the event says so).
 */
const largestKeptId = 2_147_483_647

type Counts = Omit<Extract<Event, { type: "migrate.done" }>, "type" | "source" | "target" | "artifacts_copied">

export type MigrateInput = { source: string; target: string; cwd: string; emit: Emit; signal: AbortSignal }

const sourceHint = "give the mlruns folder of a file store (a path or a file: URI), the folder that holds 0/, 1234…/ and .trash/"

/** SRC as an mlruns folder: a path or a file: URI naming a folder that holds at least one experiment. */
export const sourceRoot = (source: string, cwd: string): string => {
  const scheme = uriScheme(source)
  if (scheme !== "" && scheme !== "file")
    throw new ToolError("migrate.source.invalid", `Source ${redactUri(source)} is not a file store: migrate-store reads an mlruns folder`, { hint: sourceHint, exitCode: 2 })
  const root = resolve(cwd, scheme === "file" ? fileUriToPath(source) : source)
  const stat = statIfPresent(root)
  if (!stat) throw new ToolError("migrate.source.invalid", `Source ${root} does not exist`, { hint: sourceHint, exitCode: 2 })
  if (!stat.isDirectory()) throw new ToolError("migrate.source.invalid", `Source ${root} is a file, not an mlruns folder`, { hint: sourceHint, exitCode: 2 })
  const trash = join(root, trashFolder)
  if (!holdsExperiments(root) && !holdsExperiments(trash))
    throw new ToolError("migrate.source.invalid", `Source ${root} is not an mlruns folder: it holds no experiment (a numbered folder with a meta.yaml)`, { hint: sourceHint, exitCode: 2 })
  return root
}

/** DST as a database: sqlite, PostgreSQL or MySQL (malformed ones are tracking.uri.invalid). */
export const targetOf = (target: string, cwd: string): DbTarget => {
  if (dbDialect(target) === null)
    throw new ToolError("migrate.target.invalid", `Destination ${redactUri(target)} is not a database URI: migrate-store writes a database store`, {
      hint: "give sqlite:///mlflow.db, postgresql://user:password@host:5432/db or mysql://user:password@host:3306/db",
      exitCode: 2,
    })
  return parseDbUri(target, cwd)
}

/** What the copy leaves out, counted, for one warning: dataset inputs, traces, logged models and the model registry. */
const leftOut = (root: string, experiments: readonly ExperimentDir[]): string[] => {
  const has = (dir: string) => existsSync(dir) && readdirSync(dir).length > 0
  const count = (test: (dir: string) => boolean, dirs: readonly string[]) => dirs.filter(test).length
  const runs = experiments.flatMap((e) => runDirsOf(e).map((r) => r.dir))
  const parts: Array<[number, string]> = [
    [count((d) => has(join(d, "inputs")), runs), "runs with dataset inputs (inputs/)"],
    [count((d) => has(join(d, "traces")), experiments.map((e) => e.dir)), "experiments with traces"],
    [count((d) => has(join(d, "models")), experiments.map((e) => e.dir)), "experiments with logged models"],
    [has(join(root, "models")) ? 1 : 0, "model registry (models/)"],
  ]
  return parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`)
}

const reasonOf = (error: unknown, target: DbTarget, what: string): { reason: string; code: string } => {
  const failure = dbFailure(error, target, what)
  return isToolError(failure) ? { reason: failure.message, code: failure.code } : { reason: String(error), code: "internal" }
}

/** The rows of one run of the source, with the experiment id it gets in the destination. */
const runRowsOf = (runDir: RunDir, experimentId: string): RunRows => {
  const stored = readRunInfo(runDir)
  const run = readRun(runDir, stored)
  const source = readRunSource(runDir)
  return {
    run: {
      run_uuid: run.info.run_id,
      // As the file store reads it: runs of MLflow 1.x take their name from mlflow.runName.
      name: run.info.run_name,
      ...source,
      user_id: run.info.user_id,
      status: run.info.status,
      start_time: run.info.start_time,
      end_time: run.info.end_time,
      lifecycle_stage: run.info.lifecycle_stage,
      artifact_uri: run.info.artifact_uri,
      experiment_id: experimentId,
      deleted_time: stored.deleted_time,
    },
    params: Object.entries(run.data.params).map(([key, value]) => ({ key, value })),
    tags: Object.entries(run.data.tags).map(([key, value]) => ({ key, value })),
    points: distinctPoints(readMetricHistory(join(runDir.dir, "metrics")).map(storedPoint)),
  }
}

type Copy = { client: DbClient; schema: DbSchema; rows: MigrationRows; target: DbTarget; place: string; emit: Emit; counts: Counts }

/** Where a source experiment goes: the destination's experiment of the same name, else a new one with its id when free. */
const placeExperiment = async (copy: Copy, experiment: Experiment): Promise<string> => {
  const { rows, emit, counts } = copy
  const source = experiment.experiment_id
  const named = await rows.experimentNamed(experiment.name)
  if (named !== null) {
    await rows.addExperimentTags(named, experiment.tags)
    counts.experiments_existing++
    const reason = named === source ? undefined : `the destination's experiment ${named} has this name`
    emit({ type: "migrate.experiment", source_experiment_id: source, experiment_id: named, name: experiment.name, status: "existing", ...(reason ? { reason } : {}) })
    return named
  }
  const taken = Number(source) <= largestKeptId ? await rows.nameOfExperiment(source) : null
  const keep = Number(source) <= largestKeptId && taken === null
  const id = await rows.insertExperiment(experiment, keep ? source : null)
  counts.experiments_created++
  const reason = keep ? undefined : taken !== null ? `id ${source} is the destination's experiment '${taken}'` : `id ${source} is larger than ${largestKeptId}, the largest experiment id mlproject's database store keeps`
  emit({ type: "migrate.experiment", source_experiment_id: source, experiment_id: id, name: experiment.name, status: "created", ...(reason ? { reason } : {}) })
  return id
}

/** Copies one run in one transaction; a run already there is compared, never overwritten. */
const copyRun = async (copy: Copy, runDir: RunDir, experimentId: string): Promise<void> => {
  const { client, schema, rows, target, place, emit, counts } = copy
  const base = { run_id: runDir.runId, source_experiment_id: runDir.experiment.id, experiment_id: experimentId }
  let runRows: RunRows
  try {
    runRows = runRowsOf(runDir, experimentId)
    for (const tag of runRows.tags) checkTagValue(schema, place, tag)
  } catch (error) {
    counts.runs_failed++
    return emit({ type: "migrate.run", ...base, status: "failed", metric_points: 0, ...reasonOf(error, target, "reading the run") })
  }
  try {
    const outcome = await client.transaction(async (tx) => {
      const existing = await rows.readRun(tx, runRows.run.run_uuid)
      if (existing) return { difference: runDifference(runRows, existing) }
      await rows.insertRun(tx, runRows)
      return null
    })
    if (outcome === null) {
      counts.runs_copied++
      counts.metric_points += runRows.points.length
      return emit({ type: "migrate.run", ...base, status: "copied", metric_points: runRows.points.length })
    }
    if (outcome.difference === null) {
      counts.runs_skipped++
      return emit({ type: "migrate.run", ...base, status: "skipped", metric_points: 0, reason: "already in the destination, with the same content" })
    }
    counts.runs_different++
    emit({ type: "migrate.run", ...base, status: "different", metric_points: 0, reason: `already in the destination, left as it is there: ${outcome.difference}` })
  } catch (error) {
    counts.runs_failed++
    emit({ type: "migrate.run", ...base, status: "failed", metric_points: 0, ...reasonOf(error, target, `copying run ${runDir.runId}`) })
  }
}

const failExperiment = (copy: Copy, dir: ExperimentDir, name: string, error: unknown): void => {
  copy.counts.experiments_failed++
  copy.emit({ type: "migrate.experiment", source_experiment_id: dir.id, experiment_id: null, name, status: "failed", ...reasonOf(error, copy.target, `copying experiment ${dir.id}`) })
  for (const runDir of runDirsOf(dir).filter((r) => existsSync(join(r.dir, metaFile)))) {
    copy.counts.runs_failed++
    copy.emit({ type: "migrate.run", run_id: runDir.runId, source_experiment_id: dir.id, experiment_id: null, status: "failed", metric_points: 0, reason: `its experiment ${dir.id} was not copied` })
  }
}

/** Copies every experiment and run of `source` into `target`; returns the exit code (1 when anything failed). */
export const migrateStore = async ({ source, target, cwd, emit, signal }: MigrateInput): Promise<number> => {
  const root = sourceRoot(source, cwd)
  const dbTarget = targetOf(target, cwd)
  const place = targetPlace(dbTarget)
  // Experiments that keep their ids go first: an id the database gives another one must not take theirs.
  const experiments = experimentDirs(root, "all").sort((a, b) => Number(Number(a.id) > largestKeptId) - Number(Number(b.id) > largestKeptId))
  const skipped = leftOut(root, experiments)
  if (skipped.length > 0)
    emit({ type: "warning", code: "migrate.left_out", message: `Not copied (mlproject's migration covers experiments and runs only): ${skipped.join(", ")}`, hint: "MLflow's 'mlflow migrate-filestore' copies these" })
  let client: DbClient | null = null
  try {
    client = await openDb(dbTarget)
    const schema = await ensureSchema(client, place)
    const counts: Counts = { experiments_created: 0, experiments_existing: 0, experiments_failed: 0, runs_copied: 0, runs_skipped: 0, runs_different: 0, runs_failed: 0, metric_points: 0 }
    const copy: Copy = { client, schema, rows: migrationRows(client, schema), target: dbTarget, place, emit, counts }
    for (const dir of experiments) {
      if (signal.aborted) break
      let experiment: Experiment | null
      try {
        experiment = readExperiment(dir)
        if (experiment === null) {
          emit({ type: "warning", message: `${dir.dir} has no meta.yaml that names experiment ${dir.id}: not an experiment, skipped (MLflow skips it too)` })
          continue
        }
        for (const [key, value] of Object.entries(experiment.tags)) checkTagValue(schema, place, { key, value })
      } catch (error) {
        failExperiment(copy, dir, "", error)
        continue
      }
      let experimentId: string
      try {
        experimentId = await placeExperiment(copy, experiment)
      } catch (error) {
        failExperiment(copy, dir, experiment.name, error)
        continue
      }
      for (const runDir of runDirsOf(dir)) {
        if (signal.aborted) break
        // As MLflow's migrate-filestore: a folder without meta.yaml (.ipynb_checkpoints, a half-made run) is no run.
        if (!existsSync(join(runDir.dir, metaFile))) emit({ type: "warning", message: `${runDir.dir} has no meta.yaml: not a run, skipped` })
        else await copyRun(copy, runDir, experimentId)
      }
    }
    emit({ type: "migrate.done", source: root, target: redactUri(target), ...counts, artifacts_copied: false })
    if (signal.aborted) throw new ToolError("interrupted", `interrupted by ${String(signal.reason ?? "a signal")}: stopped between runs; every run copied so far is complete`, { exitCode: 130 })
    return counts.experiments_failed + counts.runs_failed > 0 ? 1 : 0
  } catch (error) {
    throw dbFailure(error, dbTarget, "the migration")
  } finally {
    await client?.close().catch(() => undefined)
  }
}
