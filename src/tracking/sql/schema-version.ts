// Which MLflow schema revisions we write into: the chain from params of 8000 characters to the pinned head, and later known ones.
import { revisionsTo2151, revisionsTo3120 } from "./revisions.ts"

/** New databases get this release's schema; its head is what `mlflow server` of that release expects. */
export const pinned = { release: "2.15.1", revision: "4465047574b1" } as const

/** The oldest revision whose tracking tables hold everything we write (params.value of 8000 characters). */
const floor = "2d6e25af4d3e"

/**
 * MLflow revisions after 2.15.1 that exist in MLflow's migration history (file names of mlflow/store/db_migrations,
 * and the placed 3.11.1 → 3.12.0 tail). None of them removes or narrows a column of the tables we write (experiments,
 * experiment_tags, runs, params, tags, metrics, latest_metrics): they add tables, indexes, cascades, defaulted columns
 * (experiments.workspace, detected when the database is opened) or widen values (tags.value to 8000, experiment_id to
 * BIGINT). A revision in neither list is refused.
 */
const later = new Set([
  ...revisionsTo3120.map((r) => r.revision),
  ...["0584bdc529eb", "0e7f11fcd8ac", "0f1a2b3c4d5e", "10a0b9ab53e2", "138e9eb975d4", "17e22815139b", "1971f2d9a75b", "1a0cddfcaa16"],
  ...["1b49d398cd23", "1b5f0d9ad7c1", "1bd49d398cd23", "29599da4828d", "2c33131f4dae", "2c7e13772396", "30da9e9d8245", "322b1ae00ba2"],
  ...["3aee407fe03d", "3da73c924c2f", "3f4e5d6c7b8a", "400f98739977", "4209a452f04b", "455815393add", "4b75f9a0c123", "534353b11cbc"],
  ...["5c7212895a9f", "5d2d30f0abce", "6953534de441", "6dca653c92e6", "6f8d9c3b2a1e", "71994744cf8e", "73ab2d98a1ec", "75868b020152"],
  ...["770bee3ae1dd", "7c4d9e2f1a86", "89d3d66ed43f", "92d5b24e0351", "93bd306463bd", "949ead8d4f49", "9eae7ec868c3", "9fb0326e9ebd"],
  ...["a1b2c3d4e5f6", "a1b2c3d4e5f7", "a1c2e3f40b56", "a1d2e3f4b5c6", "a249e88eb671", "a6d4e8b2c901", "a8b9c0d1e2f3", "af5ce5c40568"],
  ...["b0ec69213791", "b446d3984cfa", "b4c5d6e7f8a9", "b7c8d9e0f1a2", "b7e2c1a4d9f3", "b7e4c1a90f23", "b8c9d0e1f2a3", "bda7b8c39065"],
  ...["bf29a5ff90ea", "c1d2e3f4a5b6", "c3a777925173", "c3d7f2a1b8e4", "c3d9e7f1a2b4", "d8f3a2c1b6e4", "e1f2a3b4c5d6", "f5a4f2784254"],
])

export type RevisionState =
  | { kind: "ok"; /** the longest tag value the tags table holds */ tagValueLimit: number }
  | { kind: "too_old"; release: string; supported: string }
  | { kind: "unknown"; supported: string }

const supported = `MLflow 2.8 to 3.12 (schema revisions ${floor} to 7d34483879f0)`

export const revisionState = (revision: string): RevisionState => {
  const index = revisionsTo2151.findIndex((r) => r.revision === revision)
  if (index !== -1) {
    if (index < revisionsTo2151.findIndex((r) => r.revision === floor)) return { kind: "too_old", release: "older than MLflow 2.8", supported }
    // Until f5a4f2784254 (the first revision after 2.15.1) the tags table held values of 5000 characters.
    return { kind: "ok", tagValueLimit: 5000 }
  }
  if (later.has(revision)) return { kind: "ok", tagValueLimit: 8000 }
  return { kind: "unknown", supported }
}
