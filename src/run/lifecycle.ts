// One run from request to recorded status: plan, experiment, run and tags, launch, wait, final status.
import { userInfo } from "node:os"
import { ToolError } from "../errors.ts"
import type { RunContext } from "./context.ts"
import type { RunOutcome } from "../backend/types.ts"
import { gitInfo, localSourceName } from "../source/git-info.ts"
import { childTrackingVariables, storeFor } from "../tracking/index.ts"
import { terminalStatuses, type CallOptions, type RunInfo, type RunStatus, type Store, type Tag } from "../tracking/types.ts"
import { publicVariables, redactUrl } from "../util/redact.ts"
import { planRun, type RunPlan } from "./plan.ts"
import type { RunRequest } from "./request.ts"
import { generateRunName } from "./run-name.ts"
import { runTags } from "./tags.ts"
import { launch } from "./launch.ts"
import { isInterruption, writeBudget, type Budgeted } from "./write-budget.ts"

const exitCodes: Record<"FINISHED" | "FAILED" | "KILLED", number> = { FINISHED: 0, FAILED: 1, KILLED: 130 }

const loginName = (env: Record<string, string | undefined>): string => {
  try {
    return userInfo().username
  } catch {
    return env.USER ?? env.LOGNAME ?? "unknown"
  }
}

/** The variables MLflow gives the entry point so `mlflow.start_run()` attaches to this run. */
export const childVariables = (trackingUri: string, runId: string, experimentId: string, env: Record<string, string | undefined>): Record<string, string> => ({
  MLFLOW_RUN_ID: runId,
  // MLFLOW_TRACKING_URI, plus for databricks[://profile] MLflow's DATABRICKS_HOST/TOKEN/… and URI "databricks".
  ...childTrackingVariables(trackingUri, env),
  MLFLOW_EXPERIMENT_ID: experimentId,
  // MLflow >= 3.13 refuses a file store unless this is set.
  ...(trackingUri.startsWith("file:") ? { MLFLOW_ALLOW_FILE_STORE: "true" } : {}),
})

const resolveExperiment = async (store: Store, request: RunRequest, context: RunContext): Promise<string> => {
  const call = { signal: context.interrupt }
  if (request.experimentId !== undefined) {
    const experiment = await store.getExperiment(request.experimentId, call)
    if (!experiment || experiment.lifecycle_stage !== "active") {
      throw new ToolError("experiment.not_found", `experiment id '${request.experimentId}' does not exist in ${store.location}${experiment ? " (it is deleted)" : ""}`, {
        hint: "use --experiment-name NAME to create one, or an id that exists",
      })
    }
    return experiment.experiment_id
  }
  if (request.experimentName !== undefined) {
    const { experiment_id, created } = await store.getOrCreateExperiment(request.experimentName, call)
    if (created) context.emit({ type: "experiment.created", experiment_id, name: request.experimentName })
    return experiment_id
  }
  const fallback = await store.getExperiment("0", call)
  if (!fallback) throw new ToolError("experiment.not_found", `the Default experiment (0) is missing from ${store.location}`)
  return "0"
}

const openRun = async (store: Store, plan: RunPlan, experimentId: string, context: RunContext, budget: Budgeted): Promise<{ info: RunInfo; resumed: boolean }> => {
  const { request } = plan
  const call = { signal: context.interrupt }
  if (request.runId !== undefined) {
    const existing = await store.getRun(request.runId, call)
    if (existing.info.lifecycle_stage !== "active") {
      throw new ToolError("run.deleted", `run ${request.runId} is deleted and cannot be continued`)
    }
    await store.updateRun(request.runId, { status: "RUNNING" }, call)
    return { info: existing.info, resumed: true }
  }
  const { source } = plan
  const git = source.kind === "local" ? await gitInfo(plan.project.dir) : null
  const runName = request.runName ?? generateRunName()
  const user = loginName(context.env)
  const tags: Tag[] = runTags({
    user,
    sourceName: redactUrl(source.kind === "local" && !request.uri.includes("#") ? localSourceName(plan.project.dir, git) : source.name),
    entryPoint: request.entryPoint,
    git: git ? { commit: git.commit, repo_url: git.remote_url } : source.git ? { commit: source.git.commit, repo_url: source.git.repo_url } : null,
    // MLflow records the branch only for `--version BRANCH`; the branch a local work tree is on is as useful.
    gitBranch: source.git?.branch ?? git?.branch ?? undefined,
    runName,
    backend: "local",
    envManager: plan.env?.tag ?? plan.envManager,
  })
  const info = await store.createRun({ experiment_id: experimentId, user_id: user, start_time: Date.now(), run_name: runName, tags }, call)
  const params = plan.parameters.parameters.map((p) => ({ key: p.name, value: p.logged }))
  try {
    if (params.length > 0) await store.logBatch(info.run_id, { params }, call)
  } catch (error) {
    // Interrupted between creating the run and starting it: the run exists, so it ends KILLED like any other.
    if (isInterruption(error, context)) await endRun(store, info.run_id, "KILLED", context, budget)
    throw error
  }
  return { info, resumed: false }
}

const finalStatus = (outcome: RunOutcome): "FINISHED" | "FAILED" | "KILLED" =>
  outcome.interrupted ? "KILLED" : outcome.exitCode === 0 ? "FINISHED" : "FAILED"

/** Sets the final status unless the program already ended the run itself, as MLflow does. */
const recordStatus = async (store: Store, runId: string, status: RunStatus, call: CallOptions): Promise<void> => {
  const current = await store.getRun(runId, call)
  if (terminalStatuses.has(current.info.status)) return
  await store.updateRun(runId, { status, end_time: Date.now() }, call)
}

/**
 * The final status write, bounded once an interrupt came. When that bound cuts it, the run keeps whatever status
 * the store has (RUNNING): a warning says so and false comes back; any other failure is thrown.
 */
const endRun = async (store: Store, runId: string, status: RunStatus, context: RunContext, budget: Budgeted): Promise<boolean> => {
  try {
    await budget((call) => recordStatus(store, runId, status, call))
    return true
  } catch (error) {
    if (!isInterruption(error, context)) throw error
    context.emit({
      type: "warning",
      code: "tracking.status.unrecorded",
      message: `run ${runId}: its status ${status} could not be recorded in ${redactUrl(store.location)} (${error instanceof Error ? error.message : String(error)}); the store still shows it as it was`,
      hint: "set the status later with the MLflow client (MlflowClient().set_terminated(run_id, status)), or check the tracking server",
    })
    return false
  }
}

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
  const budget = writeBudget(context, plan.request.graceMs)
  const experimentId = await resolveExperiment(store, plan.request, context)
  const { info, resumed } = await openRun(store, plan, experimentId, context, budget)
  const runId = info.run_id
  context.emit({
    type: "run.created",
    run_id: runId,
    experiment_id: experimentId,
    run_name: info.run_name,
    tracking_uri: redactUrl(plan.trackingUri),
    artifact_uri: info.artifact_uri,
    resumed,
  })
  const startedAt = Date.now()
  let outcome: RunOutcome
  try {
    const variables = childVariables(plan.trackingUri, runId, experimentId, context.env)
    outcome = await launch({ plan, info, experimentId, variables, store }, context)
  } catch (error) {
    // An interrupt while an image or environment was built (or a tag written) stops the run before its program started.
    if (isInterruption(error, context)) {
      outcome = { exitCode: null, signal: null, interrupted: String(context.interrupt.reason ?? "SIGINT") }
    } else {
      await endRun(store, runId, "FAILED", context, budget)
      throw error
    }
  }
  const status = finalStatus(outcome)
  const recorded = await endRun(store, runId, status, context, budget)
  context.emit({
    type: "run.finished",
    run_id: runId,
    status,
    exit_code: outcome.exitCode,
    signal: outcome.interrupted ?? outcome.signal,
    duration_ms: Date.now() - startedAt,
    tracking_uri: redactUrl(plan.trackingUri),
    experiment_id: experimentId,
  })
  // An interrupt that cut the final write still ends the command as interrupted.
  return recorded ? exitCodes[status] : 130
}
