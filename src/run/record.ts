// What a run writes to its tracking store: the checks before anything is written, the experiment, the run and its params, the final status.
import { ToolError } from "../errors.ts"
import type { RunContext } from "./context.ts"
import { gitInfo, localSourceName } from "../source/git-info.ts"
import { limits, validateExperimentName, validateParam, validateTag } from "../tracking/key-rules.ts"
import { type CallOptions, type RunInfo, type RunStatus, type Store, type Tag } from "../tracking/types.ts"
import { redactUrl } from "../util/redact.ts"
import { loginName } from "../util/user.ts"
import type { RunPlan } from "./plan.ts"
import type { RunRequest } from "./request.ts"
import { generateRunName } from "./run-name.ts"
import { runTags } from "./tags.ts"

/** The params a run logs, as the store receives them. */
export const runParams = (plan: RunPlan): Tag[] => plan.parameters.parameters.map((p) => ({ key: p.name, value: p.logged }))

/**
 * Every rule the store would enforce on what the run records, checked before the experiment or run exists: an input
 * the store refuses must exit 2 with nothing recorded, not leave a RUNNING run without params.
 */
export const checkRecordable = (plan: RunPlan): void => {
  const { request } = plan
  for (const param of runParams(plan)) {
    try {
      validateParam(param)
    } catch (error) {
      if (!(error instanceof ToolError)) throw error
      // A declared parameter is located at its line in MLproject; an extra -P parameter came from the command line.
      const declared = plan.entryPoint.parameters.find((spec) => spec.name === param.key)?.location
      const fromUser = plan.parameters.parameters.find((p) => p.name === param.key)?.source === "user"
      throw new ToolError(error.code, `${error.message} (a parameter of entry point '${plan.entryPoint.name}')`, {
        hint: error.hint ?? (fromUser ? "pass a shorter value with -P, or rename the parameter" : "rename the parameter or shorten its default in MLproject"),
        ...(declared ? { location: declared } : {}),
        exitCode: 2,
        cause: error,
      })
    }
  }
  if (request.experimentName !== undefined) validateExperimentName(request.experimentName)
  if (request.runName !== undefined) validateTag({ key: "mlflow.runName", value: request.runName })
}

export const resolveExperiment = async (store: Store, request: RunRequest, context: RunContext, call: CallOptions): Promise<string> => {
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

/**
 * A continued run keeps the params it logged (they are not logged again: the store would refuse a changed value, as
 * MLflow's log_param does later). When this run's values differ, the program gets values its run does not show: said.
 */
const warnChangedParams = (plan: RunPlan, logged: Record<string, string>, context: RunContext): void => {
  const changed = plan.parameters.parameters.filter((p) => logged[p.name] !== undefined && logged[p.name] !== p.logged)
  if (changed.length === 0) return
  const list = changed.map((p) => `${p.name} (logged ${JSON.stringify(logged[p.name])}, now ${JSON.stringify(p.logged)}${p.source === "default" ? " by default" : ""})`)
  context.emit({
    type: "warning",
    code: "run.params_differ",
    message: `run ${plan.request.runId} keeps the params it logged, which differ from this run's: ${list.join(", ")}`,
    hint: "the entry point receives the new values but the run shows the old ones; pass the logged values with -P, or start a new run without --run-id",
  })
}

/**
 * The run continued with --run-id (checked, set RUNNING) or a new one with MLflow's PROJECT tags. A new run gets
 * `params` with it where the store writes both in one step (`paramsLogged`); otherwise the caller logs them once
 * the run exists, so a refused param still ends a run that is there.
 */
/** What the backend adds to MLflow's tags, known from the plan: which launcher runs a Databricks task. */
const backendTagsOf = (plan: RunPlan): Tag[] => (plan.databricks ? [{ key: "mlproject.databricks.launcher", value: plan.databricks.launcher }] : [])

export const openRun = async (
  store: Store,
  plan: RunPlan,
  experimentId: string,
  context: RunContext,
  call: CallOptions,
  /** Tags beyond MLflow's PROJECT tags (a sweep's `mlflow.parentRunId`). */
  extraTags: Tag[] = [],
  params: Tag[] = [],
): Promise<{ info: RunInfo; resumed: boolean; paramsLogged: boolean }> => {
  const { request, source } = plan
  if (request.runId !== undefined) {
    const existing = await store.getRun(request.runId, call)
    if (existing.info.lifecycle_stage !== "active") {
      throw new ToolError("run.deleted", `run ${request.runId} is deleted and cannot be continued`)
    }
    warnChangedParams(plan, existing.data.params, context)
    await store.updateRun(request.runId, { status: "RUNNING" }, call)
    const backendTags = backendTagsOf(plan)
    if (backendTags.length > 0) await store.logBatch(request.runId, { tags: backendTags }, call)
    return { info: existing.info, resumed: true, paramsLogged: false }
  }
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
    backend: plan.databricks ? "databricks" : plan.kube ? "kubernetes" : "local",
    envManager: plan.env?.tag ?? plan.envManager,
  })
  tags.push(...backendTagsOf(plan), ...extraTags)
  // Our own tags (a source path, a branch name) can be long too: refused before the run exists.
  for (const tag of tags) validateTag(tag)
  const withParams = store.paramsAtCreate === true && params.length > 0
  const info = await store.createRun({ experiment_id: experimentId, user_id: user, start_time: Date.now(), run_name: runName, tags, ...(withParams ? { params } : {}) }, call)
  return { info, resumed: false, paramsLogged: withParams }
}

/** Logs the run's params in batches the store accepts. */
export const logParams = async (store: Store, runId: string, params: Tag[], call: CallOptions): Promise<void> => {
  for (let start = 0; start < params.length; start += limits.paramsPerBatch) {
    await store.logBatch(runId, { params: params.slice(start, start + limits.paramsPerBatch) }, call)
  }
}

/** Sets the final status unless the program already ended the run itself, as MLflow does. */
export const recordStatus = (store: Store, runId: string, status: RunStatus, endTime: number, call: CallOptions): Promise<void> =>
  store.updateRun(runId, { status, end_time: endTime, unlessEnded: true }, call)
