// `mlproject runs show RUN_ID`: a run's status, times, params, metrics and tags from any tracking store.
import { ToolError } from "../errors.ts"
import type { Emit } from "../events/event.ts"
import { storeFor } from "../tracking/store-for.ts"
import { redactUri, resolveTrackingUri } from "../tracking/tracking-uri.ts"
import type { Metric, RunInfo } from "../tracking/types.ts"
import type { Command } from "./context.ts"

export type RunShownEvent = {
  type: "run.shown"
  tracking_uri: string
  params: Record<string, string>
  metrics: Record<string, Omit<Metric, "key">>
  tags: Record<string, string>
} & RunInfo

// Until src/events/event.ts lists run.shown, the event goes through this one cast.
const emitShown = (emit: Emit, event: RunShownEvent): void => (emit as unknown as (event: RunShownEvent) => void)(event)

export const runsCommand: Command = {
  name: "runs",
  usage: "mlproject runs show RUN_ID [--tracking-uri URI] [--json]",
  summary: "Show a run recorded in the tracking store (MLFLOW_TRACKING_URI, else ./mlruns):\nits status, start and end times, params, latest metrics and tags.",
  maxPositionals: 2,
  options: [{ long: "tracking-uri", kind: "value", metavar: "URI", env: "MLFLOW_TRACKING_URI", description: "the tracking store to read" }],
  async execute(parsed, context) {
    const [action, runId] = parsed.positionals
    if (action !== "show") throw new ToolError("usage", action ? `unknown action 'runs ${action}': expected 'runs show RUN_ID'` : "expected 'runs show RUN_ID'", { hint: "see 'mlproject runs --help'" })
    if (!runId) throw new ToolError("usage", "expected 'runs show RUN_ID': the run id is missing", { hint: "see 'mlproject runs --help'" })
    const given = parsed.values["tracking-uri"]
    const env = given === undefined ? context.env : { ...context.env, MLFLOW_TRACKING_URI: given }
    const trackingUri = resolveTrackingUri(env, context.cwd)
    const run = await storeFor(trackingUri, env).getRun(runId)
    const metrics = Object.fromEntries(Object.entries(run.data.metrics).map(([key, { value, timestamp, step }]) => [key, { value, timestamp, step }]))
    emitShown(context.emit, { type: "run.shown", ...run.info, tracking_uri: redactUri(trackingUri), params: run.data.params, metrics, tags: run.data.tags })
    return 0
  },
}
