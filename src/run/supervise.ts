// The supervisor of a detached run: starts the handed-over entry point, waits for it, records how it ended, cleans up.
import { closeSync, openSync, rmSync, writeSync } from "node:fs"
import { backendNamed } from "../backend/index.ts"
import type { LaunchSpec, Prepared } from "../backend/types.ts"
import { ToolError } from "../errors.ts"
import { storeFor } from "../tracking/index.ts"
import { stdoutFd } from "../util/fd-out.ts"
import { releaseOwnLeases } from "../util/lease.ts"
import { ownerTag } from "../util/owner.ts"
import type { RunContext } from "./context.ts"
import { supervisedTrackingVariable } from "./detach.ts"
import { finishRun, type Ending } from "./finish.ts"
import { runAttempts } from "./launch.ts"
import { eventsPath, logPath, readRecord, updateRecord } from "./records.ts"
import { errorEvent } from "../events/error-event.ts"

type Env = Record<string, string | undefined>

/** What the prepared run was, rebuilt from its record: the environment is this process's own. */
const preparedFrom = async (spec: LaunchSpec, env: Env, leases: string[]): Promise<Prepared> => {
  const backend = await backendNamed(spec.backend)
  return {
    spec,
    env,
    leases,
    // The container (docker) goes with the run; a local run has nothing left to release.
    release: async () => {
      if (spec.backend === "docker") await backend.stop({ backend: "docker", container: spec.container }, env, 0).catch(() => {})
    },
  }
}

/** Waits until the process that started us closes our standard input: the hand-over (leases, record) is complete. */
const handOverDone = async (): Promise<void> => {
  try {
    await Bun.stdin.text()
  } catch {
    // No stdin at all: nothing to wait for.
  }
}

export const superviseRun = async (runId: string, context: RunContext): Promise<number> => {
  await handOverDone()
  return supervise(runId, context)
}

/** Supervises one handed-over run to its end: the run's record and this process's environment say what to start. */
const supervise = async (runId: string, context: RunContext): Promise<number> => {
  let record = readRecord(context.env, runId)
  if (!record?.spec || !record.detached) throw new ToolError("run.not_found", `run ${runId} has no detached record to supervise on this machine`, { runId })
  if (record.ended) throw new ToolError("usage", `run ${runId} has already ended (${record.status})`, { runId })
  const trackingUri = context.env[supervisedTrackingVariable]
  if (!trackingUri) throw new ToolError("usage", `the supervisor of run ${runId} was started without its tracking URI`, { runId })
  // The entry point gets the environment the run was prepared with, without what only the supervisor needs.
  const { [supervisedTrackingVariable]: _tracking, ...env } = context.env
  record = updateRecord(context.env, record, { owner: ownerTag() })
  const store = storeFor(trackingUri, context.env)
  const prepared = await preparedFrom(record.spec as LaunchSpec, env, record.leases ?? [])
  const log = openSync(logPath(context.env, runId), "a", 0o600)
  const ending: Ending = { outcome: null, failure: null, attempts: 0, timedOut: false, startedAt: null }
  const current = record
  try {
    const result = await runAttempts(prepared, { runId, output: { to: "file", fd: log }, graceMs: record.grace_ms, emit: context.emit, interrupt: context.interrupt, forceInterrupt: context.forceInterrupt }, {
      retries: record.retries,
      timeoutMs: record.timeout_ms,
      onStarted: (at, _attempt, where, pid) => {
        ending.startedAt ??= at
        record = updateRecord(context.env, readRecord(context.env, runId) ?? current, { started: at, process: where })
        context.emit({ type: "run.started", run_id: runId, command: current.command, cwd: current.cwd, pid })
      },
    })
    const { settled, ...attempts } = result
    Object.assign(ending, attempts)
    await settled
  } catch (error) {
    ending.failure = error
  } finally {
    await prepared.release()
  }
  const facts = { store, runId, experimentId: record.experiment_id, trackingUri, graceMs: record.grace_ms, retries: record.retries, timeoutMs: record.timeout_ms }
  const code = await finishRun(facts, ending, readRecord(context.env, runId) ?? record, context)
  const latest = readRecord(context.env, runId) ?? record
  for (const dir of latest.cleanup ?? []) {
    rmSync(dir, { recursive: true, force: true })
    releaseOwnLeases(`${dir}.leases`)
  }
  for (const dir of latest.leases ?? []) releaseOwnLeases(dir)
  return code
}

/** One JSON line per event into the run's own events file, as a supervisor started for that run alone writes them. */
const eventsInto = (file: string) => {
  const fd = openSync(file, "a", 0o600)
  return { emit: (event: Parameters<RunContext["emit"]>[0]) => void writeSync(fd, `${JSON.stringify({ ...event, time: new Date().toISOString() })}\n`), close: () => closeSync(fd) }
}

/**
 * A sweep's worker: supervises the runs named on standard input, one at a time, one line each (sent once that run's
 * hand-over is complete), and answers each with a line `{"run_id","exit_code"}`. Its environment is the trials'
 * (they differ by MLFLOW_RUN_ID only). It ends when its input does, or, after an interrupt, with the run it had.
 */
export const superviseWorker = async (context: RunContext): Promise<number> => {
  const decoder = new TextDecoder()
  let pending = ""
  for await (const chunk of Bun.stdin.stream()) {
    pending += decoder.decode(chunk, { stream: true })
    for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
      const runId = pending.slice(0, newline).trim()
      pending = pending.slice(newline + 1)
      if (!/^[0-9a-f]{32}$/.test(runId)) continue
      const events = eventsInto(eventsPath(context.env, runId))
      let exitCode = 1
      try {
        exitCode = await supervise(runId, { ...context, emit: events.emit, env: { ...context.env, MLFLOW_RUN_ID: runId } })
      } catch (error) {
        events.emit(errorEvent(error, runId).event)
      } finally {
        events.close()
      }
      stdoutFd.write(`${JSON.stringify({ run_id: runId, exit_code: exitCode })}\n`)
      if (context.interrupt.aborted) return 130
    }
  }
  return 0
}
