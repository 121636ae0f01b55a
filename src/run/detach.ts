// Handing a prepared run to a supervisor in its own session, which outlives this process and the terminal (`run --detach`, sweeps).
import { openSync } from "node:fs"
import type { Prepared } from "../backend/types.ts"
import { ToolError } from "../errors.ts"
import { takeLease } from "../util/lease.ts"
import { hostTag, processStart } from "../util/owner.ts"
import { redactUrl } from "../util/redact.ts"
import type { RunContext } from "./context.ts"
import type { RunPlan } from "./plan.ts"
import { eventsPath, logPath, updateRecord, type RunRecord } from "./records.ts"
import { selfBinary } from "./self.ts"

/** The supervisor learns the real tracking URI (it may hold credentials) from its environment, never from a file. */
export const supervisedTrackingVariable = "MLPROJECT_SUPERVISED_TRACKING_URI"

/** How to start this same program again: the compiled binary, or bun with the entry script when run from sources. */
export const selfArgv = (): string[] => {
  const binary = selfBinary()
  return binary ? [binary] : [process.execPath, Bun.main]
}

export type HandOver = {
  plan: RunPlan
  runId: string
  prepared: Prepared
  record: RunRecord
  /** The working copy is shared by several runs (a sweep's trials): leased to the supervisor, removed by nobody here. */
  sharedSource?: boolean
  /** Keep the supervisor waiting (started and loaded, its run SCHEDULED) until `release` is called: a sweep's next trial. */
  hold?: boolean
}

export type Supervisor = { pid: number; log: string; exited: Promise<number>; release(): void }

/**
 * Writes what the supervisor needs into the run's record, starts it in a new session (its output and events go to
 * files), then gives it the leases and the working copy this process held, so neither gc nor this process's exit can
 * take them away while the run lives; the supervisor starts nothing before that hand-over is complete.
 */
export const startSupervisor = async ({ plan, runId, prepared, record, sharedSource, hold }: HandOver, context: RunContext): Promise<Supervisor> => {
  const log = logPath(context.env, runId)
  const current = updateRecord(context.env, record, { detached: true, spec: prepared.spec, leases: prepared.leases, cleanup: [] })
  const logFd = openSync(log, "a", 0o600)
  const eventsFd = openSync(eventsPath(context.env, runId), "a", 0o600)
  let child: ReturnType<typeof Bun.spawn>
  try {
    child = Bun.spawn([...selfArgv(), "supervise", runId, "--json"], {
      env: { ...prepared.env, [supervisedTrackingVariable]: plan.trackingUri },
      // Where the user ran us (the entry point gets its own folder): relative MLPROJECT_HOME or store paths stay valid.
      cwd: context.cwd,
      // Closed once the hand-over is complete: the supervisor starts nothing before that (and starts if we die).
      stdin: "pipe",
      stdout: eventsFd,
      stderr: logFd,
      detached: true,
    })
  } catch (error) {
    await prepared.release()
    throw new ToolError("exec.failed", `could not start the supervisor of run ${runId}: ${(error as Error).message}`, { exitCode: 1, cause: error, runId })
  }
  child.unref()
  const owner = `${hostTag()}-${child.pid}-${processStart(child.pid) ?? 0}`
  for (const dir of prepared.leases) takeLease(dir, owner)
  const cleanup = sharedSource ? (plan.source.lease?.(owner), []) : (plan.source.handOver?.(owner) ?? [])
  updateRecord(context.env, current, { owner, cleanup })
  const release = () => (child.stdin as { end(): void }).end()
  if (!hold) release()
  return { pid: child.pid, log, exited: child.exited, release }
}

/** `run --detach`: the run goes on under its supervisor; this command ends here. */
export const handOver = async (input: Omit<HandOver, "sharedSource"> & { experimentId: string }, context: RunContext): Promise<number> => {
  const supervisor = await startSupervisor(input, context)
  context.emit({ type: "run.detached", run_id: input.runId, experiment_id: input.experimentId, pid: supervisor.pid, log: supervisor.log, tracking_uri: redactUrl(input.plan.trackingUri) })
  return 0
}
