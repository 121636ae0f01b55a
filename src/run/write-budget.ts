// Bounds the tracking writes made after an interrupt, so a hung tracking server cannot hold the exit past the grace period.
import { ToolError } from "../errors.ts"
import type { CallOptions } from "../tracking/types.ts"
import type { RunContext } from "./context.ts"

// Enough for a healthy server to answer, short enough that `--grace 1` still exits within about a second of the kill.
const minMs = 500
const maxMs = 5_000

/** Runs one tracking write with the budget it has; the write rejects with the signal's reason when it runs out. */
export type Budgeted = <T>(write: (call: CallOptions) => Promise<T>) => Promise<T>

/** A ToolError with exit code 130, an abort, or the interrupt's own reason: what a stopped call rejects with. */
export const isInterruption = (error: unknown, context: RunContext): boolean =>
  context.interrupt.aborted &&
  ((error instanceof ToolError && error.exitCode === 130) ||
    error === context.interrupt.reason ||
    error === context.forceInterrupt.reason ||
    error instanceof WriteCut ||
    (error as Error)?.name === "AbortError")

/** The budget ran out: the server did not answer in time after an interrupt. */
export class WriteCut extends Error {
  override name = "WriteCut"
}

/**
 * From the first interrupt on, each write gets what is left of the grace period (at least 0.5 s, at most 5 s);
 * a second interrupt ends it at once. Before any interrupt a write is bounded only by the store's own timeouts,
 * and an interrupt arriving while it waits starts its clock.
 */
export const writeBudget = (context: RunContext, graceMs: number): Budgeted => {
  let interruptedAt: number | null = context.interrupt.aborted ? performance.now() : null
  context.interrupt.addEventListener("abort", () => (interruptedAt ??= performance.now()), { once: true })
  return async (write) => {
    const controller = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    const arm = () => {
      const left = (interruptedAt ?? performance.now()) + graceMs - performance.now()
      const ms = Math.min(maxMs, Math.max(minMs, left))
      timer = setTimeout(() => controller.abort(new WriteCut(`no answer within ${ms / 1000} s of the interrupt`)), ms)
    }
    if (context.interrupt.aborted) arm()
    else context.interrupt.addEventListener("abort", arm, { once: true })
    try {
      return await write({ signal: AbortSignal.any([controller.signal, context.forceInterrupt]) })
    } finally {
      clearTimeout(timer)
      context.interrupt.removeEventListener("abort", arm)
    }
  }
}
