// searchRuns over an mlruns folder: MLflow's FileStore._search_runs, reading only the files the query needs.
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { isToolError, ToolError } from "../errors.ts"
import { errnoOf } from "../util/fs-atomic.ts"
import * as read from "./file-store-read.ts"
import { normalizePosixPath } from "./key-rules.ts"
import { matcher, parseQuery, sortKeys, type RunView } from "./search-runs.ts"
import { compareRuns, type SortValue } from "./search-order.ts"
import type { Run, RunInfo, RunViewType, SearchRunsInput } from "./types.ts"

const runIdShape = /^[0-9a-f]{32}$/

/** A key names a file inside params/, tags/ or metrics/ only when it resolves to itself there (never `../x`). */
const isPlainKey = (key: string): boolean =>
  key !== "" && !key.includes("\0") && normalizePosixPath(key) === key && !key.startsWith("..") && !key.startsWith("/")

/** One value file, or undefined when there is none (a missing key, a key that is a folder of keys). */
const valueFile = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8")
  } catch (error) {
    const code = errnoOf(error)
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") return undefined
    throw error
  }
}

const memo = <T>(fn: (key: string) => T): ((key: string) => T) => {
  const known = new Map<string, T>()
  return (key) => {
    if (known.has(key)) return known.get(key) as T
    const value = fn(key)
    known.set(key, value)
    return value
  }
}

/** A run whose params, tags and metrics are read one file at a time, when a clause or an order key asks. */
const lazyView = (run: read.RunDir, info: RunInfo): RunView => {
  const at = (folder: string) => (key: string) => (isPlainKey(key) ? valueFile(join(run.dir, folder, key)) : undefined)
  const metricText = at("metrics")
  return {
    info,
    param: memo(at("params")),
    tag: memo(at("tags")),
    metric: memo((key) => {
      const text = metricText(key)
      return text === undefined ? undefined : read.latestInMetricFile(key, join(run.dir, "metrics", key), text)?.value
    }),
  }
}

const stages: Record<RunViewType, ReadonlySet<string>> = {
  ACTIVE_ONLY: new Set(["active"]),
  DELETED_ONLY: new Set(["deleted"]),
  ALL: new Set(["active", "deleted"]),
}

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * Like MLflow: unknown experiment ids add no runs, a folder without meta.yaml is not a run (said only when it is named
 * like one), a run whose meta.yaml names another experiment is left out. Unlike MLflow, a run whose meta.yaml or
 * metric files cannot be read is left out and reported instead of failing the whole search.
 */
export const searchFileStore = (root: string, input: SearchRunsInput): Run[] => {
  const query = parseQuery(input.filter, input.orderBy)
  if (query.filter.some((clause) => clause.type === "dataset"))
    throw new ToolError("unsupported", "datasets.* filters need a tracking server: mlproject's file-store search does not read dataset inputs", {
      hint: "filter on params, metrics, tags or attributes, or search through an MLflow tracking server",
    })
  const wanted = stages[input.runViewType ?? "ACTIVE_ONLY"]
  const unreadable = (run: read.RunDir, error: unknown) => {
    // Only filesystem and store-format failures are a bad run; anything else is a bug and surfaces.
    if (!isToolError(error) && errnoOf(error) === undefined) throw error
    input.onUnreadable?.({ run: run.runId, reason: reason(error) })
  }
  const matches = matcher(query.filter)
  const candidates: Array<{ run: read.RunDir; stored: ReturnType<typeof read.readRunInfo>; info: RunInfo; keys: SortValue[] }> = []
  for (const id of new Set(input.experimentIds)) {
    const experiment = read.findExperimentDir(root, id)
    if (experiment === null) continue
    for (const run of read.runDirsOf(experiment)) {
      if (!existsSync(join(run.dir, read.metaFile))) {
        if (runIdShape.test(run.runId)) input.onUnreadable?.({ run: run.runId, reason: `${join(run.dir, read.metaFile)} is missing` })
        continue
      }
      try {
        const stored = read.readRunInfo(run)
        if (!wanted.has(stored.lifecycle_stage)) continue
        const { deleted_time: _, ...info } = stored
        const view = lazyView(run, info)
        if (!matches(view)) continue
        candidates.push({ run, stored, info, keys: sortKeys(query.orderBy, view) })
      } catch (error) {
        unreadable(run, error)
      }
    }
  }
  candidates.sort(compareRuns(query.orderBy))
  const max = input.maxResults ?? Infinity
  const runs: Run[] = []
  for (const candidate of candidates) {
    if (runs.length >= max) break
    try {
      runs.push(read.readRun(candidate.run, candidate.stored))
    } catch (error) {
      unreadable(candidate.run, error)
    }
  }
  return runs
}
