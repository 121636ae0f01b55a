// Human text for the migrate-store events: where each experiment went, runs that did not simply copy, and the summary.
import type { Event } from "./event.ts"

type Of<K extends Event["type"]> = Extract<Event, { type: K }>
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

export const migrateExperimentText = (e: Of<"migrate.experiment">): string => {
  const named = `experiment '${e.name}' (${e.source_experiment_id})`
  if (e.status === "failed") return `${named} not copied: ${e.reason ?? "unknown reason"}`
  const into = e.status === "created" ? `created as ${e.experiment_id}` : `onto the existing experiment ${e.experiment_id}`
  return `${named} → ${into}${e.reason ? ` (${e.reason})` : ""}`
}

/** Copied and skipped runs are counted in the summary; only the others get a line of their own. */
export const migrateRunText = (e: Of<"migrate.run">): string | null => {
  if (e.status === "copied" || e.status === "skipped") return null
  return `run ${e.run_id} ${e.status === "failed" ? "not copied" : "differs"}: ${e.reason ?? "unknown reason"}`
}

export const migrateDoneText = (e: Of<"migrate.done">): string[] => [
  `copied ${plural(e.runs_copied, "run")} (${plural(e.metric_points, "metric point")}) from ${e.source} into ${e.target}; experiments: ${e.experiments_created} created, ${e.experiments_existing} already there${e.experiments_failed ? `, ${e.experiments_failed} failed` : ""}`,
  `runs already there: ${e.runs_skipped} skipped${e.runs_different ? `, ${e.runs_different} with other content left as they are` : ""}${e.runs_failed ? `; ${plural(e.runs_failed, "run")} failed` : ""}`,
  "artifacts were not copied: each run keeps its artifact_uri, so its files stay where they are (keep that folder)",
]
