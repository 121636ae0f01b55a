// `run --detach`: the prepared run handed to a supervisor in its own session, which outlives this process and the terminal.
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
const selfArgv = (): string[] => {
  const binary = selfBinary()
  return binary ? [binary] : [process.execPath, Bun.main]
}

type HandOver = { plan: RunPlan; runId: string; experimentId: string; prepared: Prepared; record: RunRecord }

/**
 * Writes what the supervisor needs into the run's record, starts it in a new session (its output and events go to
 * files), then gives it the leases and the working copy this process held, so neither gc nor this process's exit can
 * take them away while the run lives. Returns at once.
 */
export const handOver = async ({ plan, runId, experimentId, prepared, record }: HandOver, context: RunContext): Promise<number> => {
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
  const cleanup = plan.source.handOver?.(owner) ?? []
  updateRecord(context.env, current, { owner, cleanup })
  const stdin = child.stdin as { end(): void }
  stdin.end()
  context.emit({ type: "run.detached", run_id: runId, experiment_id: experimentId, pid: child.pid, log, tracking_uri: redactUrl(plan.trackingUri) })
  return 0
}
