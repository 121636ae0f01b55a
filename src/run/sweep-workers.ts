// A sweep's workers: supervisor processes that outlive the sweep and run its trials one at a time, handed over by run id.
import { openSync } from "node:fs"
import type { Prepared } from "../backend/types.ts"
import { takeLease } from "../util/lease.ts"
import { hostTag, processStart } from "../util/owner.ts"
import type { RunContext } from "./context.ts"
import { selfArgv, supervisedTrackingVariable } from "./detach.ts"
import type { RunPlan } from "./plan.ts"
import { updateRecord, type RunRecord } from "./records.ts"

type Env = Record<string, string | undefined>

export type Worker = {
  pid: number
  /** The run it supervises now, or null when it waits for one. */
  busy: string | null
  /** Resolves with the run it finished, or null once the worker has exited (killed, or after an interrupt). */
  next(): Promise<{ runId: string; exitCode: number } | null>
  /** Hands it a prepared run: its record and leases become the worker's, then the run id is sent. */
  give(input: { plan: RunPlan; runId: string; prepared: Prepared; record: RunRecord }, context: RunContext): void
  /** No more runs: it exits once the one it has is done. */
  close(): void
  signal(name: NodeJS.Signals): void
  exited: Promise<number>
}

/**
 * Starts a worker in its own session. `env` is a trial's environment (the trials differ by MLFLOW_RUN_ID only, which
 * the worker sets per run); its own messages go to `log`.
 */
export const startWorker = (env: Env, trackingUri: string, log: string, context: RunContext): Worker => {
  const child = Bun.spawn([...selfArgv(), "supervise", "--worker", "--json"], {
    env: { ...env, [supervisedTrackingVariable]: trackingUri },
    cwd: context.cwd,
    stdin: "pipe",
    stdout: "pipe",
    stderr: openSync(log, "a", 0o600),
    detached: true,
  })
  child.unref()
  const owner = `${hostTag()}-${child.pid}-${processStart(child.pid) ?? 0}`
  const stdin = child.stdin as { write(text: string): void; end(): void; flush?(): void }
  const results: Array<{ runId: string; exitCode: number }> = []
  const waiting: Array<(value: { runId: string; exitCode: number } | null) => void> = []
  let gone = false
  const deliver = (value: { runId: string; exitCode: number } | null) => {
    const waiter = waiting.shift()
    if (waiter) waiter(value)
    else if (value) results.push(value)
  }
  void (async () => {
    const decoder = new TextDecoder()
    let pending = ""
    for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true })
      for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
        const line = pending.slice(0, newline)
        pending = pending.slice(newline + 1)
        try {
          const answer = JSON.parse(line) as { run_id?: string; exit_code?: number }
          if (answer.run_id) deliver({ runId: answer.run_id, exitCode: answer.exit_code ?? 1 })
        } catch {
          // Not an answer line: nothing the sweep reads.
        }
      }
    }
  })()
  void child.exited.then(() => {
    gone = true
    while (waiting.length > 0) deliver(null)
  })
  const worker: Worker = {
    pid: child.pid,
    busy: null,
    next: () => {
      const ready = results.shift()
      if (ready) return Promise.resolve(ready)
      if (gone) return Promise.resolve(null)
      return new Promise((resolve) => waiting.push(resolve))
    },
    give({ plan, runId, prepared, record }) {
      for (const dir of prepared.leases) takeLease(dir, owner)
      plan.source.lease?.(owner)
      updateRecord(context.env, record, { detached: true, spec: prepared.spec, leases: prepared.leases, cleanup: [], owner })
      worker.busy = runId
      stdin.write(`${runId}\n`)
      stdin.flush?.()
    },
    close: () => stdin.end(),
    signal(name) {
      try {
        process.kill(child.pid, name)
      } catch {
        // Already gone.
      }
    },
    exited: child.exited,
  }
  return worker
}
