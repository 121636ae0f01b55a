// `run --reuse`: the newest FINISHED, active run of an experiment that carries the same run key.
import type { CallOptions, Run, Store } from "../tracking/types.ts"
import { runKeyTag } from "./run-key.ts"

/** Runs asked for: the first that passes the check below wins, so a server that ignored part of the filter costs a miss, never a wrong reuse. */
const candidates = 50

/**
 * Searched with MLflow's filter (`tags.\`mlproject.run_key\` = KEY AND attributes.status = 'FINISHED'`, active runs,
 * newest first), then checked again here: a KILLED, FAILED, RUNNING or deleted run, or one of another experiment or
 * key, is never reused, whatever the store answered.
 */
export const findReusableRun = async (store: Store, experimentId: string, key: string, call?: CallOptions): Promise<Run | null> => {
  // A key is 64 hex characters; anything else cannot be quoted safely and matches no run.
  if (!/^[0-9a-f]{64}$/.test(key)) return null
  const runs = await store.searchRuns(
    {
      experimentIds: [experimentId],
      filter: `tags.\`${runKeyTag}\` = '${key}' AND attributes.status = 'FINISHED'`,
      orderBy: ["attributes.start_time DESC"],
      maxResults: candidates,
      runViewType: "ACTIVE_ONLY",
    },
    call,
  )
  return (
    runs.find(
      (run) =>
        run.info.experiment_id === experimentId &&
        run.info.status === "FINISHED" &&
        run.info.lifecycle_stage === "active" &&
        run.data.tags[runKeyTag] === key,
    ) ?? null
  )
}
