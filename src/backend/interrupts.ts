// The interrupt policy every backend shares: forward the first signal, kill when the grace period ends or a second one arrives.
import type { RunControl } from "./types.ts"

export type InterruptActions = {
  /** Sends the interrupting signal ("SIGINT", …) to the entry point's process tree. */
  forward(signal: string): void
  /** Kills the entry point's process tree for good. */
  kill(): void
}

export type Escalation = {
  /** The signal we were interrupted with, or null when the run ended by itself. */
  interrupted(): string | null
  /** Stops listening and cancels a pending kill: call once the entry point has exited. */
  detach(): void
}

export const escalateInterrupts = (control: RunControl, actions: InterruptActions): Escalation => {
  const input = { ...control, ...actions }
  let interrupted: string | null = null
  let killTimer: ReturnType<typeof setTimeout> | undefined
  const killNow = () => {
    input.emit({ type: "run.signal", run_id: input.runId, signal: "SIGKILL", action: "killed" })
    input.kill()
  }
  const onInterrupt = () => {
    interrupted = String(input.interrupt.reason ?? "SIGINT")
    input.emit({ type: "run.signal", run_id: input.runId, signal: interrupted, action: "forwarded" })
    input.forward(interrupted)
    killTimer = setTimeout(killNow, input.graceMs)
  }
  const onForce = () => {
    clearTimeout(killTimer)
    killNow()
  }
  if (input.interrupt.aborted) onInterrupt()
  else input.interrupt.addEventListener("abort", onInterrupt, { once: true })
  input.forceInterrupt.addEventListener("abort", onForce, { once: true })
  return {
    interrupted: () => interrupted,
    detach() {
      clearTimeout(killTimer)
      input.interrupt.removeEventListener("abort", onInterrupt)
      input.forceInterrupt.removeEventListener("abort", onForce)
    },
  }
}
