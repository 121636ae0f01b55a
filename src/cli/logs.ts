// `mlproject logs RUN_ID [--follow]`: the output a detached run's entry point wrote, live with --follow.
import { closeSync, openSync, readSync } from "node:fs"
import { ToolError } from "../errors.ts"
import { findRun, locate, reconcile } from "../run/control.ts"
import { logPath } from "../run/records.ts"
import { terminalStatuses } from "../tracking/types.ts"
import type { Command } from "./context.ts"
import { trackingUriOption } from "./status.ts"

const pollMs = 200

export const logsCommand: Command = {
  name: "logs",
  usage: "mlproject logs RUN_ID [--follow] [--tracking-uri URI] [--json]",
  summary: "Print the output of a run started with --detach (stdout and stderr as they came), of a Kubernetes run\n(read from its pods) or of a Databricks run (its task's output, once it ended). With --follow, keep printing until the run ends.",
  maxPositionals: 1,
  options: [{ long: "follow", short: "f", kind: "flag", description: "keep printing new output until the run ends" }, trackingUriOption],
  async execute(parsed, context) {
    const runId = parsed.positionals[0]
    if (!runId) throw new ToolError("usage", "expected 'mlproject logs RUN_ID'", { hint: "see 'mlproject logs --help'" })
    const where = locate(context.env, context.cwd, parsed.values["tracking-uri"])
    const found = await findRun(runId, where, context.interrupt)
    const handle = found.record?.process
    if (handle?.backend === "kubernetes" && !found.record?.detached) {
      // A foreground Kubernetes run's output lives on the cluster: read from there while its pods exist.
      const { jobLogs } = await import("../backend/kubernetes-logs.ts")
      await jobLogs(handle, where.env, Boolean(parsed.flags.follow), (line) => context.emit({ type: "log", stream: "stdout", line }), context.interrupt)
      return 0
    }
    if (handle?.backend === "databricks" && !found.record?.detached) {
      // The Jobs API keeps a run's output until it ends; the run page shows it live.
      const { databricksLogs } = await import("../backend/databricks.ts")
      await databricksLogs(handle, where.env, Boolean(parsed.flags.follow), (line) => context.emit({ type: "log", stream: "stdout", line }), context.interrupt)
      return 0
    }
    if (!found.record?.detached) {
      throw new ToolError("run.not_found", `run ${runId} keeps no log on this machine: only runs started here with --detach do (a run in the foreground wrote to its terminal)`, { runId })
    }
    let fd: number
    try {
      fd = openSync(logPath(where.env, runId), "r")
    } catch {
      throw new ToolError("run.not_found", `the log of run ${runId} is gone (mlproject cache gc?)`, { runId })
    }
    const buffer = Buffer.alloc(64 * 1024)
    const decoder = new TextDecoder()
    let pending = ""
    const drain = () => {
      for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) {
        pending += decoder.decode(buffer.subarray(0, read), { stream: true })
        const lines = pending.split("\n")
        pending = lines.pop() ?? ""
        for (const line of lines) context.emit({ type: "log", stream: "stdout", line })
      }
    }
    try {
      drain()
      if (parsed.flags.follow) {
        for (;;) {
          const run = await reconcile(await findRun(runId, where, context.interrupt), where)
          drain()
          if (terminalStatuses.has(run.info.status) || context.interrupt.aborted) break
          await Bun.sleep(pollMs)
        }
        drain()
      }
      if (pending !== "") context.emit({ type: "log", stream: "stdout", line: pending })
    } finally {
      closeSync(fd)
    }
    return 0
  },
}
