// Every user-visible fact the tool reports: one discriminated union, rendered as text or JSON lines.
import type { Diagnostic } from "../project/types.ts"

export type RunStatusName = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED"

export type ParameterView = { name: string; type: string; declared_type: string; default: string | null }
export type EntryPointView = { name: string; command: string; parameters: ParameterView[]; problems: string[] }

/** One cached environment as `mlproject env list` shows it. */
export type EnvEntry = {
  key: string
  manager: "virtualenv" | "uv" | "conda"
  python: string | null
  prefix: string
  /** Disk use in bytes (apparent size of every file, hard links counted once). */
  bytes: number
  created: string
  last_used: string
  /** The environment file it was built from, as an absolute path. */
  source: string
  /** False for a folder without a completion manifest: a build that crashed or is still running. */
  complete: boolean
  /** False for a folder named like ours that has neither our manifest nor our lock: it is never removed. */
  owned: boolean
  /** Live runs holding a lease on it (such an environment is never removed). */
  in_use: number
}

/** One entry of a cache kind as `mlproject cache list` shows it. */
export type CacheEntryView = {
  /** The entry's name within its kind (a commit, a key, an image tag). */
  id: string
  path: string
  /** Disk use in bytes (apparent size, hard links counted once). */
  bytes: number
  last_used: string
  /** Held by a live process (a lease, a lock, a running container): never removed. */
  in_use: boolean
  /** Left by a process that is gone (a killed run's working copy, a crashed build): removed by every gc. */
  leftover: boolean
}

/** One kind of cache under $MLPROJECT_HOME with its entries. */
export type CacheKindView = {
  kind: string
  root: string
  count: number
  bytes: number
  /** The most recent use of any entry, null when there is none. */
  last_used: string | null
  in_use: number
  /** Why the kind could not be looked at (no Docker daemon answered). */
  note?: string
  entries: CacheEntryView[]
}

export type Event =
  | { type: "version"; version: string }
  | { type: "help"; command: string; text: string }
  | { type: "warning"; code?: string; message: string; hint?: string; file?: string; line?: number; column?: number }
  | { type: "error"; code: string; message: string; hint?: string; file?: string; line?: number; column?: number; run_id?: string }
  | { type: "project.loaded"; dir: string; file: string | null; name: string | null; env: string; entry_points: string[] }
  | {
      type: "project.validated"
      /** The project as given: its folder, or for a fetched one the URI (credentials removed); `dir` was a temporary copy. */
      source: string
      /** The commit read, for a Git source. */
      commit?: string
      dir: string
      ok: boolean
      errors: number
      warnings: number
      diagnostics: Diagnostic[]
    }
  | {
      type: "project.described"
      source: string
      commit?: string
      dir: string
      file: string | null
      name: string | null
      env: { kind: string; file?: string; image?: string }
      entry_points: EntryPointView[]
      /** Present when `-P` values were given with `-e`: the resolved command for that entry point. */
      resolved?: { entry_point: string; command: string }
    }
  | {
      type: "run.planned"
      entry_point: string
      command: string
      argv: string[]
      cwd: string
      env: Record<string, string>
      env_manager: string
      parameters: Record<string, string>
      tracking_uri: string
      experiment_id: string | null
    }
  | { type: "fetch.started"; source: string; kind: string }
  | { type: "fetch.progress"; source: string; phase: string; done: number | null; total: number | null }
  | { type: "fetch.done"; source: string; commit: string | null; cached: boolean; ms: number }
  | { type: "download.started"; uri: string; path: string; bytes: number | null }
  | { type: "progress"; task: string; done: number; total: number | null; rate: number | null; eta_s: number | null }
  | {
      type: "download.done"
      uri: string
      path: string
      bytes: number
      cached: boolean
      ms: number
      /** What the bytes were checked against (for a cache hit: when the cache was filled); "mixed" for a prefix whose objects differ. */
      checksum: "crc32" | "crc32c" | "crc64nvme" | "sha1" | "sha256" | "md5" | "none" | "mixed"
      /** Why a checksum the service published could not be used (a composite of parts). */
      checksum_note?: string
    }
  | { type: "experiment.created"; experiment_id: string; name: string }
  | {
      type: "run.created"
      run_id: string
      experiment_id: string
      run_name: string
      tracking_uri: string
      artifact_uri: string
      resumed: boolean
    }
  | { type: "image.pull.started"; image: string }
  | { type: "image.pull.done"; image: string; id: string; ms: number }
  | { type: "image.build.started"; image: string; base: string; files: number; bytes: number }
  | { type: "image.build.output"; line: string }
  | { type: "image.build.done"; image: string; id: string; cached: boolean; ms: number }
  | { type: "image.push.started"; image: string; registry: string }
  | { type: "image.push.done"; image: string; digest: string; pushed: boolean; ms: number }
  | { type: "env.creating"; manager: EnvEntry["manager"]; key: string; python: string | null; prefix: string; log: string }
  | { type: "env.waiting"; manager: EnvEntry["manager"]; key: string; pid: number | null }
  | { type: "env.progress"; key: string; step: string; index: number; total: number; detail?: string }
  | { type: "env.listed"; root: string; envs: EnvEntry[] }
  | { type: "env.removed"; key: string; prefix: string; bytes: number; reason: "unused" | "all" | "incomplete" }
  | { type: "env.collected"; root: string; removed: number; bytes: number; kept: number; busy: number; unknown: number }
  | { type: "cache.listed"; home: string; kinds: CacheKindView[] }
  | { type: "cache.removed"; kind: string; id: string; path: string; bytes: number; reason: "older" | "size" | "leftover" }
  | { type: "cache.collected"; home: string; removed: number; bytes: number; kept: number; busy: number; remaining_bytes: number; skipped: string[] }
  | { type: "env.ready"; manager: "local" | "virtualenv" | "conda" | "docker" | "uv"; key: string | null; cached: boolean; image?: string }
  | { type: "run.started"; run_id: string; command: string; cwd: string; pid: number | null; attempt?: number }
  | { type: "run.retrying"; run_id: string; attempt: number; exit_code: number | null }
  | { type: "kube.job.created"; run_id: string; job: string; namespace: string; context: string | null; server: string }
  | { type: "kube.job.status"; run_id: string; job: string; status: "SCHEDULED" | "RUNNING" | "FINISHED" | "FAILED" | "KILLED"; reason: string | null; message: string | null }
  | { type: "pack.wheels"; count: number; platform: string; python: string }
  | { type: "pack.written"; file: string; sha256: string; bytes: number; manifest: import("../pack/manifest.ts").PackManifest }
  | { type: "pack.manifest"; file: string; sha256: string; manifest: import("../pack/manifest.ts").PackManifest }
  | { type: "pack.image.loaded"; image: string; id: string; ms: number }
  // packed (the project only): false when an unchanged project's archive from an earlier run was still in the workspace.
  | { type: "databricks.upload"; run_id: string; what: string; target: string; bytes: number; uploaded: boolean; packed?: boolean; ms: number }
  | { type: "databricks.run.submitted"; run_id: string; databricks_run_id: number; url: string | null; workspace: string }
  | {
      type: "databricks.run.state"
      run_id: string
      databricks_run_id: number
      life_cycle_state: string
      result_state: string | null
      state_message: string | null
      url: string | null
    }
  | { type: "kube.pod.status"; run_id: string; pod: string; phase: string; reason: string | null; message: string | null; exit_code: number | null }
  | { type: "sweep.started"; parent_run_id: string; experiment_id: string; trials: number; parallel: number; tracking_uri: string }
  | { type: "sweep.progress"; parent_run_id: string; total: number; done: number; running: number; failed: number }
  | {
      type: "sweep.trial"
      parent_run_id: string
      run_id: string
      index: number
      params: Record<string, string>
      status: "RUNNING" | "FINISHED" | "FAILED" | "KILLED"
      metric: number | null
      /** True when --reuse found a FINISHED run with the same key: that run counts as this trial. */
      reused?: boolean
    }
  | {
      type: "sweep.finished"
      parent_run_id: string
      status: "FINISHED" | "FAILED" | "KILLED"
      metric: string | null
      goal: "minimize" | "maximize" | null
      best_run_id: string | null
      trials: Array<{ run_id: string | null; params: Record<string, string>; status: string; metric: number | null }>
      tracking_uri: string
      recorded: boolean
    }
  | {
      type: "run.status"
      run_id: string
      status: RunStatusName
      backend: string | null
      detached: boolean
      start_time: number
      end_time: number | null
      exit_code: number | null
      reason: string | null
      tracking_uri: string
    }
  | { type: "run.detached"; run_id: string; experiment_id: string; pid: number; log: string; tracking_uri: string }
  | { type: "log"; stream: "stdout" | "stderr"; line: string }
  | { type: "run.signal"; run_id: string; signal: string; action: "forwarded" | "killed" }
  | { type: "run.logged"; run_id: string; tracking_uri: string; params: number; metrics: number; tags: number; artifacts: string[] }
  | {
      type: "run.shown"
      run_id: string
      experiment_id: string
      run_name: string
      user_id: string
      status: RunStatusName
      start_time: number
      end_time: number | null
      artifact_uri: string
      lifecycle_stage: "active" | "deleted"
      tracking_uri: string
      params: Record<string, string>
      metrics: Record<string, { value: number; timestamp: number; step: number }>
      tags: Record<string, string>
    }
  | {
      type: "run.listed"
      run_id: string
      experiment_id: string
      run_name: string
      user_id: string
      status: RunStatusName
      start_time: number
      end_time: number | null
      artifact_uri: string
      lifecycle_stage: "active" | "deleted"
      params: Record<string, string>
      metrics: Record<string, { value: number; timestamp: number; step: number }>
      tags: Record<string, string>
    }
  | {
      type: "runs.listed"
      tracking_uri: string
      experiment_ids: string[]
      /** The filter the store applied (`--filter` and `--status` joined by AND), null for none. */
      filter: string | null
      order_by: string[]
      count: number
      /** More runs matched than `--max` let through. */
      more: boolean
      /** Run folders the file store could not read (a `warning` names them). */
      unreadable: number
    }
  | { type: "run.reused"; run_id: string; experiment_id: string; run_key: string; tracking_uri: string }
  | {
      type: "run.finished"
      run_id: string
      status: "FINISHED" | "FAILED" | "KILLED"
      exit_code: number | null
      signal: string | null
      duration_ms: number
      tracking_uri: string
      experiment_id: string
      /** The error code when the run failed before or around its entry point (an env build, a store write). */
      error_code?: string
      /** True when --timeout stopped the run. */
      timed_out?: boolean
      /** How many times the entry point was started, with --retries. */
      attempts?: number
      /** False when the final status could not be written to the store. */
      recorded: boolean
    }

  | {
      type: "migrate.experiment"
      source_experiment_id: string
      /** null when the experiment could not be copied */
      experiment_id: string | null
      name: string
      status: "created" | "existing" | "failed"
      reason?: string
      code?: string
    }
  | {
      type: "migrate.run"
      run_id: string
      source_experiment_id: string
      experiment_id: string | null
      status: "copied" | "skipped" | "different" | "failed"
      metric_points: number
      reason?: string
      code?: string
    }
  | {
      type: "migrate.done"
      source: string
      target: string
      experiments_created: number
      experiments_existing: number
      experiments_failed: number
      runs_copied: number
      runs_skipped: number
      runs_different: number
      runs_failed: number
      metric_points: number
      artifacts_copied: false
    }

export type EventType = Event["type"]
export type Emit = (event: Event) => void

/** A warning event from a located diagnostic. */
export const warningFrom = (d: Diagnostic): Event => ({
  type: "warning",
  code: d.code,
  message: d.message,
  ...(d.hint ? { hint: d.hint } : {}),
  ...(d.file ? { file: d.file } : {}),
  ...(d.line ? { line: d.line } : {}),
  ...(d.column ? { column: d.column } : {}),
})
