// `mlproject sweep`: one parent run, its trials as child runs under supervisors, -j at a time, the best one named at the end.
import type { Emit } from "../events/event.ts"
import { ToolError } from "../errors.ts"
import { resolveParameters } from "../project/parameters.ts"
import { storeFor } from "../tracking/index.ts"
import type { Run, RunInfo, Store, Tag } from "../tracking/types.ts"
import { redactUrl } from "../util/redact.ts"
import type { RunContext } from "./context.ts"
import { startSupervisor } from "./detach.ts"
import { finishRun } from "./finish.ts"
import { backendOf, prepareLaunch } from "./launch.ts"
import { childVariables, newRecord, writeRecordQuietly } from "./lifecycle.ts"
import { planRun, withParameters, type RunPlan } from "./plan.ts"
import { checkRecordable, logParams, openRun, recordStatus, resolveExperiment, runParams } from "./record.ts"
import type { RunRequest } from "./request.ts"
import type { Trial } from "./sweep-grid.ts"
import { writeBudget } from "./write-budget.ts"
import { findReusableRun } from "./reuse.ts"
import { runKey, runKeyTag } from "./run-key.ts"

export type SweepRequest = {
  base: RunRequest
  trials: Trial[]
  parallel: number
  metric: { name: string; goal: "minimize" | "maximize" } | null
  failFast: boolean
}

type TrialState = { index: number; trial: Trial; runId: string | null; status: "PENDING" | "RUNNING" | "FINISHED" | "FAILED" | "KILLED"; pid: number | null; metric: number | null }
type Active = { state: TrialState; exited: Promise<number> }

/** A child's own progress events stay quiet once the first child has shown them (the environment is built once). */
const quiet = (emit: Emit): Emit => (event) => {
  if (event.type === "warning" || event.type === "error") emit(event)
}

export const runSweep = async (sweep: SweepRequest, context: RunContext): Promise<number> => {
  const emit = context.emit
  const [first] = sweep.trials
  if (!first) throw new ToolError("usage", "the sweep has no trials: give at least one -P NAME=VALUES")
  const plan = await planRun({ ...sweep.base, params: first, detach: true }, { emit, cwd: context.cwd, env: context.env, signal: context.interrupt })
  try {
    // Every trial's values are checked before anything is recorded.
    for (const trial of sweep.trials) {
      const resolved = resolveParameters(plan.entryPoint, trial, { cwd: context.cwd, remotePaths: "keep" })
      checkRecordable({ ...plan, parameters: { ...plan.parameters, parameters: resolved.parameters } })
    }
    return await sweepTrials(plan, sweep, context)
  } finally {
    await plan.source.cleanup()
  }
}

const metricOf = (run: Run, name: string | undefined): number | null => (name === undefined ? null : (run.data.metrics[name]?.value ?? null))

const sweepTrials = async (plan: RunPlan, sweep: SweepRequest, context: RunContext): Promise<number> => {
  const store = storeFor(plan.trackingUri, context.env)
  const setup = { signal: context.interrupt }
  const experimentId = await resolveExperiment(store, plan.request, context, setup)
  const sweepTags: Tag[] = [
    { key: "mlproject.sweep.trials", value: String(sweep.trials.length) },
    { key: "mlproject.sweep.parallel", value: String(sweep.parallel) },
    ...(sweep.metric ? [{ key: "mlproject.sweep.metric", value: `${sweep.metric.goal} ${sweep.metric.name}` }] : []),
  ]
  const parent = (await openRun(store, { ...plan, request: { ...plan.request, runName: plan.request.runName ?? undefined } }, experimentId, context, setup, sweepTags)).info
  context.emit({ type: "sweep.started", parent_run_id: parent.run_id, experiment_id: experimentId, trials: sweep.trials.length, parallel: sweep.parallel, tracking_uri: redactUrl(plan.trackingUri) })

  const states: TrialState[] = sweep.trials.map((trial, index) => ({ index, trial, runId: null, status: "PENDING", pid: null, metric: null }))
  const active = new Map<number, Active>()
  // How many trials were prepared: only the first shows its preparation (the environment is built once).
  let launched = 0
  let stopping = false
  const progress = () =>
    context.emit({
      type: "sweep.progress",
      parent_run_id: parent.run_id,
      total: states.length,
      done: states.filter((s) => s.status !== "PENDING" && s.status !== "RUNNING").length,
      running: active.size,
      failed: states.filter((s) => s.status === "FAILED" || s.status === "KILLED").length,
    })

  // Trials made ready ahead, up to one per slot: a wave of trials that end together is followed by the next at once.
  const standby: Array<{ state: TrialState; exited: Promise<number>; release(): void; scheduled: boolean; cancel(): Promise<void> }> = []
  type Launched = { state: TrialState; exited: Promise<number>; release(): void; scheduled: boolean; cancel(): Promise<void> }

  /**
   * Creates the trial's run and starts its supervisor, held until `release`. A trial prepared ahead (while every slot
   * is busy) waits as SCHEDULED: when a slot frees, it starts at once, its process already loaded.
   */
  const prepareTrial = async (state: TrialState, scheduled: boolean): Promise<Launched | null> => {
    const childEmit = launched === 0 ? context.emit : quiet(context.emit)
    launched++
    const childContext = { ...context, emit: childEmit }
    const childPlan = await withParameters(plan, state.trial, { emit: childEmit, cwd: context.cwd, env: context.env, signal: context.interrupt })
    const key = await runKey(childPlan, { env: context.env })
    const done = plan.request.reuse ? await findReusableRun(store, experimentId, key, setup) : null
    if (done) {
      // Already computed by an earlier run with the same key: it counts as this trial, nothing runs.
      state.runId = done.info.run_id
      state.status = "FINISHED"
      state.metric = metricOf(done, sweep.metric?.name)
      context.emit({ type: "sweep.trial", parent_run_id: parent.run_id, run_id: done.info.run_id, index: state.index, params: Object.fromEntries(state.trial), status: "FINISHED", metric: state.metric, reused: true })
      return null
    }
    const { info } = await openRun(store, childPlan, experimentId, childContext, setup, [
      { key: "mlflow.parentRunId", value: parent.run_id },
      { key: runKeyTag, value: key },
    ])
    state.runId = info.run_id
    const target = { plan: childPlan, info, experimentId, variables: childVariables(childPlan.trackingUri, info.run_id, experimentId, context.env), store }
    const record = newRecord({ plan: childPlan, info, experimentId }, backendOf(target))
    writeRecordQuietly(context.env, record)
    try {
      if (scheduled) await store.updateRun(info.run_id, { status: "SCHEDULED" }, setup)
      await logParams(store, info.run_id, runParams(childPlan), setup)
      const prepared = await prepareLaunch(target, childContext)
      const supervisor = await startSupervisor({ plan: childPlan, runId: info.run_id, prepared, record, sharedSource: true, hold: true }, childContext)
      state.pid = supervisor.pid
      const cancel = async () => {
        // Never released: it started nothing. Its run ends KILLED and what it prepared (a container) goes.
        process.kill(supervisor.pid, "SIGKILL")
        await supervisor.exited
        await prepared.release()
        await recordStatus(store, info.run_id, "KILLED", Date.now(), {}).catch(() => {})
        state.status = "KILLED"
      }
      return { state, exited: supervisor.exited, release: supervisor.release, scheduled, cancel }
    } catch (error) {
      // The child existed: it ends FAILED like any run whose preparation failed.
      await finishRun(
        { store, runId: info.run_id, experimentId, trackingUri: childPlan.trackingUri, graceMs: plan.request.graceMs, retries: 0, timeoutMs: null },
        { outcome: null, failure: error, attempts: 0, timedOut: false, startedAt: null },
        record,
        { ...childContext, emit: quiet(context.emit) },
      )
      state.status = context.interrupt.aborted ? "KILLED" : "FAILED"
      if (context.interrupt.aborted) throw error
      return null
    }
  }

  const startTrial = async (trial: Launched): Promise<void> => {
    // RUNNING before the release: written after it, it could overwrite the status a quick trial already recorded.
    if (trial.scheduled) await store.updateRun(trial.state.runId as string, { status: "RUNNING" }, setup)
    trial.release()
    trial.state.status = "RUNNING"
    active.set(trial.state.index, { state: trial.state, exited: trial.exited })
    context.emit({ type: "sweep.trial", parent_run_id: parent.run_id, run_id: trial.state.runId as string, index: trial.state.index, params: Object.fromEntries(trial.state.trial), status: "RUNNING", metric: null })
  }

  const settle = async (index: number): Promise<void> => {
    const entry = active.get(index)
    if (!entry) return
    active.delete(index)
    // A trial made ready ahead takes the slot before the store is read.
    const ready = stopping || context.interrupt.aborted ? undefined : standby.shift()
    if (ready) await startTrial(ready)
    const run = await store.getRun(entry.state.runId as string)
    entry.state.status = run.info.status === "FINISHED" || run.info.status === "FAILED" || run.info.status === "KILLED" ? run.info.status : "FAILED"
    entry.state.metric = metricOf(run, sweep.metric?.name)
    context.emit({ type: "sweep.trial", parent_run_id: parent.run_id, run_id: run.info.run_id, index, params: Object.fromEntries(entry.state.trial), status: entry.state.status, metric: entry.state.metric })
  }

  /** Whether an active trial has ended, without waiting for one. */
  const anyEnded = async (): Promise<boolean> => {
    const probe = Symbol("running")
    const first = await Promise.race([...[...active.values()].map((entry) => entry.exited.then(() => true)), Promise.resolve(probe)])
    return first === true
  }

  const stopChildren = async (): Promise<void> => {
    stopping = true
    for (const { state } of active.values()) if (state.pid) process.kill(state.pid, "SIGTERM")
    await Promise.all([...active.keys()].map(async (index) => {
      await active.get(index)?.exited
      await settle(index)
    }))
  }

  const interrupted = new Promise<"interrupt">((resolve) => {
    if (context.interrupt.aborted) resolve("interrupt")
    else context.interrupt.addEventListener("abort", () => resolve("interrupt"), { once: true })
  })
  const dropStandby = async () => {
    for (const held of standby.splice(0)) await held.cancel()
  }
  try {
    let next = 0
    while (next < states.length || active.size > 0 || standby.length > 0) {
      while (!stopping && !context.interrupt.aborted && active.size < sweep.parallel && (standby.length > 0 || next < states.length)) {
        const trial: Launched | null = standby.shift() ?? (await prepareTrial(states[next++] as TrialState, false))
        if (trial) await startTrial(trial)
        progress()
      }
      if (active.size === 0) break
      while (!stopping && standby.length < sweep.parallel && next < states.length) {
        const ready = await prepareTrial(states[next++] as TrialState, true)
        if (ready) standby.push(ready)
        // A trial that ended meanwhile frees its slot for a trial that is ready.
        if (await anyEnded()) break
      }
      const ended = await Promise.race([...[...active.entries()].map(async ([index, entry]) => (await entry.exited, index)), interrupted])
      if (ended === "interrupt") {
        await dropStandby()
        await stopChildren()
        break
      }
      await settle(ended)
      progress()
      const failed = states[ended]?.status === "FAILED"
      if (failed && sweep.failFast && !stopping) {
        await dropStandby()
        await stopChildren()
      }
      if (stopping) next = states.length
    }
  } catch (error) {
    await dropStandby()
    await stopChildren()
    await endParent(store, parent, "KILLED", context, plan.request.graceMs)
    throw error
  }
  for (const state of states) if (state.status === "PENDING") state.status = "KILLED"
  return finishSweep(store, parent, states, sweep, context, plan)
}

const endParent = async (store: Store, parent: RunInfo, status: "FINISHED" | "FAILED" | "KILLED", context: RunContext, graceMs: number, tags: Tag[] = []): Promise<boolean> => {
  const budget = writeBudget(context, graceMs)
  try {
    if (tags.length > 0) await budget((call) => store.logBatch(parent.run_id, { tags }, call))
    await budget((call) => recordStatus(store, parent.run_id, status, Date.now(), call))
    return true
  } catch {
    return false
  }
}

const finishSweep = async (store: Store, parent: RunInfo, states: TrialState[], sweep: SweepRequest, context: RunContext, plan: RunPlan): Promise<number> => {
  const goal = sweep.metric?.goal
  const ranked = [...states].sort((a, b) => {
    if (a.metric === null || b.metric === null) return (a.metric === null ? 1 : 0) - (b.metric === null ? 1 : 0)
    return goal === "maximize" ? b.metric - a.metric : a.metric - b.metric
  })
  const best = sweep.metric ? ranked.find((state) => state.metric !== null && state.status === "FINISHED") : undefined
  const interrupted = context.interrupt.aborted
  const anyFailed = states.some((state) => state.status !== "FINISHED")
  const status = interrupted ? "KILLED" : anyFailed ? "FAILED" : "FINISHED"
  const tags: Tag[] = best?.runId && sweep.metric
    ? [
        { key: "mlproject.sweep.best_run_id", value: best.runId },
        { key: "mlproject.sweep.best_value", value: String(best.metric) },
        ...best.trial.map(([name, value]) => ({ key: `mlproject.sweep.best.${name}`, value })),
      ]
    : []
  const recorded = await endParent(store, parent, status, context, plan.request.graceMs, tags)
  context.emit({
    type: "sweep.finished",
    parent_run_id: parent.run_id,
    status,
    metric: sweep.metric?.name ?? null,
    goal: goal ?? null,
    best_run_id: best?.runId ?? null,
    trials: ranked.map((state) => ({ run_id: state.runId, params: Object.fromEntries(state.trial), status: state.status, metric: state.metric })),
    tracking_uri: redactUrl(plan.trackingUri),
    recorded,
  })
  return interrupted ? 130 : anyFailed || !recorded ? 1 : 0
}
