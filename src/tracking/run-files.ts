// Writes into an existing run folder: meta.yaml, params (never changed once set), tags, appended metrics.
import { mkdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { ToolError } from "../errors.ts"
import { runNameTag, type Metric, type Tag } from "./types.ts"
import { appendAtomic, createFileAtomic, isDirectory, writeFileAtomic } from "../util/fs-atomic.ts"
import { metaFile, type RunDir } from "./file-store-read.ts"
import { dumpMetaYaml } from "./meta-yaml.ts"
import { runMetaRecord, type StoredRunInfo } from "./meta-records.ts"
import { formatMetricLine } from "./metric-line.ts"

/** params/, metrics/ and tags/ may be missing in runs other tools wrote; keys with `/` need sub-folders. */
const ensureParent = (file: string, key: string): void => {
  const parent = dirname(file)
  if (key.includes("/") || !isDirectory(parent)) mkdirSync(parent, { recursive: true })
}

export const writeRunMeta = (run: RunDir, info: StoredRunInfo): void =>
  writeFileAtomic(join(run.dir, metaFile), dumpMetaYaml(runMetaRecord(info, info.deleted_time)))

// Temp files go in the run folder itself: MLflow reads every file under params/ and tags/ as a key.
export const writeTag = (run: RunDir, tag: Tag): void => {
  const file = join(run.dir, "tags", tag.key)
  ensureParent(file, tag.key)
  writeFileAtomic(file, tag.value, run.dir)
}

/** Re-logging the same value is a no-op; another value is MLflow's error. Two writers cannot both win. */
export const writeParam = (run: RunDir, param: Tag): void => {
  const file = join(run.dir, "params", param.key)
  ensureParent(file, param.key)
  if (createFileAtomic(file, param.value, run.dir)) return
  const current = readFileSync(file, "utf8")
  if (current === param.value) return
  throw new ToolError(
    "tracking.param.changed",
    `Changing param values is not allowed. Param with key='${param.key}' was already logged with value='${current}' for run ID='${run.runId}'. Attempted logging new value '${param.value}'.`,
    { hint: "a run's parameters are fixed once logged; start a new run to use other values", exitCode: 2 },
  )
}

/** The metrics grouped by key, in first-seen order (a loop: Map.groupBy's first call compiles a builtin, ~0.3 ms a command). */
const byKey = (metrics: readonly Metric[]): Map<string, Metric[]> => {
  const groups = new Map<string, Metric[]>()
  for (const metric of metrics) {
    const group = groups.get(metric.key)
    if (group) group.push(metric)
    else groups.set(metric.key, [metric])
  }
  return groups
}

export const appendMetrics = (run: RunDir, metrics: readonly Metric[]): void => {
  for (const [key, values] of byKey(metrics)) {
    const file = join(run.dir, "metrics", key)
    ensureParent(file, key)
    // A new metric file is built in the run folder itself: MLflow reads every file under metrics/ as a metric.
    appendAtomic(file, values.map(formatMetricLine).join(""), run.dir)
  }
}

/** Tags in order; MLflow keeps meta.yaml's run_name in step with the mlflow.runName tag. */
export const setTags = (run: RunDir, info: StoredRunInfo, tags: readonly Tag[]): void => {
  let current = info
  for (const tag of tags) {
    writeTag(run, tag)
    if (tag.key !== runNameTag) continue
    current = { ...current, run_name: tag.value }
    writeRunMeta(run, current)
  }
}
