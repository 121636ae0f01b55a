// What `runs show` and `runs list` share: the tracking store they read and a run's metrics as events carry them.
import type { Run } from "../tracking/types.ts"
import { resolveTrackingUri } from "../tracking/tracking-uri.ts"
import type { Parsed } from "./args.ts"
import type { CommandContext } from "./context.ts"

/** `--tracking-uri` over MLFLOW_TRACKING_URI, resolved as MLflow resolves it (./mlruns or ./mlflow.db when neither is set). */
export const trackingOf = (parsed: Parsed, context: CommandContext): { env: Record<string, string | undefined>; trackingUri: string } => {
  const given = parsed.values["tracking-uri"]
  const env = given === undefined ? context.env : { ...context.env, MLFLOW_TRACKING_URI: given }
  return { env, trackingUri: resolveTrackingUri(env, context.cwd) }
}

/** Each metric's latest point without its repeated key. */
export const latestMetrics = (run: Run): Record<string, { value: number; timestamp: number; step: number }> =>
  Object.fromEntries(Object.entries(run.data.metrics).map(([key, { value, timestamp, step }]) => [key, { value, timestamp, step }]))
