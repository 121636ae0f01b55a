// Finds experiments and runs in an mlruns folder and reads them, as MLflow's FileStore lays them out.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { runNameTag, type Experiment, type Metric, type Run, type RunInfo } from "./types.ts"
import { errnoOf, isDirectory } from "../util/fs-atomic.ts"
import { isExperimentId } from "./experiment-id.ts"
import { parseMetaYaml, type MetaMap } from "./meta-yaml.ts"
import { experimentFromMeta, runInfoFromMeta, runSourceFromMeta, type RunSource, type StoredRunInfo } from "./meta-records.ts"
import { latestMetric, parseMetricLine } from "./metric-line.ts"

export const trashFolder = ".trash"
export const metaFile = "meta.yaml"
/** The model registry of a file store lives beside the experiments; it is not one. */
const registryFolder = "models"

export type ExperimentDir = { id: string; dir: string; inTrash: boolean }
export type RunDir = { experiment: ExperimentDir; dir: string; runId: string }

const subdirectories = (dir: string): string[] => {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(join(dir, entry.name))))
      .map((entry) => entry.name)
  } catch (error) {
    if (errnoOf(error) === "ENOENT" || errnoOf(error) === "ENOTDIR") return []
    throw error
  }
}

/**
 * Experiment folders in the root (active) then in .trash (deleted). Like MLflow, any name ending in
 * `.trash` and the registry's `models` are skipped; names MLflow would reject as ids are skipped too.
 */
export const experimentDirs = (root: string, which: "active" | "all" = "all"): ExperimentDir[] => {
  const active = subdirectories(root)
    .filter((name) => !name.endsWith(trashFolder) && name !== registryFolder && isExperimentId(name))
    .map((id) => ({ id, dir: join(root, id), inTrash: false }))
  if (which === "active") return active
  const trash = join(root, trashFolder)
  const deleted = subdirectories(trash)
    .filter(isExperimentId)
    .map((id) => ({ id, dir: join(trash, id), inTrash: true }))
  return [...active, ...deleted]
}

/** MLflow's _get_experiment_path with ViewType.ALL: the root first, then .trash. */
export const findExperimentDir = (root: string, id: string): ExperimentDir | null => {
  if (!isExperimentId(id) || id === registryFolder) return null
  if (isDirectory(join(root, id))) return { id, dir: join(root, id), inTrash: false }
  const trashed = join(root, trashFolder, id)
  return isDirectory(trashed) ? { id, dir: trashed, inTrash: true } : null
}

/** Folders inside an experiment that are never runs (experiment tags, 2.4+ datasets, 3.x traces and models). */
const reservedInExperiment = new Set(["tags", "datasets", "traces", "models"])

/** The folders of an experiment that may be runs (MLflow's _list_run_infos lists every sub-folder but the reserved ones). */
export const runDirsOf = (experiment: ExperimentDir): RunDir[] =>
  subdirectories(experiment.dir)
    .filter((name) => !reservedInExperiment.has(name))
    .map((runId) => ({ experiment, dir: join(experiment.dir, runId), runId }))

/** MLflow's _find_run_root: the first experiment folder, active then deleted, holding the run's folder. */
export const findRunDir = (root: string, runId: string): RunDir | null => {
  if (reservedInExperiment.has(runId)) return null
  for (const experiment of experimentDirs(root)) {
    const dir = join(experiment.dir, runId)
    if (isDirectory(dir)) return { experiment, dir, runId }
  }
  return null
}

const readText = (file: string): string | null => {
  try {
    return readFileSync(file, "utf8")
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return null
    throw error
  }
}

/** The experiment, or null when its folder has no meta.yaml (half made, or not an experiment). */
export const readExperiment = (location: ExperimentDir, withTags = true): Experiment | null => {
  const file = join(location.dir, metaFile)
  const source = readText(file)
  if (source === null) return null
  const tags = withTags ? readValueFiles(join(location.dir, "tags")) : {}
  const experiment = experimentFromMeta(parseMetaYaml(source, file), file, tags, location.inTrash)
  // MLflow ignores an experiment whose file names another id (a copied folder).
  return experiment.experiment_id === location.id ? experiment : null
}

const runMeta = (run: RunDir): { meta: MetaMap; file: string } => {
  const file = join(run.dir, metaFile)
  const source = readText(file)
  if (source === null)
    throw new ToolError("tracking.meta.corrupt", `Run '${run.runId}' has no ${file}`, {
      hint: "the run folder is incomplete; remove it if no run is being created there",
      exitCode: 1,
    })
  return { meta: parseMetaYaml(source, file), file }
}

/** The run's meta.yaml, checked against the folder it was found in. */
export const readRunInfo = (run: RunDir): StoredRunInfo => {
  const { meta, file } = runMeta(run)
  const info = runInfoFromMeta(meta, file, run.runId)
  if (info.experiment_id !== run.experiment.id)
    throw new ToolError(
      "tracking.meta.corrupt",
      `Run '${run.runId}' metadata is in invalid state: ${file} says experiment '${info.experiment_id}' but the run is in experiment folder '${run.experiment.id}'`,
      { exitCode: 1 },
    )
  return info
}

/** The legacy source fields of the run's meta.yaml (what a database store keeps in its runs table). */
export const readRunSource = (run: RunDir): RunSource => {
  const { meta, file } = runMeta(run)
  return runSourceFromMeta(meta, file)
}

/** Every file under `dir`, keyed by its path relative to `dir` with `/` (keys with `/` are sub-folders). */
const walkFiles = (dir: string, prefix = ""): Array<{ key: string; file: string }> => {
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch (error) {
    if (errnoOf(error) === "ENOENT" || errnoOf(error) === "ENOTDIR") return []
    throw error
  }
  return entries.flatMap((entry) => {
    const file = join(dir, entry.name)
    const key = prefix + entry.name
    if (entry.isDirectory()) return walkFiles(file, `${key}/`)
    return entry.isFile() || isFileLink(entry.isSymbolicLink(), file) ? [{ key, file }] : []
  })
}

const isFileLink = (isLink: boolean, file: string): boolean => isLink && !isDirectory(file) && readText(file) !== null

/** params/ and tags/: one file per key, the raw value as the file's whole content. */
export const readValueFiles = (dir: string): Record<string, string> =>
  Object.fromEntries(walkFiles(dir).map(({ key, file }) => [key, readText(file) ?? ""]))

/** Every point of one metric file's text, in file order. */
const metricsInFile = (key: string, file: string, text: string): Metric[] =>
  text
    .split(/\r\n|\r|\n/)
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const metric = parseMetricLine(key, line)
      if (metric === null) throw new ToolError("tracking.meta.corrupt", `Cannot read ${file}: malformed metric line '${line}'`, { exitCode: 1 })
      return metric
    })

/** The latest point of one metric file's text, as MLflow reports it. */
export const latestInMetricFile = (key: string, file: string, text: string): Metric | undefined => latestMetric(metricsInFile(key, file, text))

/** metrics/: the latest value of each key, as MLflow reports it. */
export const readLatestMetrics = (dir: string): Record<string, Metric> => {
  const latest: Record<string, Metric> = {}
  for (const { key, file } of walkFiles(dir)) {
    const last = latestInMetricFile(key, file, readText(file) ?? "")
    if (last) latest[key] = last
  }
  return latest
}

/** metrics/: every point of every key (the whole history), in file order. */
export const readMetricHistory = (dir: string): Metric[] => walkFiles(dir).flatMap(({ key, file }) => metricsInFile(key, file, readText(file) ?? ""))

/** A whole run as getRun returns it; runs written before run_name existed (1.x) take their name from the tag, as MLflow does. */
/** The run's info as getRun returns it, reading the name tag only for a run written before run_name existed. */
export const readRunInfoView = (run: RunDir): RunInfo => {
  const { deleted_time: _, ...info } = readRunInfo(run)
  return info.run_name ? info : { ...info, run_name: readText(join(run.dir, "tags", runNameTag)) ?? "" }
}

export const readRun = (run: RunDir, stored: StoredRunInfo = readRunInfo(run)): Run => {
  const { deleted_time: _, ...info } = stored
  const tags = readValueFiles(join(run.dir, "tags"))
  const data = { params: readValueFiles(join(run.dir, "params")), tags, metrics: readLatestMetrics(join(run.dir, "metrics")) }
  return { info: { ...info, run_name: info.run_name || tags["mlflow.runName"] || "" }, data }
}
