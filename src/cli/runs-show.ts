// `mlproject runs show RUN_ID`: a run's status, times, params, metrics and tags from any tracking store.
import { ToolError } from "../errors.ts"
import { storeFor } from "../tracking/store-for.ts"
import { redactUri } from "../tracking/tracking-uri.ts"
import type { Parsed } from "./args.ts"
import type { CommandContext } from "./context.ts"
import { latestMetrics, trackingOf } from "./runs-common.ts"
import { checkStoreExists } from "./runs-list.ts"

export const showRun = async (parsed: Parsed, context: CommandContext): Promise<number> => {
  const [, runId, extra] = parsed.positionals
  if (!runId) throw new ToolError("usage", "expected 'runs show RUN_ID': the run id is missing", { hint: "see 'mlproject runs --help'" })
  if (extra !== undefined) throw new ToolError("usage", `unexpected argument '${extra}': 'runs show' takes one run id`, { hint: "see 'mlproject runs --help'" })
  const { env, trackingUri } = trackingOf(parsed, context)
  checkStoreExists(trackingUri)
  const run = await storeFor(trackingUri, env).getRun(runId)
  context.emit({ type: "run.shown", ...run.info, tracking_uri: redactUri(trackingUri), params: run.data.params, metrics: latestMetrics(run), tags: run.data.tags })
  return 0
}
