// `mlproject supervise RUN_ID` (internal): the supervisor `run --detach` starts in its own session; not for users.
import { ToolError } from "../errors.ts"
import { superviseRun, superviseWorker } from "../run/supervise.ts"
import type { Command } from "./context.ts"

export const superviseCommand: Command = {
  name: "supervise",
  usage: "mlproject supervise RUN_ID",
  summary: "Internal: supervises a run started with 'mlproject run --detach' (started by mlproject itself).",
  maxPositionals: 1,
  options: [{ long: "worker", kind: "flag", description: "supervise the runs named on standard input, one at a time (a sweep's worker)" }],
  async execute(parsed, context) {
    if (parsed.flags.worker) return superviseWorker(context)
    const runId = parsed.positionals[0]
    if (!runId || !/^[0-9a-f]{32}$/.test(runId)) throw new ToolError("usage", "expected 'mlproject supervise RUN_ID' (32 hex characters)")
    return superviseRun(runId, context)
  },
}
