// The text view of a Databricks run's life cycle: what the Jobs service reports and, when it ends badly, why.
import type { Event } from "./event.ts"

type Of<T extends Event["type"]> = Extract<Event, { type: T }>

const phrases: Record<string, string> = {
  PENDING: "pending (waiting for its cluster)",
  QUEUED: "queued",
  RUNNING: "running",
  TERMINATING: "terminating",
  TERMINATED: "terminated",
  SKIPPED: "skipped",
  INTERNAL_ERROR: "ended with an internal error",
  BLOCKED: "blocked",
  WAITING_FOR_RETRY: "waiting for a retry",
}

export const databricksStateText = (e: Of<"databricks.run.state">): string => {
  const state = phrases[e.life_cycle_state] ?? e.life_cycle_state
  const result = e.result_state ? ` ${e.result_state}` : ""
  // The service repeats a bland message while things go well; it matters when the run waits or fails.
  const message = e.state_message && e.result_state !== "SUCCESS" ? `: ${e.state_message}` : ""
  return `Databricks run ${e.databricks_run_id} ${state}${result}${message}`
}
