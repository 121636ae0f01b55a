// A run found again from any later process: its state (store + this machine's record), reconciled when its owner died.
import { backendNamed } from "../backend/index.ts"
import { ToolError } from "../errors.ts"
import { storeFor } from "../tracking/index.ts"
import { redactUri, resolveTrackingUri } from "../tracking/tracking-uri.ts"
import { terminalStatuses, type Run, type RunStatus, type Store } from "../tracking/types.ts"
import { hostTag, isAlive, parseOwnerTag } from "../util/owner.ts"
import { readRecord, updateRecord, type RunRecord } from "./records.ts"

type Env = Record<string, string | undefined>

export type Located = { store: Store; trackingUri: string; env: Env }

/** The tracking store a control command reads: --tracking-uri, else MLFLOW_TRACKING_URI, else the default. */
export const locate = (env: Env, cwd: string, given: string | undefined): Located => {
  const withUri = given === undefined ? env : { ...env, MLFLOW_TRACKING_URI: given }
  const trackingUri = resolveTrackingUri(withUri, cwd)
  return { store: storeFor(trackingUri, withUri), trackingUri, env: withUri }
}

export type RunState = {
  run_id: string
  status: RunStatus
  backend: string | null
  detached: boolean
  start_time: number
  end_time: number | null
  exit_code: number | null
  /** Why it ended as it did when the exit code does not say (a timeout, a reconciliation, a failure before the start). */
  reason: string | null
  tracking_uri: string
}

/** The run from the store, with this machine's record of it (null when it was started elsewhere or by MLflow). */
export const findRun = async (runId: string, where: Located, signal?: AbortSignal): Promise<{ run: Run; record: RunRecord | null }> => {
  if (!/^[0-9a-f]{32}$/.test(runId)) throw new ToolError("usage", `'${runId}' is not a run id (32 hex characters)`)
  const record = readRecord(where.env, runId)
  try {
    return { run: await where.store.getRun(runId, { signal }), record }
  } catch (error) {
    if (!(error instanceof ToolError) || error.code !== "tracking.run.not_found") throw error
    // A run this machine started in another store: say which, rather than "not found".
    if (record && record.tracking_uri !== redactUri(where.trackingUri)) {
      throw new ToolError("run.other_store", `run ${runId} is recorded in ${record.tracking_uri}, not in ${redactUri(where.trackingUri)}`, {
        hint: `pass --tracking-uri ${record.tracking_uri} (or set MLFLOW_TRACKING_URI)`,
        runId,
      })
    }
    throw new ToolError("run.not_found", `run ${runId} does not exist in ${redactUri(where.trackingUri)}`, { hint: "check the run id, and the tracking store (--tracking-uri)", runId })
  }
}

/** True when the record's owner ran on this host and is gone; null when it cannot be judged from here. */
export const ownerDead = (record: RunRecord): boolean | null => {
  const owner = parseOwnerTag(record.owner)
  if (!owner || owner.host !== hostTag()) return null
  return !isAlive(owner)
}

export const stateOf = (run: Run, record: RunRecord | null, trackingUri: string): RunState => ({
  run_id: run.info.run_id,
  status: run.info.status,
  backend: record?.backend ?? run.data.tags["mlflow.project.backend"] ?? null,
  detached: record?.detached ?? false,
  start_time: run.info.start_time,
  end_time: run.info.end_time,
  exit_code: record?.exit_code ?? null,
  reason: record?.reason ?? run.data.tags["mlproject.failure"] ?? null,
  tracking_uri: redactUri(trackingUri),
})

/**
 * A RUNNING run whose owner (the `mlproject run`, or a detached run's supervisor) died without recording its end
 * never stays RUNNING: what is left of its entry point is stopped, and it is recorded as `status` (FAILED, or KILLED
 * for a cancel) with a tag saying why. A record that has the end the store missed (a failed final write) is replayed.
 */
export const reconcile = async (found: { run: Run; record: RunRecord | null }, where: Located, as: "FAILED" | "KILLED" = "FAILED"): Promise<Run> => {
  const { run, record } = found
  if (terminalStatuses.has(run.info.status) || !record) return run
  const runId = run.info.run_id
  if (record.ended && record.status) {
    await where.store.updateRun(runId, { status: record.status, end_time: record.ended })
    return where.store.getRun(runId)
  }
  if (ownerDead(record) !== true) return run
  if (record.process) {
    const backend = await backendNamed(record.process.backend)
    await backend.stop(record.process, where.env, record.grace_ms).catch(() => {})
  }
  const owner = parseOwnerTag(record.owner)
  const who = record.detached ? "its supervisor" : "the mlproject process that ran it"
  const reason = as === "KILLED" ? `cancelled after ${who} (pid ${owner?.pid}) had died` : `${who} (pid ${owner?.pid}) died before the run ended`
  const ended = Date.now()
  await where.store.setTag(runId, "mlproject.failure", reason)
  await where.store.updateRun(runId, { status: as, end_time: ended })
  updateRecord(where.env, record, { ended, status: as, exit_code: null, reason })
  return where.store.getRun(runId)
}
