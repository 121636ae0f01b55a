// The backend contract: prepare what a run needs, start it (here or in a supervisor), and find it again from a record.
import type { Emit } from "../events/event.ts"
import type { RunContext } from "../run/context.ts"
import type { RunPlan } from "../run/plan.ts"
import type { RunInfo, Store } from "../tracking/types.ts"

type Env = Record<string, string | undefined>

export type RunOutcome = {
  /** The entry point's exit code, or null when a signal ended it. */
  exitCode: number | null
  signal: string | null
  /** The interrupt we received ("SIGINT", …), or null when the run ended by itself. */
  interrupted: string | null
  /** When the entry point ended (epoch ms): its leader's exit, before stragglers were stopped and output drained. */
  endedAt: number
}

/** Where the entry point's output goes: `log` events (JSON, --events), the terminal untouched, or a log file. */
export type Output = { to: "events" } | { to: "terminal" } | { to: "file"; fd: number }

/** How every backend reports and stops a run: the same events, interrupts and grace period. */
export type RunControl = {
  runId: string
  output: Output
  graceMs: number
  emit: Emit
  interrupt: AbortSignal
  forceInterrupt: AbortSignal
}

/** What a later process needs to find a started entry point again (kept in the run's record). */
export type BackendRecord =
  | { backend: "local"; pgid: number; start: string | null }
  | { backend: "docker"; container: string }
  | { backend: "kubernetes"; context: string | null; namespace: string; job: string }
  | { backend: "databricks"; workspace: string; run: number }

/**
 * What `prepare` made ready: everything that can fail early is behind it. It is plain data, so a supervisor in another
 * process can start it (the environment travels as that process's own environment, never in a file).
 */
export type LaunchSpec =
  | { backend: "local"; argv: string[]; cwd: string }
  | { backend: "docker"; container: string; name: string; image: string; autoRemove?: boolean }
  | {
      backend: "kubernetes"
      context: string | null
      namespace: string
      /** The Job to create, its variables' values left out (they travel in the starter's environment). */
      job: Record<string, unknown>
      projectName: string | null
      /** The container variables, in order, whose values the environment holds. */
      variables: string[]
      artifactUri: string
      pendingTimeoutMs: number
    }
  | {
      backend: "databricks"
      /** The tracking URI whose credentials reach the workspace (`databricks[://profile]`); they are resolved again by whoever submits. */
      workspaceUri: string
      /** The `runs/submit` body: no credential in it, ever. */
      payload: Record<string, unknown>
    }

export type Prepared = {
  spec: LaunchSpec
  /** The environment to start with (a local entry point's own; for docker, what reaches the daemon and the store). */
  env: Env
  /** Folders of shared leases held while the run lives (its environment), for a supervisor to take over. */
  leases: string[]
  /** Releases what preparing took (leases; a created container is removed). */
  release(): Promise<void>
}

export type RunHandle = {
  /** The entry point's process on this machine (its group's leader, or a container's first process); null where
   * there is none here (a Kubernetes pod, a Databricks task) or a container ended before its pid was read. */
  pid: number | null
  record: BackendRecord
  wait(): Promise<RunOutcome>
  /**
   * Called once `wait` has answered: resolves (never rejects) when the backend is done with what the entry point held,
   * the daemon's removal of an AutoRemove container. The final status is written meanwhile; the command ends after it.
   */
  settled?(): Promise<void>
}

/** The run a backend prepares: the plan, the run as created, the variables MLflow gives the entry point, its store. */
export type LaunchTarget = { plan: RunPlan; info: RunInfo; experimentId: string; variables: Record<string, string>; store: Store }

export type Backend = {
  /** Builds or pulls what the entry point runs in (an environment, an image, a created container); emits env.ready. */
  prepare(target: LaunchTarget, context: RunContext): Promise<Prepared>
  /** Starts a prepared entry point; may be called again for a retry once the previous attempt ended. */
  start(spec: LaunchSpec, env: Env, control: RunControl): Promise<RunHandle>
  /** Whether what the record names still runs. */
  alive(record: BackendRecord, env: Env): Promise<boolean>
  /** Stops what the record names from any process: SIGTERM, SIGKILL after the grace period; a container is removed. */
  stop(record: BackendRecord, env: Env, graceMs: number): Promise<void>
}
