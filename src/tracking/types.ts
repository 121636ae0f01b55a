// The tracking store contract: experiments and runs as MLflow's REST API shapes them.

export type RunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED"
/** The tag that holds a run's name (MLflow also keeps it in the run's info). */
export const runNameTag = "mlflow.runName"
export const terminalStatuses: ReadonlySet<RunStatus> = new Set(["FINISHED", "FAILED", "KILLED"])

export type Experiment = {
  experiment_id: string
  name: string
  artifact_location: string
  lifecycle_stage: "active" | "deleted"
  creation_time?: number
  last_update_time?: number
  tags: Record<string, string>
}

export type RunInfo = {
  run_id: string
  experiment_id: string
  run_name: string
  user_id: string
  status: RunStatus
  start_time: number
  end_time: number | null
  artifact_uri: string
  lifecycle_stage: "active" | "deleted"
}

export type Metric = { key: string; value: number; timestamp: number; step: number }

export type Run = {
  info: RunInfo
  data: {
    params: Record<string, string>
    tags: Record<string, string>
    /** Latest value of each metric. */
    metrics: Record<string, Metric>
  }
}

export type Tag = { key: string; value: string }

/**
 * Per-call options every store method takes last. `signal` ends a call that is still waiting (a hung server, a held
 * lock): the call then rejects with the signal's reason and its effect is unknown.
 */
export type CallOptions = { signal?: AbortSignal }

export type RunViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL"

/** A run search as MLflow's `runs/search` takes it; the store pages through the answers itself. */
export type SearchRunsInput = {
  experimentIds: string[]
  /** MLflow's filter syntax (`params.alpha = '0.5' AND metrics.rmse < 1`); a filter that does not parse is `tracking.filter.invalid`. */
  filter?: string
  /** `metrics.rmse`, `params.alpha DESC`, …; after them MLflow's order: start_time descending, then run id. */
  orderBy?: string[]
  /** At most this many runs; every matching run when absent. */
  maxResults?: number
  /** Default ACTIVE_ONLY. */
  runViewType?: RunViewType
  /** Told of each run folder the file store could not read and left out (MLflow's FileStore skips them too). */
  onUnreadable?: (problem: { run: string; reason: string }) => void
}

export type RunUpdate = { status?: RunStatus; end_time?: number; run_name?: string; unlessEnded?: boolean }

/** A new run as createRun takes it. */
export type NewRun = {
  experiment_id: string
  user_id: string
  start_time: number
  run_name: string
  tags: Tag[]
  /** The run's first params: a store with `paramsAtCreate` writes them with the run itself, any other logs them after. */
  params?: Tag[]
}

export interface Store {
  /** Human description for messages (a path or a URL without credentials). */
  readonly location: string
  /**
   * createRun writes `params` in the same step as the run (one transaction, one folder published whole): one write of a
   * store instead of two for every run. A tracking server's create call takes no params.
   */
  readonly paramsAtCreate?: boolean
  /** Loads the store's code ahead of its first call, touching nothing the store holds (not every store has it). */
  warm?(): void
  getExperiment(experimentId: string, call?: CallOptions): Promise<Experiment | null>
  getExperimentByName(name: string, call?: CallOptions): Promise<Experiment | null>
  /** Creates the experiment, or returns the id of the one that already has this name (race-safe). */
  getOrCreateExperiment(name: string, call?: CallOptions): Promise<{ experiment_id: string; created: boolean }>
  createRun(input: NewRun, call?: CallOptions): Promise<RunInfo>
  getRun(runId: string, call?: CallOptions): Promise<Run>
  /** The run's info alone (its status, times, name), without reading its params, tags and metrics. */
  getRunInfo(runId: string, call?: CallOptions): Promise<RunInfo>
  /** Matching runs of these experiments in the requested order (MLflow's semantics); unknown experiment ids add none. */
  searchRuns(input: SearchRunsInput, call?: CallOptions): Promise<Run[]>
  logBatch(runId: string, batch: { params?: Tag[]; tags?: Tag[]; metrics?: Metric[] }, call?: CallOptions): Promise<void>
  setTag(runId: string, key: string, value: string, call?: CallOptions): Promise<void>
  /**
   * `unlessEnded`: a run that already has a terminal status (its program ended it) is left as it is; looked at in the
   * same step as the write where the store can.
   */
  updateRun(runId: string, update: RunUpdate, call?: CallOptions): Promise<void>
  logMetric(runId: string, metric: Metric, call?: CallOptions): Promise<void>
}
