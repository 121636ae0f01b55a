// `mlproject status RUN_ID...`: each run's status, backend, times and exit code; a run whose owner died is reconciled.
import { ToolError } from "../errors.ts"
import { findRun, locate, reconcile, stateOf } from "../run/control.ts"
import type { Command } from "./context.ts"

export const trackingUriOption = { long: "tracking-uri", kind: "value", metavar: "URI", env: "MLFLOW_TRACKING_URI", description: "the tracking store to read" } as const

export const runIdsOf = (positionals: string[], command: string): string[] => {
  if (positionals.length === 0) throw new ToolError("usage", `expected 'mlproject ${command} RUN_ID...': no run id given`, { hint: `see 'mlproject ${command} --help'` })
  return positionals
}

export const statusCommand: Command = {
  name: "status",
  usage: "mlproject status RUN_ID... [--tracking-uri URI] [--json]",
  summary: "Show each run's status (SCHEDULED, RUNNING, FINISHED, FAILED, KILLED), backend, start and end time and exit code.\nA RUNNING run whose mlproject process or supervisor died is recorded FAILED, with a tag saying why.",
  maxPositionals: 1000,
  options: [trackingUriOption],
  async execute(parsed, context) {
    const where = locate(context.env, context.cwd, parsed.values["tracking-uri"])
    for (const runId of runIdsOf(parsed.positionals, "status")) {
      const found = await findRun(runId, where, context.interrupt)
      const run = await reconcile(found, where)
      context.emit({ type: "run.status", ...stateOf(run, found.record, where.trackingUri) })
    }
    return 0
  },
}
