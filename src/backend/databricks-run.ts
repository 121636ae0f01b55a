// A submitted Databricks run followed to its end: life-cycle changes as events, cancel on interrupt, the task's output at the end.
import { ToolError } from "../errors.ts"
import type { DatabricksApi } from "./databricks-api.ts"
import { lineWriter } from "./output-lines.ts"
import type { RunControl, RunOutcome } from "./types.ts"

type RunState = { life_cycle_state?: string; result_state?: string; state_message?: string; user_cancelled_or_timedout?: boolean }
export type JobRun = { run_id?: number; job_id?: number; run_page_url?: string; state?: RunState; tasks?: Array<{ run_id?: number; state?: RunState }> }
type RunOutput = { logs?: string; logs_truncated?: boolean; error?: string; error_trace?: string }

const terminalStates = new Set(["TERMINATED", "SKIPPED", "INTERNAL_ERROR"])

// Polling starts fast (a run on a running cluster starts in seconds) and backs off to MLflow's 30 s while nothing changes.
const firstPollMs = 1000
const maxPollMs = 30_000
const cancelPollMs = 500

export const isTerminal = (run: JobRun): boolean => terminalStates.has(run.state?.life_cycle_state ?? "")

export const getRun = (api: DatabricksApi, runId: number, signal?: AbortSignal): Promise<JobRun> =>
  api.call<JobRun>("GET", "/api/2.1/jobs/runs/get", { query: { run_id: String(runId) }, signal })

export const cancelRun = (api: DatabricksApi, runId: number, signal?: AbortSignal): Promise<unknown> =>
  api.call("POST", "/api/2.1/jobs/runs/cancel", { body: { run_id: runId }, signal })

/** The task's output: the API refuses `runs/get-output` on the parent id that `runs/submit` returns, so the task run's id is used. */
export const taskOutput = async (api: DatabricksApi, run: JobRun, signal?: AbortSignal): Promise<RunOutput | null> => {
  const taskRunId = run.tasks?.[0]?.run_id
  if (taskRunId === undefined) return null
  return api.call<RunOutput>("GET", "/api/2.1/jobs/runs/get-output", { query: { run_id: String(taskRunId) }, signal })
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true })
  })

const stateKey = (run: JobRun) => `${run.state?.life_cycle_state}/${run.state?.result_state ?? ""}`

export type FollowInput = RunControl & { api: DatabricksApi; databricksRunId: number }

/** Polls `runs/get` until the run ends; an interrupt sends `runs/cancel` once and waits (bounded) for the cancellation. */
export const followRun = async (input: FollowInput): Promise<RunOutcome> => {
  const { api, databricksRunId } = input
  const line = lineWriter(input.output, input.emit)
  let interrupted: string | null = null
  let cancelling: Promise<unknown> | null = null
  const wake = new AbortController()
  const onInterrupt = () => {
    interrupted = String(input.interrupt.reason ?? "SIGINT")
    input.emit({ type: "run.signal", run_id: input.runId, signal: interrupted, action: "forwarded" })
    cancelling = cancelRun(api, databricksRunId).catch((error: unknown) => error)
    wake.abort()
  }
  if (input.interrupt.aborted) onInterrupt()
  else input.interrupt.addEventListener("abort", onInterrupt, { once: true })
  let seen = ""
  let delay = firstPollMs
  let deadline = Number.POSITIVE_INFINITY
  try {
    for (;;) {
      // A store call cut by the interrupt must not end the wait for the cancellation: the poll itself is not interruptible.
      const run = await getRun(api, databricksRunId)
      if (stateKey(run) !== seen) {
        seen = stateKey(run)
        delay = firstPollMs
        input.emit({
          type: "databricks.run.state",
          run_id: input.runId,
          databricks_run_id: databricksRunId,
          life_cycle_state: run.state?.life_cycle_state ?? "UNKNOWN",
          result_state: run.state?.result_state ?? null,
          state_message: run.state?.state_message || null,
          url: run.run_page_url ?? null,
        })
      }
      if (isTerminal(run)) return await ending(input, run, interrupted, line)
      if (interrupted !== null) {
        if (deadline === Number.POSITIVE_INFINITY) deadline = Date.now() + input.graceMs + 30_000
        const cancelError: unknown = await (cancelling as Promise<unknown> | null)
        if (cancelError instanceof Error) throw cancelError
        if (Date.now() > deadline || input.forceInterrupt.aborted) {
          return { exitCode: null, signal: null, interrupted, endedAt: Date.now() }
        }
        await sleep(cancelPollMs, input.forceInterrupt)
        continue
      }
      await sleep(delay, wake.signal)
      delay = Math.min(maxPollMs, Math.round(delay * 1.5))
    }
  } finally {
    input.interrupt.removeEventListener("abort", onInterrupt)
  }
}

const ending = async (input: FollowInput, run: JobRun, interrupted: string | null, line: (text: string) => void): Promise<RunOutcome> => {
  const output = await taskOutput(input.api, run).catch((error: unknown) => {
    input.emit({ type: "warning", code: "databricks.output", message: `the output of Databricks run ${input.databricksRunId} could not be read: ${(error as Error).message}` })
    return null
  })
  if (output?.logs) for (const text of output.logs.replace(/\n$/, "").split("\n")) line(text)
  if (output?.logs_truncated) input.emit({ type: "warning", code: "databricks.output", message: "Databricks kept only the end of the output: the whole log is in the cluster's driver logs" })
  const endedAt = Date.now()
  const state = run.state ?? {}
  if (state.result_state === "SUCCESS") return { exitCode: 0, signal: null, interrupted, endedAt }
  // Cancelled here, by `mlproject cancel` or in the workspace: the run is KILLED, as a local run stopped by a signal.
  if (state.result_state === "CANCELED") return { exitCode: null, signal: null, interrupted: interrupted ?? "CANCELED", endedAt }
  const why = [state.result_state ?? state.life_cycle_state, state.state_message].filter(Boolean).join(": ")
  const detail = output?.error ? `\n${output.error}` : ""
  throw new ToolError("databricks.run.failed", `Databricks run ${input.databricksRunId} ended ${why}${detail}`, {
    exitCode: 1,
    runId: input.runId,
    hint: run.run_page_url ? `see ${run.run_page_url}` : undefined,
  })
}
