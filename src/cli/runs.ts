// `mlproject runs show|list`: read runs back from any tracking store; one file per action.
import { ToolError } from "../errors.ts"
import type { Command } from "./context.ts"
import { listOptions, listRuns } from "./runs-list.ts"
import { showRun } from "./runs-show.ts"

const actions = { show: showRun, list: listRuns }

export const runsCommand: Command = {
  name: "runs",
  usage: "mlproject runs show RUN_ID | runs list [--experiment-name NAME | --experiment-id ID ...] [--status S] [--filter F] [--order-by KEY ...] [--max N]",
  summary:
    "Read runs from the tracking store (MLFLOW_TRACKING_URI, else ./mlruns if it holds experiments, else sqlite:///mlflow.db).\n" +
    "  show RUN_ID   a run's status, start and end times, params, latest metrics and tags\n" +
    "  list          the runs of experiments as a table: id, name, status, start, duration and the params and\n" +
    "                metrics that differ between them; --filter and --order-by take MLflow's search syntax",
  maxPositionals: 3,
  options: [{ long: "tracking-uri", kind: "value", metavar: "URI", env: "MLFLOW_TRACKING_URI", description: "the tracking store to read" }, ...listOptions],
  async execute(parsed, context) {
    const action = parsed.positionals[0]
    const run = action === "show" || action === "list" ? actions[action] : undefined
    if (!run) throw new ToolError("usage", action ? `unknown action 'runs ${action}': expected 'runs show RUN_ID' or 'runs list'` : "expected 'runs show RUN_ID' or 'runs list'", { hint: "see 'mlproject runs --help'" })
    const misplaced = action === "show" ? listOptions.find((o) => parsed.values[o.long] !== undefined || parsed.lists[o.long] !== undefined) : undefined
    if (misplaced) throw new ToolError("usage", `--${misplaced.long} applies to 'runs list', not 'runs show'`, { hint: "see 'mlproject runs --help'" })
    return run(parsed, context)
  },
}
