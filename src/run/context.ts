// What a run receives from the process edge: the event sink, the environment, and the interrupt signals.
import type { Emit } from "../events/event.ts"

export type RunContext = {
  emit: Emit
  env: Record<string, string | undefined>
  cwd: string
  /** True when the entry point's output must arrive as `log` events (JSON or --events), not the raw terminal. */
  captureOutput: boolean
  /** Aborted with the signal name ("SIGINT", …) on the first interrupt. */
  interrupt: AbortSignal
  /** Aborted on a second interrupt: stop waiting for a graceful exit. */
  forceInterrupt: AbortSignal
}
