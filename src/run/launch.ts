// Prepares the planned entry point on its backend and runs it: attempts (retries), a time limit, the start of each.
import { backendNamed, type BackendName } from "../backend/index.ts"
import type { BackendRecord, LaunchTarget, Output, Prepared, RunControl, RunOutcome } from "../backend/types.ts"
import type { RunContext } from "./context.ts"

export const backendOf = (target: Pick<LaunchTarget, "plan">): BackendName => (target.plan.databricks ? "databricks" : target.plan.kube ? "kubernetes" : target.plan.docker ? "docker" : "local")

/** Builds or pulls what the entry point needs (environment, image, container): everything that can fail early. */
export const prepareLaunch = async (target: LaunchTarget, context: RunContext): Promise<Prepared> => (await backendNamed(backendOf(target))).prepare(target, context)

export type Attempts = {
  retries: number
  /** Stop the run (like an interrupt) once it has run this long, all attempts together; null: no limit. */
  timeoutMs: number | null
  /** Called as each attempt starts, with where it runs. */
  onStarted(at: number, attempt: number, record: BackendRecord, pid: number | null): void
}

export type AttemptsResult = {
  outcome: RunOutcome
  attempts: number
  timedOut: boolean
  /** The last attempt's `settled` (see RunHandle): the caller writes the final status meanwhile, then releases. */
  settled: Promise<void>
}

/** The signal a time limit stops the entry point with, as an interrupt would. */
const timeoutSignal = "SIGTERM"

/**
 * Starts the prepared entry point and waits for it; a FAILED attempt is started again up to `retries` times (never
 * after an interrupt or a timeout). The time limit counts from the first start and stops the run like an interrupt.
 */
export const runAttempts = async (prepared: Prepared, control: Omit<RunControl, "output"> & { output: Output }, attempts: Attempts): Promise<AttemptsResult> => {
  const backend = await backendNamed(prepared.spec.backend)
  const limit = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const interrupt = AbortSignal.any([control.interrupt, limit.signal])
  try {
    for (let attempt = 1; ; attempt++) {
      const handle = await backend.start(prepared.spec, prepared.env, { ...control, interrupt })
      const at = Date.now()
      if (attempt === 1 && attempts.timeoutMs !== null) timer = setTimeout(() => limit.abort(timeoutSignal), attempts.timeoutMs)
      attempts.onStarted(at, attempt, handle.record, handle.pid)
      const outcome = await handle.wait()
      const settled = handle.settled?.() ?? Promise.resolve()
      const timedOut = limit.signal.aborted && !control.interrupt.aborted
      const failed = outcome.exitCode !== 0 && !outcome.interrupted && !timedOut
      if (!failed || attempt > attempts.retries || interrupt.aborted) return { outcome, attempts: attempt, timedOut, settled }
      await settled
      control.emit({ type: "run.retrying", run_id: control.runId, attempt: attempt + 1, exit_code: outcome.exitCode })
    }
  } finally {
    clearTimeout(timer)
  }
}
