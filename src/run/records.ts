// The records of started runs ($MLPROJECT_HOME/runs/<run id>/): what status, wait, cancel and logs find a run by later.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { BackendRecord, LaunchSpec } from "../backend/types.ts"
import { errnoOf, writeFileAtomic } from "../util/fs-atomic.ts"
import { cacheDir } from "../util/paths.ts"

type Env = Readonly<Record<string, string | undefined>>

export type FinalStatus = "FINISHED" | "FAILED" | "KILLED"

/**
 * One run as this machine knows it. No secret is kept here: the tracking URI without credentials, and the entry
 * point's environment only ever travels as a process environment.
 */
export type RunRecord = {
  version: 1
  run_id: string
  experiment_id: string
  /** The store, without credentials: a later command checks it names the store it reads. */
  tracking_uri: string
  backend: LaunchSpec["backend"]
  /** True for `run --detach`: a supervisor owns the run and writes its output to `output.log`. */
  detached: boolean
  /** The owning process (`<host>-<pid>-<start>`): the `mlproject run` itself, or the detached run's supervisor. */
  owner: string
  created: number
  grace_ms: number
  timeout_ms: number | null
  retries: number
  command: string
  cwd: string
  /** The latest attempt's start and where it runs. */
  started?: number
  process?: BackendRecord
  /** Detached runs: what the supervisor starts, the leases it takes over, the folders it removes at the end. */
  spec?: LaunchSpec
  leases?: string[]
  cleanup?: string[]
  /** Set once the run has ended. */
  ended?: number
  status?: FinalStatus
  exit_code?: number | null
  attempts?: number
  /** Why it ended as it did, when that is not the exit code (a timeout, a failure before the start, a reconciliation). */
  reason?: string
}

export const runDir = (env: Env, runId: string): string => join(cacheDir("runs", env), runId)
export const logPath = (env: Env, runId: string): string => join(runDir(env, runId), "output.log")
export const eventsPath = (env: Env, runId: string): string => join(runDir(env, runId), "events.jsonl")
const recordPath = (env: Env, runId: string): string => join(runDir(env, runId), "record.json")

export const writeRecord = (env: Env, record: RunRecord): void => {
  mkdirSync(runDir(env, record.run_id), { recursive: true })
  writeFileAtomic(recordPath(env, record.run_id), `${JSON.stringify(record)}\n`)
}

/** The record of a run, or null when this machine has none (started elsewhere, by MLflow, or collected). */
export const readRecord = (env: Env, runId: string): RunRecord | null => {
  try {
    const record = JSON.parse(readFileSync(recordPath(env, runId), "utf8")) as RunRecord
    return record.version === 1 && record.run_id === runId ? record : null
  } catch (error) {
    if (errnoOf(error) === "ENOENT" || errnoOf(error) === "ENOTDIR" || error instanceof SyntaxError) return null
    throw error
  }
}

/**
 * Writes the record with `patch` applied, best effort: a record that cannot be written never fails a run. It is
 * rewritten in place (creating files is what costs on slow disks); a crash in that instant loses the record, which
 * later commands then treat as absent.
 */
export const updateRecord = (env: Env, record: RunRecord, patch: Partial<RunRecord>): RunRecord => {
  const next = { ...record, ...patch }
  try {
    writeFileSync(recordPath(env, next.run_id), `${JSON.stringify(next)}\n`)
  } catch {
    // A full or read-only cache loses only the later commands' view of this run; the store has the truth.
  }
  return next
}
