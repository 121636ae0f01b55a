// MLflow's alembic revisions as data: the chain oldest first, the releases whose head each is, and where the tracking tables changed.

export type Revision = {
  readonly revision: string
  /** null for the first revision; a tuple for a merge revision */
  readonly downRevision: string | readonly string[] | null
  readonly title: string
  /** MLflow releases whose head this revision is */
  readonly releases?: readonly string[]
  readonly merge?: true
  /** false: the link to downRevision was recalled, not read in a stored MLflow file */
  readonly checked: boolean
}

/**
 * The chain from MLflow's first migration to 2.15.1's head, then a gap, then the tail up to 3.12.0's head.
 * The gap holds the 3.0–3.11 revisions (about 110 of them) that could not be placed: see SCHEMA-SOURCES.md.
 */
export const revisionsTo2151: readonly Revision[] = [
  { revision: "451aebb31d03", downRevision: null, title: "add metric step", checked: true },
  { revision: "90e64c465722", downRevision: "451aebb31d03", title: "migrate user column to tags", checked: true },
  { revision: "181f10493468", downRevision: "90e64c465722", title: "allow nulls for metric values", checked: true },
  { revision: "df50e92ffc5e", downRevision: "181f10493468", title: "add experiment tags table", checked: false },
  { revision: "7ac759974ad8", downRevision: "df50e92ffc5e", title: "update run tags with larger limit", checked: true },
  { revision: "89d4b8295536", downRevision: "7ac759974ad8", title: "create latest metrics table", checked: false },
  { revision: "2b4d017a5e9b", downRevision: "89d4b8295536", title: "add model registry tables to db", checked: true },
  { revision: "cfd24bdc0731", downRevision: "2b4d017a5e9b", title: "update run status constraint with killed", checked: false },
  { revision: "0a8213491aaa", downRevision: "cfd24bdc0731", title: "drop duplicate killed constraint", checked: true },
  { revision: "728d730b5ebd", downRevision: "0a8213491aaa", title: "add registered model tags table", checked: false },
  { revision: "27a6a02d2cf1", downRevision: "728d730b5ebd", title: "add model version tags table", checked: false },
  { revision: "84291f40a231", downRevision: "27a6a02d2cf1", title: "add run_link to model_version", checked: true },
  { revision: "a8c4a736bde6", downRevision: "84291f40a231", title: "allow nulls for run_id", checked: true },
  { revision: "39d1c3be5f05", downRevision: "a8c4a736bde6", title: "add is_nan constraint for metrics tables if necessary", checked: false },
  { revision: "c48cb773bb87", downRevision: "39d1c3be5f05", title: "reset default value for is_nan in metrics table for mysql", checked: false },
  { revision: "bd07f7e963c5", downRevision: "c48cb773bb87", title: "create index on run_uuid", checked: true },
  { revision: "0c779009ac13", downRevision: "bd07f7e963c5", title: "add deleted_time field to runs table", checked: true },
  { revision: "cc1f77228345", downRevision: "0c779009ac13", title: "change param value length to 500", checked: false },
  { revision: "97727af70f4d", downRevision: "cc1f77228345", title: "add creation_time and last_update_time to experiments table", checked: true },
  { revision: "3500859a5d39", downRevision: "97727af70f4d", title: "add model aliases table", checked: false },
  { revision: "7f2a7d5fae7d", downRevision: "3500859a5d39", title: "add datasets inputs input_tags tables", releases: ["2.4", "2.5", "2.6"], checked: true },
  { revision: "2d6e25af4d3e", downRevision: "7f2a7d5fae7d", title: "increase max param val length", checked: true },
  { revision: "acf3f17fdcc7", downRevision: "2d6e25af4d3e", title: "add storage location field to model versions", releases: ["2.8.0"], checked: true },
  { revision: "867495a8f9d4", downRevision: "acf3f17fdcc7", title: "add trace tables", checked: true },
  { revision: "5b0e9adcef9c", downRevision: "867495a8f9d4", title: "add cascade deletion to trace tables foreign keys", checked: true },
  { revision: "4465047574b1", downRevision: "5b0e9adcef9c", title: "increase max dataset schema size", releases: ["2.15.1"], checked: true },
]

/** From the last placed 3.x revision to 3.12.0's head; e1f2a3b4c5d6 (the parent of the first) is not placed. */
export const revisionsTo3120: readonly Revision[] = [
  { revision: "76601a5f987d", downRevision: "e1f2a3b4c5d6", title: "add issues table", checked: true },
  { revision: "c3d6457b6d8a", downRevision: "76601a5f987d", title: "add status_details column to jobs table", releases: ["3.11.1"], checked: true },
  { revision: "a5b4c3d2e1f0", downRevision: "c3d6457b6d8a", title: "add metrics run key step index", checked: true },
  { revision: "ae8bbe7743c9", downRevision: "a5b4c3d2e1f0", title: "add guardrails and guardrail_configs tables", checked: true },
  { revision: "7d34483879f0", downRevision: "ae8bbe7743c9", title: "add model version tags and registered model tags workspace indexes", releases: ["3.12.0"], checked: true },
]

/** Where each tracking-table fact we rely on arrived. */
export const reachedAt = {
  "metrics.is_nan": "181f10493468",
  latest_metrics: "89d4b8295536",
  "runs.deleted_time": "0c779009ac13",
  "experiments.creation_time/last_update_time": "97727af70f4d",
  "datasets/inputs/input_tags": "7f2a7d5fae7d",
  // The stored copy of 2d6e25af4d3e reads 500 -> 6000, yet 2.15.1's dumps have VARCHAR(8000) and no placed
  // revision between them touches params: the merged 2d6e25af4d3e must set 8000.
  "params.value 8000": "2d6e25af4d3e",
  // In the gap: 2.15.1's dumps have tags.value VARCHAR(5000), the later 3.x dumps VARCHAR(8000).
  "tags.value 8000": null,
  // In the gap: a migration file 6953534de441_add_step_to_inputs_table.py exists; its place is not established.
  "inputs.step": "6953534de441",
  // In the gap: adds experiments.workspace VARCHAR(63) DEFAULT 'default' NOT NULL, and the unique key becomes
  // uq_experiments_workspace_name (workspace, name).
  "experiments.workspace": "1b5f0d9ad7c1",
} as const

/**
 * Later migrations that change the tracking tables, as far as they could be seen; none placed in the chain
 * except a5b4c3d2e1f0. What each changes comes from its file name or from comparing stored dumps.
 */
export const laterTrackingChanges: readonly { revision: string | null; tables: readonly string[]; change: string; placed: boolean }[] = [
  { revision: "0584bdc529eb", tables: ["datasets"], change: "FK to experiments renamed fk_datasets_experiment_id_experiments, ON DELETE CASCADE", placed: false },
  { revision: null, tables: ["tags"], change: "value VARCHAR(5000) -> VARCHAR(8000)", placed: false },
  { revision: "6953534de441", tables: ["inputs"], change: "add step BIGINT DEFAULT 0 NOT NULL", placed: false },
  { revision: "1b5f0d9ad7c1", tables: ["experiments"], change: "add workspace; unique (name) -> uq_experiments_workspace_name (workspace, name)", placed: false },
  { revision: "a5b4c3d2e1f0", tables: ["metrics"], change: "add an index on the run/key/step columns (3.12.0 chain)", placed: true },
  { revision: "6dca653c92e6", tables: ["experiments", "runs", "experiment_tags", "datasets"], change: "experiment_id to BIGINT (file name); whether it is merged and where is not established", placed: false },
  { revision: "6f8d9c3b2a1e", tables: ["runs", "experiment_tags"], change: "cascades on FKs to experiments (file name); not established", placed: false },
  { revision: "d8f3a2c1b6e4", tables: ["runs"], change: "index_runs_experiment_id_lifecycle_stage; a child of 7d34483879f0, so after 3.12.0", placed: false },
]
