// How a run that existed ends: its final status and tags written (bounded after an interrupt), its record, `run.finished`.
import type { RunOutcome } from "../backend/types.ts"
import { errorEvent, errorReason } from "../events/error-event.ts"
import type { Tag, Store } from "../tracking/types.ts"
import { redactUrl } from "../util/redact.ts"
import type { RunContext } from "./context.ts"
import { recordStatus } from "./record.ts"
import { updateRecord, type FinalStatus, type RunRecord } from "./records.ts"
import { isInterruption, writeBudget } from "./write-budget.ts"

export type Ending = {
  outcome: RunOutcome | null
  /** What failed before or around the entry point (an environment build, a store write), if anything did. */
  failure: unknown
  attempts: number
  timedOut: boolean
  /** When the first attempt started; null when the entry point never started. */
  startedAt: number | null
}

export type RunFacts = { store: Store; runId: string; experimentId: string; trackingUri: string; graceMs: number; retries: number; timeoutMs: number | null }

const exitCodes: Record<FinalStatus, number> = { FINISHED: 0, FAILED: 1, KILLED: 130 }
// As timeout(1) and GNU parallel report a time limit.
const timeoutExit = 124

const formatMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)

/** Records the end of the run and emits `run.finished` (after an `error` for a failure); returns the exit code. */
export const finishRun = async (facts: RunFacts, ending: Ending, record: RunRecord | null, context: RunContext & { env: RunContext["env"] }): Promise<number> => {
  const { store, runId } = facts
  const { outcome, failure, timedOut } = ending
  // An interrupt that stopped the setup (an image pull, an environment build, a store call) ends the run as KILLED.
  const killed = outcome === null && (context.interrupt.aborted || isInterruption(failure, context))
  const status: FinalStatus = timedOut ? "FAILED" : killed || outcome?.interrupted ? "KILLED" : outcome?.exitCode === 0 ? "FINISHED" : "FAILED"
  const endTime = outcome?.endedAt ?? Date.now()
  const failed = failure !== null && !killed ? errorEvent(failure, runId).event : null
  if (failed) context.emit(failed)

  const tags: Tag[] = [
    ...(timedOut && facts.timeoutMs !== null ? [{ key: "mlproject.timeout", value: formatMs(facts.timeoutMs) }] : []),
    ...(facts.retries > 0 && ending.attempts > 0 ? [{ key: "mlproject.attempts", value: String(ending.attempts) }] : []),
  ]
  const budget = writeBudget(context, facts.graceMs)
  let recorded = true
  try {
    // After an interrupt the writes get what is left of the grace period: a hung store cannot hold the exit.
    if (tags.length > 0) await budget((call) => store.logBatch(runId, { tags }, call))
    await budget((call) => recordStatus(store, runId, status, endTime, call))
  } catch (error) {
    recorded = false
    context.emit({
      type: "warning",
      code: "run.status_not_recorded",
      message: `run ${runId} could not be recorded as ${status} in ${redactUrl(store.location)}: ${errorReason(error)}`,
      hint: "it stays RUNNING there; end it with MLflow (MlflowClient().set_terminated(run_id, status)) once the store is reachable",
    })
  }
  const reason = timedOut ? `stopped after the time limit of ${formatMs(facts.timeoutMs ?? 0)}` : failed ? failed.message : undefined
  if (record) updateRecord(context.env, record, { ended: endTime, status, exit_code: outcome?.exitCode ?? null, attempts: ending.attempts, ...(reason ? { reason } : {}) })
  context.emit({
    type: "run.finished",
    run_id: runId,
    status,
    exit_code: outcome?.exitCode ?? null,
    signal: outcome ? (outcome.interrupted ?? outcome.signal) : killed ? String(context.interrupt.reason ?? "SIGINT") : null,
    duration_ms: ending.startedAt === null ? 0 : Math.max(0, endTime - ending.startedAt),
    tracking_uri: redactUrl(facts.trackingUri),
    experiment_id: facts.experimentId,
    ...(failed ? { error_code: failed.code } : {}),
    ...(timedOut ? { timed_out: true } : {}),
    ...(facts.retries > 0 ? { attempts: ending.attempts } : {}),
    recorded,
  })
  if (timedOut) return timeoutExit
  // A finished run whose status could not be written is not a success for a caller that relies on the record; an
  // interrupt that cut the final write still ends the command as interrupted.
  if (!recorded) return context.interrupt.aborted ? 130 : status === "FINISHED" ? 1 : exitCodes[status]
  return exitCodes[status]
}
