// The interrupt policy every backend shares: forward the first signal, kill when the grace period ends or a second one arrives.
import type { RunControl } from "./types.ts"

export type InterruptActions = {
  /** Sends a signal ("SIGINT", "SIGTERM", …) to the entry point's process tree. */
  forward(signal: string): void
  /** Kills the entry point's process tree for good. */
  kill(): void
}

export type Escalation = {
  /** The signal we were interrupted with, or null when the run ended by itself. */
  interrupted(): string | null
  /** True once the tree was killed (the grace period ran out or a second interrupt came). */
  killed(): boolean
  /**
   * The entry point's leader has exited: what is left of its tree gets SIGTERM and is killed when the grace period
   * ends (or at once on an interrupt). An interrupt that already came keeps its own deadline.
   */
  stopRemaining(): void
  /** Stops listening and cancels a pending kill: call once nothing of the tree is left. */
  detach(): void
}

export const escalateInterrupts = (control: RunControl, actions: InterruptActions): Escalation => {
  const input = { ...control, ...actions }
  let interrupted: string | null = null
  let stopping = false
  let killed = false
  let killTimer: ReturnType<typeof setTimeout> | undefined
  const killNow = () => {
    clearTimeout(killTimer)
    if (killed) return
    killed = true
    input.emit({ type: "run.signal", run_id: input.runId, signal: "SIGKILL", action: "killed" })
    input.kill()
  }
  const armKill = () => {
    if (killTimer === undefined) killTimer = setTimeout(killNow, input.graceMs)
  }
  const onInterrupt = () => {
    // After the leader exited the run's outcome is known: an interrupt only hurries the stragglers.
    if (stopping) return killNow()
    interrupted = String(input.interrupt.reason ?? "SIGINT")
    input.emit({ type: "run.signal", run_id: input.runId, signal: interrupted, action: "forwarded" })
    input.forward(interrupted)
    armKill()
  }
  if (input.interrupt.aborted) onInterrupt()
  else input.interrupt.addEventListener("abort", onInterrupt, { once: true })
  input.forceInterrupt.addEventListener("abort", killNow, { once: true })
  return {
    interrupted: () => interrupted,
    killed: () => killed,
    stopRemaining() {
      if (stopping) return
      stopping = true
      // Background jobs of a non-interactive shell ignore SIGINT: what is left after the leader gets SIGTERM too.
      input.forward("SIGTERM")
      armKill()
    },
    detach() {
      clearTimeout(killTimer)
      input.interrupt.removeEventListener("abort", onInterrupt)
      input.forceInterrupt.removeEventListener("abort", killNow)
    },
  }
}
