// `mlproject wait RUN_ID... [--timeout D]`: blocks until every run has ended; exit 0 all FINISHED, 1 any not, 124 on timeout.
import { findRun, locate, reconcile, stateOf } from "../run/control.ts"
import { terminalStatuses } from "../tracking/types.ts"
import { parseDuration } from "../util/duration.ts"
import type { Command } from "./context.ts"
import { runIdsOf, trackingUriOption } from "./status.ts"

const pollMs = 200

export const waitCommand: Command = {
  name: "wait",
  usage: "mlproject wait RUN_ID... [--timeout DURATION] [--tracking-uri URI] [--json]",
  summary: "Wait until every run has ended. Exit 0 when all FINISHED, 1 when any FAILED or was KILLED,\n124 when --timeout ran out first (the runs keep going), 130 when interrupted.",
  maxPositionals: 1000,
  options: [{ long: "timeout", kind: "value", metavar: "DURATION", description: "give up after this long (90s, 2h): exit 124" }, trackingUriOption],
  async execute(parsed, context) {
    const where = locate(context.env, context.cwd, parsed.values["tracking-uri"])
    const deadline = parsed.values.timeout === undefined ? null : Date.now() + parseDuration(parsed.values.timeout, "--timeout")
    const pending = new Set(runIdsOf(parsed.positionals, "wait"))
    let failed = false
    // Unknown runs fail before any waiting.
    for (const runId of pending) await findRun(runId, where, context.interrupt)
    for (;;) {
      for (const runId of [...pending]) {
        const found = await findRun(runId, where, context.interrupt)
        const run = await reconcile(found, where)
        if (!terminalStatuses.has(run.info.status)) continue
        pending.delete(runId)
        failed ||= run.info.status !== "FINISHED"
        context.emit({ type: "run.status", ...stateOf(run, found.record, where.trackingUri) })
      }
      if (pending.size === 0) return failed ? 1 : 0
      if (deadline !== null && Date.now() >= deadline) {
        for (const runId of pending) {
          const found = await findRun(runId, where, context.interrupt)
          context.emit({ type: "run.status", ...stateOf(found.run, found.record, where.trackingUri) })
        }
        return 124
      }
      await Bun.sleep(Math.min(pollMs, deadline === null ? pollMs : Math.max(0, deadline - Date.now())))
      if (context.interrupt.aborted) return 130
    }
  },
}
