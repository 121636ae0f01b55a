// The handle every backend returns for a started entry point.
import type { Emit } from "../events/event.ts"

export type RunOutcome = {
  /** The entry point's exit code, or null when a signal ended it. */
  exitCode: number | null
  signal: string | null
  /** The interrupt we received ("SIGINT", …), or null when the run ended by itself. */
  interrupted: string | null
  /** When the entry point ended (epoch ms): its leader's exit, before stragglers were stopped and output drained. */
  endedAt: number
}

export type RunHandle = {
  pid: number
  wait(): Promise<RunOutcome>
}

/** How every backend reports and stops a run: the same events, interrupts and grace period. */
export type RunControl = {
  runId: string
  /** True when output must arrive as `log` events (JSON or --events) rather than raw on the terminal. */
  captureOutput: boolean
  graceMs: number
  emit: Emit
  interrupt: AbortSignal
  forceInterrupt: AbortSignal
}
