// `mlproject cancel RUN_ID...`: stops each run's whole process tree or container (grace, then kill) and records KILLED.
import { backendNamed } from "../backend/index.ts"
import { ToolError } from "../errors.ts"
import { findRun, locate, ownerDead, reconcile, stateOf } from "../run/control.ts"
import { readRecord } from "../run/records.ts"
import { terminalStatuses } from "../tracking/types.ts"
import { parseOwnerTag } from "../util/owner.ts"
import type { Command } from "./context.ts"
import { runIdsOf, trackingUriOption } from "./status.ts"

// Beyond the run's own grace period: its owner needs a moment to record KILLED after the kill.
const settleMs = 5000

export const cancelCommand: Command = {
  name: "cancel",
  usage: "mlproject cancel RUN_ID... [--tracking-uri URI] [--json]",
  summary: "Stop each run: its whole process tree (or container) gets SIGTERM, then SIGKILL after its grace period,\nand the run is recorded KILLED. A run that has already ended is left as it is.",
  maxPositionals: 1000,
  options: [trackingUriOption],
  async execute(parsed, context) {
    const where = locate(context.env, context.cwd, parsed.values["tracking-uri"])
    for (const runId of runIdsOf(parsed.positionals, "cancel")) {
      const found = await findRun(runId, where, context.interrupt)
      const { record } = found
      if (terminalStatuses.has(found.run.info.status)) {
        context.emit({ type: "run.status", ...stateOf(found.run, record, where.trackingUri) })
        continue
      }
      if (!record) {
        throw new ToolError("run.not_found", `run ${runId} is RUNNING in ${where.trackingUri}, but it was not started on this machine: there is nothing here to stop`, {
          hint: "cancel it where it runs",
          runId,
        })
      }
      const owner = parseOwnerTag(record.owner)
      if (ownerDead(record) === null) {
        throw new ToolError("run.not_found", `run ${runId} is owned by a process on another machine (${record.owner}): it cannot be stopped from here`, { runId })
      }
      if (owner && ownerDead(record) === false) {
        // The owner stops the tree, waits its grace period and records KILLED, as for an interrupt.
        process.kill(owner.pid, "SIGTERM")
        const deadline = Date.now() + record.grace_ms + settleMs
        while (Date.now() < deadline && ownerDead(record) === false && !readRecord(where.env, runId)?.ended) await Bun.sleep(100)
        if (ownerDead(record) === false && !readRecord(where.env, runId)?.ended) process.kill(owner.pid, "SIGKILL")
        while (ownerDead(record) === false) await Bun.sleep(50)
      }
      const latest = readRecord(where.env, runId) ?? record
      if (!latest.ended && latest.process) await (await backendNamed(latest.process.backend)).stop(latest.process, where.env, 0)
      const run = await reconcile({ run: await where.store.getRun(runId), record: latest }, where, "KILLED")
      context.emit({ type: "run.status", ...stateOf(run, readRecord(where.env, runId) ?? latest, where.trackingUri) })
    }
    return 0
  },
}
