// The file store: MLflow's mlruns layout behind the Store interface, safe for many processes at once.
import type { ErrorCode } from "../error-codes.ts"
import { mkdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { newRunInfo, newRunParams, runNameAndTags } from "./new-run.ts"
import { ToolError } from "../errors.ts"
import { runNameTag, terminalStatuses, type CallOptions, type Experiment, type Store } from "./types.ts"
import { generateExperimentId, isExperimentId, isRunId } from "./experiment-id.ts"
import { isDirectory, pathExists } from "../util/fs-atomic.ts"
import type { LockOptions } from "../util/lock.ts"
import { validateBatch, validateExperimentName, validateMetric, validateTag } from "./key-rules.ts"
import { dumpMetaYaml } from "./meta-yaml.ts"
import { experimentMetaRecord, runMetaRecord, type StoredRunInfo } from "./meta-records.ts"
import { appendToUriPath, pathToFileUri } from "./tracking-uri.ts"
import * as read from "./file-store-read.ts"
import { publishExperimentFolder, publishRunFolder } from "./file-store-write.ts"
import { appendMetrics, setTags, writeParam, writeRunMeta, writeTag } from "./run-files.ts"
import { guardStore } from "./store-guard.ts"
import { sweepExperiment, sweepFolder } from "./leftovers.ts"
import { mlprojectHome } from "../util/paths.ts"

/** A FILE in the root: MLflow lists only sub-directories as experiments, so it never sees the lock. */
export const experimentsLockFile = ".mlproject-experiments.lock"
const defaultExperiment = { id: "0", name: "Default" }

const invalidInput = (code: ErrorCode, message: string, hint?: string) => new ToolError(code, message, { hint, exitCode: 2 })

const checkTimestamp = (what: string, value: number): void => {
  if (!Number.isSafeInteger(value) || value < 0) throw invalidInput("tracking.time.invalid", `${what} ${value} must be milliseconds since the epoch`)
}

/** `sweepStamps`: where the times of the last leftover sweeps are kept (default `$MLPROJECT_HOME/sweeps`). */
export const createFileStore = (rootPath: string, options: { sweepStamps?: string } = {}): Store => {
  const root = resolve(rootPath)
  const sweepStamps = options.sweepStamps ?? join(mlprojectHome(), "sweeps")
  const lockFile = join(root, experimentsLockFile)
  const runDirs = new Map<string, read.RunDir>()
  let ready = false

  // MLflow creates Default when it creates the store folder; an existing folder with no experiment at
  // all (`mkdir mlruns`, a committed .gitkeep) is treated as new too, so experiment 0 always works.
  const needsDefault = (): boolean =>
    !pathExists(join(root, defaultExperiment.id)) &&
    !pathExists(join(root, read.trashFolder, defaultExperiment.id)) &&
    read.experimentDirs(root).length === 0

  const createExperimentLocked = (name: string, fixedId?: string): string => {
    for (;;) {
      const id = fixedId ?? generateExperimentId()
      const now = Date.now()
      const experiment: Experiment = {
        experiment_id: id,
        name,
        artifact_location: appendToUriPath(pathToFileUri(root), id),
        lifecycle_stage: "active",
        creation_time: now,
        last_update_time: now,
        tags: {},
      }
      if (publishExperimentFolder(root, id, dumpMetaYaml(experimentMetaRecord(experiment))) || fixedId) return id
    }
  }

  // Experiment creation holds this lock for milliseconds; on a shared NFS store a silent holder is abandoned after 30 s.
  const lockOptions: LockOptions = { timeoutMs: 45_000, foreignStaleMs: 30_000, pollMs: 50, what: "tracking.lock" }
  // Only the lock can make a call wait long (a holder on a stuck NFS server): the call's signal ends that wait.
  // The lock and search code load on first use: logging into an existing run (the common call) needs neither.
  const lockedStore = async <T>(fn: () => T, call?: CallOptions): Promise<T> =>
    (await import("../util/lock.ts")).withLock(lockFile, fn, { ...lockOptions, signal: call?.signal })

  /** Reads never write to an existing store; only a missing or empty one gets Default and .trash. */
  const ensureStore = async (call?: CallOptions): Promise<void> => {
    if (ready) return
    if (needsDefault()) {
      mkdirSync(root, { recursive: true })
      await lockedStore(() => {
        if (needsDefault()) createExperimentLocked(defaultExperiment.name, defaultExperiment.id)
        mkdirSync(join(root, read.trashFolder), { recursive: true })
      }, call)
    }
    ready = true
  }

  const ensureTrash = (): void => void mkdirSync(join(root, read.trashFolder), { recursive: true })

  /** `withTags` false: a caller that needs the state and artifact location only skips the tags folder. */
  const experimentById = (id: string, withTags = true): { location: read.ExperimentDir; experiment: Experiment } | null => {
    if (!isExperimentId(id)) throw invalidInput("tracking.experiment.invalid_id", `Invalid experiment ID: '${id}'`)
    const location = read.findExperimentDir(root, id)
    const experiment = location && read.readExperiment(location, withTags)
    return location && experiment ? { location, experiment } : null
  }

  const experimentsNamed = (name: string, which: "active" | "all"): Experiment[] =>
    read
      .experimentDirs(root, which)
      .flatMap((location) => {
        // Tags are read only for the experiment a caller gets back.
        const experiment = read.readExperiment(location, false)
        return experiment?.name === name ? [{ location, experiment }] : []
      })
      // MLflow's search order: newest first, then by id.
      .sort(({ experiment: a }, { experiment: b }) => (b.creation_time ?? -1) - (a.creation_time ?? -1) || (a.experiment_id < b.experiment_id ? -1 : 1))
      .map(({ location, experiment }) => ({ ...experiment, tags: read.readValueFiles(join(location.dir, "tags")) }))

  const activeNamed = (name: string): Experiment | null =>
    experimentsNamed(name, "active").find((e) => e.lifecycle_stage === "active") ?? null

  const locateRun = (runId: string): read.RunDir => {
    if (!isRunId(runId)) throw invalidInput("tracking.run.invalid_id", `Invalid run ID: '${runId}'`)
    const known = runDirs.get(runId)
    if (known && isDirectory(known.dir)) return known
    const found = read.findRunDir(root, runId)
    if (!found) throw new ToolError("tracking.run.not_found", `Run '${runId}' not found in ${root}`, { exitCode: 2 })
    runDirs.set(runId, found)
    return found
  }

  /**
   * MLflow's check_run_is_active; a run whose experiment sits in .trash counts as deleted too. `unlessEnded`: null for a
   * run with a terminal status, before the check (as a status read first would find it).
   */
  function activeRun(runId: string): { run: read.RunDir; info: StoredRunInfo }
  function activeRun(runId: string, unlessEnded: boolean): { run: read.RunDir; info: StoredRunInfo } | null
  function activeRun(runId: string, unlessEnded = false): { run: read.RunDir; info: StoredRunInfo } | null {
    const run = locateRun(runId)
    const info = read.readRunInfo(run)
    if (unlessEnded && terminalStatuses.has(info.status)) return null
    const stage = run.experiment.inTrash ? "deleted" : info.lifecycle_stage
    if (stage !== "active")
      throw invalidInput("tracking.run.deleted", `The run ${runId} must be in the 'active' state. Current state is ${stage}.`)
    // Every write to a run first removes temp files that killed writers left in its folder: one readdir.
    sweepFolder(run.dir)
    return { run, info }
  }

  const store: Store = {
    location: root,
    paramsAtCreate: true,

    async getExperiment(experimentId, call) {
      await ensureStore(call)
      return experimentById(experimentId)?.experiment ?? null
    },

    async getExperimentByName(name, call) {
      await ensureStore(call)
      return activeNamed(name)
    },

    async getOrCreateExperiment(name, call) {
      validateExperimentName(name)
      await ensureStore(call)
      const existing = activeNamed(name)
      if (existing) return { experiment_id: existing.experiment_id, created: false }
      ensureTrash()
      return lockedStore(() => {
        const raced = activeNamed(name)
        if (raced) return { experiment_id: raced.experiment_id, created: false }
        if (experimentsNamed(name, "all").length > 0)
          throw invalidInput(
            "tracking.experiment.deleted",
            `Experiment '${name}' already exists in deleted state. You can restore the experiment, or permanently delete the experiment from the .trash folder (under tracking server's root folder) in order to use this experiment name again.`,
          )
        return { experiment_id: createExperimentLocked(name), created: true }
      }, call)
    },

    async createRun(input, call) {
      checkTimestamp("start_time", input.start_time)
      for (const tag of input.tags) validateTag(tag)
      const params = newRunParams(input)
      await ensureStore(call)
      ensureTrash()
      const found = experimentById(input.experiment_id, false)
      if (!found)
        throw invalidInput(
          "tracking.experiment.not_found",
          `Could not create run under experiment with ID ${input.experiment_id} - no such experiment exists.`,
          `list the experiments in ${root}, or pass an experiment name to create one`,
        )
      if (found.experiment.lifecycle_stage !== "active")
        throw invalidInput("tracking.experiment.deleted", `Could not create run under non-active experiment with ID ${input.experiment_id}.`)
      const { runName, tags } = runNameAndTags(input)
      const info = newRunInfo(input, runName, found.experiment.artifact_location)
      const runId = info.run_id
      const meta = dumpMetaYaml(runMetaRecord(info))
      publishRunFolder(root, found.location.dir, runId, { meta, tags, params })

      runDirs.set(runId, { experiment: found.location, dir: join(found.location.dir, runId), runId })
      // After the run exists, so a failed createRun leaves the store exactly as it was.
      sweepFolder(root)
      sweepExperiment(sweepStamps, root, found.location.dir, input.experiment_id)
      return info
    },

    async getRun(runId) {
      return read.readRun(locateRun(runId))
    },

    async getRunInfo(runId) {
      return read.readRunInfoView(locateRun(runId))
    },

    async searchRuns(input) {
      return (await import("./file-store-search.ts")).searchFileStore(root, input)
    },

    async logBatch(runId, batch) {
      const params = batch.params ?? []
      const tags = batch.tags ?? []
      const metrics = batch.metrics ?? []
      validateBatch(params, tags, metrics)
      const { run, info } = activeRun(runId)
      for (const param of params) writeParam(run, param)
      appendMetrics(run, metrics)
      setTags(run, info, tags)
    },

    async setTag(runId, key, value) {
      validateTag({ key, value })
      const { run, info } = activeRun(runId)
      setTags(run, info, [{ key, value }])
    },

    async updateRun(runId, update) {
      if (update.end_time !== undefined) checkTimestamp("end_time", update.end_time)
      const active = activeRun(runId, update.unlessEnded ?? false)
      if (!active) return
      const { run, info } = active
      const terminal = update.status !== undefined && terminalStatuses.has(update.status)
      const next: StoredRunInfo = {
        ...info,
        status: update.status ?? info.status,
        // Ending a run without saying when means now, as MLflow's set_terminated does.
        end_time: update.end_time ?? (terminal ? Date.now() : info.end_time),
        run_name: update.run_name || info.run_name,
      }
      if (update.run_name) writeTag(run, { key: runNameTag, value: update.run_name })
      writeRunMeta(run, next)
    },

    async logMetric(runId, metric) {
      validateMetric(metric)
      const { run } = activeRun(runId)
      appendMetrics(run, [metric])
    },
  }
  return guardStore(store)
}
