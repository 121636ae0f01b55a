// One run from request to recorded status: plan, checks, experiment and run, launch, wait, final status and `run.finished`.
import type { RunContext } from "./context.ts"
import type { Output, Prepared } from "../backend/types.ts"
import { storeFor } from "../tracking/store-for.ts"
import { childTrackingVariables } from "../tracking/tracking-uri.ts"
import type { CallOptions, RunInfo, Store } from "../tracking/types.ts"
import { publicVariables, redactUrl } from "../util/redact.ts"
import { planRun, type RunPlan } from "./plan.ts"
import type { RunRequest } from "./request.ts"
import { checkRecordable, logParams, openRun, resolveExperiment, runParams } from "./record.ts"
import { backendOf, prepareLaunch, runAttempts } from "./launch.ts"
import { finishRun, type Ending } from "./finish.ts"
import { handOver } from "./detach.ts"
import { updateRecord, writeRecord, type RunRecord } from "./records.ts"
import { ownerTag } from "../util/owner.ts"
import { findReusableRun } from "./reuse.ts"
import { runKey, runKeyTag } from "./run-key.ts"

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
  // The digest of everything that decides what the run computes: recorded on every run, looked up with --reuse.
  const key = await runKey(plan, { env: context.env })
  if (plan.request.reuse) {
    const done = await findReusableRun(store, experimentId, key, setup)
    if (done) {
      context.emit({ type: "run.reused", run_id: done.info.run_id, experiment_id: experimentId, run_key: key, tracking_uri: redactUrl(plan.trackingUri) })
      return 0
    }
  }
  const { info, resumed, paramsLogged } = await openRun(store, plan, experimentId, context, setup, [{ key: runKeyTag, value: key }], runParams(plan))
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
  return superviseRun({ store, plan, info, experimentId, resumed, paramsLogged }, context)
}

type OpenRun = { store: Store; plan: RunPlan; info: RunInfo; experimentId: string; resumed: boolean; paramsLogged: boolean }

const outputOf = (context: RunContext): Output => (context.captureOutput ? { to: "events" } : { to: "terminal" })

/** The record this machine keeps of the run, written before anything can fail: a SIGKILLed owner is found out later. */
export const newRecord = ({ plan, info, experimentId }: Pick<OpenRun, "plan" | "info" | "experimentId">, backend: RunRecord["backend"]): RunRecord => ({
  version: 1,
  run_id: info.run_id,
  experiment_id: experimentId,
  tracking_uri: redactUrl(plan.trackingUri),
  backend,
  detached: plan.request.detach,
  owner: ownerTag(),
  created: Date.now(),
  grace_ms: plan.request.graceMs,
  timeout_ms: plan.request.timeoutMs,
  retries: plan.request.retries,
  command: plan.parameters.command,
  cwd: plan.cwd,
})

const superviseRun = async (open: OpenRun, context: RunContext): Promise<number> => {
  const { store, plan, info, experimentId, resumed, paramsLogged } = open
  const runId = info.run_id
  const target = { plan, info, experimentId, variables: childVariables(plan.trackingUri, runId, experimentId, context.env), store }
  let record = newRecord(open, backendOf(target))
  writeRecordQuietly(context.env, record)
  const ending: Ending = { outcome: null, failure: null, attempts: 0, timedOut: false, startedAt: null }
  let prepared: Prepared | null = null
  let settled: Promise<void> = Promise.resolve()
  try {
    if (!resumed && !paramsLogged) await logParams(store, runId, runParams(plan), { signal: context.interrupt })
    prepared = await prepareLaunch(target, context)
    if (plan.request.detach) {
      const handedOver = prepared
      prepared = null
      return await handOver({ plan, runId, experimentId, prepared: handedOver, record }, context)
    }
    const result = await runAttempts(prepared, { runId, output: outputOf(context), graceMs: plan.request.graceMs, emit: context.emit, interrupt: context.interrupt, forceInterrupt: context.forceInterrupt }, {
      retries: plan.request.retries,
      timeoutMs: plan.request.timeoutMs,
      onStarted: (at, attempt, where, pid) => {
        ending.startedAt ??= at
        record = updateRecord(context.env, record, { started: at, process: where })
        context.emit({ type: "run.started", run_id: runId, command: plan.parameters.command, cwd: plan.cwd, pid, ...(attempt > 1 ? { attempt } : {}) })
      },
    })
    const { settled: backendDone, ...attempts } = result
    settled = backendDone
    Object.assign(ending, attempts)
  } catch (error) {
    ending.failure = error
  }
  // What the backend still finishes (the daemon removing the container) and then the release (a daemon round trip) run
  // while the final status is written; the command ends only once both are done.
  const held = prepared
  const releasing = settled.then(() => held?.release()).then(
    () => null,
    (error: unknown) => ({ error }),
  )
  const facts = { store, runId, experimentId, trackingUri: plan.trackingUri, graceMs: plan.request.graceMs, retries: plan.request.retries, timeoutMs: plan.request.timeoutMs }
  const code = await finishRun(facts, ending, record, context).finally(() => releasing)
  const released = await releasing
  if (released) throw released.error
  return code
}

export const writeRecordQuietly = (env: RunContext["env"], record: RunRecord): void => {
  try {
    writeRecord(env, record)
  } catch {
    // Without a writable cache only later status/wait/cancel lose sight of this run; the run itself goes on.
  }
}
