// Converts experiments and runs to and from the meta.yaml records of MLflow's FileStore, every era.
import type { Experiment, RunInfo, RunStatus } from "./types.ts"
import { corruptMeta, metaInt, metaString, type MetaMap, type MetaValue } from "./meta-yaml.ts"

/** meta.yaml keeps the proto enum numbers (service.proto RunStatus). */
export const statusCodes: Readonly<Record<RunStatus, number>> = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 }
const statusNames = new Map(Object.entries(statusCodes).map(([name, code]) => [code, name as RunStatus]))

/** SourceType.LOCAL: MLflow's FileStore writes it for every run, PROJECT runs included. */
const sourceTypeLocal = 4

/**
 * The run record we write is MLflow 2.x's key set WITH `run_uuid` (and without `deleted_time` unless the
 * run is deleted, as MLflow leaves it once the run's first update rewrites the file). It reads back in
 * every MLflow from 2.0 to 3.x: 3.x drops unknown keys such as run_uuid when it loads a RunInfo, while
 * 2.x's RunInfo requires run_uuid and fails on the 3.x record that lacks it. MLflow 1.x also reads it,
 * ignoring run_name. `tags: []` and the empty legacy source fields are kept for the same old readers.
 */
export const runMetaRecord = (info: RunInfo, deletedTime?: number | null): Record<string, MetaValue> => ({
  artifact_uri: info.artifact_uri,
  end_time: info.end_time,
  entry_point_name: "",
  experiment_id: info.experiment_id,
  lifecycle_stage: info.lifecycle_stage,
  run_id: info.run_id,
  run_name: info.run_name,
  run_uuid: info.run_id,
  source_name: "",
  source_type: sourceTypeLocal,
  source_version: "",
  start_time: info.start_time,
  status: statusCodes[info.status],
  tags: [],
  user_id: info.user_id,
  ...(deletedTime === undefined || deletedTime === null ? {} : { deleted_time: deletedTime }),
})

export type StoredRunInfo = RunInfo & { deleted_time: number | null }

/** The legacy source fields of a run record, as a database store's runs table holds them (source_type by name). */
export type RunSource = { source_type: string; source_name: string; entry_point_name: string; source_version: string }

/** service.proto SourceType: meta.yaml keeps the number, a database its name. */
const sourceTypeNames: Readonly<Record<string, string>> = { "1": "NOTEBOOK", "2": "JOB", "3": "PROJECT", "4": "LOCAL", "1000": "UNKNOWN" }

/** Reads the source fields; a missing or unknown source_type is LOCAL, what MLflow's FileStore writes for every run. */
export const runSourceFromMeta = (meta: MetaMap, file: string): RunSource => {
  const text = metaString(meta, "source_type")?.trim() ?? ""
  const named = /^\d+$/.test(text) ? sourceTypeNames[String(metaInt(meta, "source_type", file))] : Object.values(sourceTypeNames).find((name) => name === text)
  return {
    source_type: named ?? "LOCAL",
    source_name: metaString(meta, "source_name") ?? "",
    entry_point_name: metaString(meta, "entry_point_name") ?? "",
    source_version: metaString(meta, "source_version") ?? "",
  }
}

/** Reads 0.x–3.x records: `name` (1.x) or `run_name` (2.x+), with or without run_uuid or lifecycle_stage. */
export const runInfoFromMeta = (meta: MetaMap, file: string, folderName: string): StoredRunInfo => {
  const experimentId = metaString(meta, "experiment_id")
  if (experimentId === undefined || experimentId === null) throw corruptMeta(file, "no experiment_id")
  const code = metaInt(meta, "status", file) ?? statusCodes.RUNNING
  const status = statusNames.get(code)
  if (status === undefined) throw corruptMeta(file, `unknown run status ${code}`)
  return {
    run_id: metaString(meta, "run_id") ?? metaString(meta, "run_uuid") ?? folderName,
    experiment_id: experimentId,
    run_name: metaString(meta, "run_name") ?? "",
    user_id: metaString(meta, "user_id") ?? "",
    status,
    start_time: metaInt(meta, "start_time", file) ?? 0,
    end_time: metaInt(meta, "end_time", file) ?? null,
    artifact_uri: metaString(meta, "artifact_uri") ?? "",
    lifecycle_stage: metaString(meta, "lifecycle_stage") === "deleted" ? "deleted" : "active",
    deleted_time: metaInt(meta, "deleted_time", file) ?? null,
  }
}

/** MLflow 2.x/3.x experiment record: the Experiment's fields without tags (tags live in tags/). */
export const experimentMetaRecord = (experiment: Experiment): Record<string, MetaValue> => ({
  artifact_location: experiment.artifact_location,
  creation_time: experiment.creation_time ?? null,
  experiment_id: experiment.experiment_id,
  last_update_time: experiment.last_update_time ?? null,
  lifecycle_stage: experiment.lifecycle_stage,
  name: experiment.name,
})

/**
 * Reads 0.x–3.x experiment records (0.x: int experiment_id, no lifecycle_stage; 1.x: no times).
 * An experiment under .trash is reported deleted even when its file still says active, as files that
 * old MLflow versions moved there do.
 */
export const experimentFromMeta = (
  meta: MetaMap,
  file: string,
  tags: Record<string, string>,
  inTrash: boolean,
): Experiment => {
  const experimentId = metaString(meta, "experiment_id")
  if (experimentId === undefined || experimentId === null) throw corruptMeta(file, "no experiment_id")
  const creation = metaInt(meta, "creation_time", file)
  const lastUpdate = metaInt(meta, "last_update_time", file)
  return {
    experiment_id: experimentId,
    name: metaString(meta, "name") ?? "",
    artifact_location: metaString(meta, "artifact_location") ?? "",
    lifecycle_stage: inTrash || metaString(meta, "lifecycle_stage") === "deleted" ? "deleted" : "active",
    ...(typeof creation === "number" ? { creation_time: creation } : {}),
    ...(typeof lastUpdate === "number" ? { last_update_time: lastUpdate } : {}),
    tags,
  }
}
