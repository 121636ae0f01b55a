// One run from request to recorded status: plan, checks, experiment and run, launch, wait, final status and `run.finished`.
import { errorEvent, errorReason } from "../events/error-event.ts"
import type { RunContext } from "./context.ts"
import type { RunOutcome } from "../backend/types.ts"
import { childTrackingVariables, storeFor } from "../tracking/index.ts"
import type { CallOptions, RunInfo, Store } from "../tracking/types.ts"
import { publicVariables, redactUrl } from "../util/redact.ts"
import { planRun, type RunPlan } from "./plan.ts"
import type { RunRequest } from "./request.ts"
import { checkRecordable, logParams, openRun, recordStatus, resolveExperiment, runParams } from "./record.ts"
import { launch } from "./launch.ts"
import { isInterruption, writeBudget } from "./write-budget.ts"

type FinalStatus = "FINISHED" | "FAILED" | "KILLED"

const exitCodes: Record<FinalStatus, number> = { FINISHED: 0, FAILED: 1, KILLED: 130 }

/** The variables MLflow gives the entry point so `mlflow.start_run()` attaches to this run. */
export const childVariables = (trackingUri: string, runId: string, experimentId: string, env: Record<string, string | undefined>): Record<string, string> => ({
  MLFLOW_RUN_ID: runId,
  // MLFLOW_TRACKING_URI, plus for databricks[://profile] MLflow's DATABRICKS_HOST/TOKEN/… and URI "databricks".
  ...childTrackingVariables(trackingUri, env),
  MLFLOW_EXPERIMENT_ID: experimentId,
  // MLflow >= 3.13 refuses a file store unless this is set.
  ...(trackingUri.startsWith("file:") ? { MLFLOW_ALLOW_FILE_STORE: "true" } : {}),
})

export const runProject = async (request: RunRequest, context: RunContext): Promise<number> => {
  const plan = await planRun(request, { emit: context.emit, cwd: context.cwd, env: context.env, signal: context.interrupt })
  try {
    if (request.dryRun) {
      context.emit({
        type: "run.planned",
        entry_point: request.entryPoint,
        command: plan.parameters.command,
        argv: plan.argv,
        cwd: plan.cwd,
        env: publicVariables(childVariables(plan.trackingUri, "<new run id>", request.experimentId ?? "<resolved at run time>", context.env)),
        env_manager: plan.envManager,
        parameters: Object.fromEntries(plan.parameters.parameters.map((p) => [p.name, p.value])),
        tracking_uri: redactUrl(plan.trackingUri),
        experiment_id: request.experimentId ?? null,
      })
      return 0
    }
    return await execute(plan, context)
  } finally {
    await plan.source.cleanup()
  }
}

const execute = async (plan: RunPlan, context: RunContext): Promise<number> => {
  const store = storeFor(plan.trackingUri, context.env)
  // Input the store would refuse fails here, before an experiment or a run is written.
  checkRecordable(plan)
  const setup: CallOptions = { signal: context.interrupt }
  const experimentId = await resolveExperiment(store, plan.request, context, setup)
  const { info, resumed } = await openRun(store, plan, experimentId, context, setup)
  context.emit({
    type: "run.created",
    run_id: info.run_id,
    experiment_id: experimentId,
    run_name: info.run_name,
    tracking_uri: redactUrl(plan.trackingUri),
    artifact_uri: info.artifact_uri,
    resumed,
  })
  // From here on the run exists: whatever happens, it gets a final status and `run.finished` is the last event.
  return superviseRun({ store, plan, info, experimentId, resumed }, context)
}

type OpenRun = { store: Store; plan: RunPlan; info: RunInfo; experimentId: string; resumed: boolean }

const superviseRun = async ({ store, plan, info, experimentId, resumed }: OpenRun, context: RunContext): Promise<number> => {
  const runId = info.run_id
  const budget = writeBudget(context, plan.request.graceMs)
  let startedAt: number | null = null
  let outcome: RunOutcome | null = null
  let failure: unknown = null
  try {
    if (!resumed) await logParams(store, runId, runParams(plan), { signal: context.interrupt })
    const variables = childVariables(plan.trackingUri, runId, experimentId, context.env)
    outcome = await launch({ plan, info, experimentId, variables, store }, context, (at) => (startedAt = at))
  } catch (error) {
    failure = error
  }
  // An interrupt that stopped the setup (an image pull, an environment build, a store call) ends the run as KILLED.
  const killed = outcome === null && (context.interrupt.aborted || isInterruption(failure, context))
  const status: FinalStatus = killed || outcome?.interrupted ? "KILLED" : outcome?.exitCode === 0 ? "FINISHED" : "FAILED"
  const endTime = outcome?.endedAt ?? Date.now()
  const failed = failure !== null && !killed ? errorEvent(failure, runId).event : null
  if (failed) context.emit(failed)

  let recorded = true
  try {
    // After an interrupt the write gets what is left of the grace period: a hung store cannot hold the exit.
    await budget((call) => recordStatus(store, runId, status, endTime, call))
  } catch (error) {
    recorded = false
    context.emit({
      type: "warning",
      code: "run.status_not_recorded",
      message: `run ${runId} could not be recorded as ${status} in ${redactUrl(store.location)}: ${errorReason(error)}`,
      hint: "it stays RUNNING there; end it with MLflow (MlflowClient().set_terminated(run_id, status)) once the store is reachable",
    })
  }
  context.emit({
    type: "run.finished",
    run_id: runId,
    status,
    exit_code: outcome?.exitCode ?? null,
    signal: outcome ? (outcome.interrupted ?? outcome.signal) : killed ? String(context.interrupt.reason ?? "SIGINT") : null,
    duration_ms: startedAt === null ? 0 : Math.max(0, endTime - startedAt),
    tracking_uri: redactUrl(plan.trackingUri),
    experiment_id: experimentId,
    ...(failed ? { error_code: failed.code } : {}),
    recorded,
  })
  // A finished run whose status could not be written is not a success for a caller that relies on the record; an
  // interrupt that cut the final write still ends the command as interrupted.
  if (!recorded) return context.interrupt.aborted ? 130 : status === "FINISHED" ? 1 : exitCodes[status]
  return exitCodes[status]
}
