// `mlproject sweep`: one parent run, its trials as child runs under supervisors, -j at a time, the best one named at the end.
import type { Emit } from "../events/event.ts"
import { ToolError } from "../errors.ts"
import { resolveParameters } from "../project/parameters.ts"
import { storeFor } from "../tracking/index.ts"
import type { Run, RunInfo, Store, Tag } from "../tracking/types.ts"
import { redactUrl } from "../util/redact.ts"
import type { RunContext } from "./context.ts"
import { startWorker, type Worker } from "./sweep-workers.ts"
import { readRecord, runDir, updateRecord, type RunRecord } from "./records.ts"
import { reconcile } from "./control.ts"
import type { Prepared } from "../backend/types.ts"
import { terminalStatuses } from "../tracking/types.ts"
import { join } from "node:path"
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
  const parent = (await openRun(store, plan, experimentId, context, setup, sweepTags)).info
  // The parent's record names this process as its owner: if the sweep is killed, status/wait find the parent out.
  writeRecordQuietly(context.env, { ...newRecord({ plan, info: parent, experimentId }, backendOf({ plan })), detached: false, command: `mlproject sweep (${sweep.trials.length} trials)` })
  context.emit({ type: "sweep.started", parent_run_id: parent.run_id, experiment_id: experimentId, trials: sweep.trials.length, parallel: sweep.parallel, tracking_uri: redactUrl(plan.trackingUri) })

  const states: TrialState[] = sweep.trials.map((trial, index) => ({ index, trial, runId: null, status: "PENDING", pid: null, metric: null }))
  const running = new Map<string, { state: TrialState; worker: Worker }>()
  // The workers' own messages (a crash) go beside the parent run's record.
  const workers: Worker[] = []
  // How many trials were prepared: only the first shows its preparation (the environment is built once).
  let prepared = 0
  let stopping = false
  const progress = () =>
    context.emit({
      type: "sweep.progress",
      parent_run_id: parent.run_id,
      total: states.length,
      done: states.filter((s) => s.status !== "PENDING" && s.status !== "RUNNING").length,
      running: running.size,
      failed: states.filter((s) => s.status === "FAILED" || s.status === "KILLED").length,
    })

  type Ready = { state: TrialState; plan: RunPlan; prepared: Prepared; record: RunRecord; scheduled: boolean }

  /**
   * Creates the trial's run and prepares it (environment, container). A trial prepared ahead, while every worker is
   * busy, waits as SCHEDULED and starts the moment one frees. Null when it needs no run (reused) or its preparation
   * failed (then its run is FAILED).
   */
  const prepareTrial = async (state: TrialState, scheduled: boolean): Promise<Ready | null> => {
    const childEmit = prepared === 0 ? context.emit : quiet(context.emit)
    prepared++
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
      return { state, plan: childPlan, prepared: await prepareLaunch(target, childContext), record, scheduled }
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

  /** A worker for the next trial: an idle one, or a new one while there are fewer than -j. */
  const idleWorker = (ready: Ready): Worker | null => {
    const idle = workers.find((worker) => worker.busy === null)
    if (idle) return idle
    if (workers.length >= sweep.parallel) return null
    const worker = startWorker(ready.prepared.env, plan.trackingUri, join(runDir(context.env, parent.run_id), `worker-${workers.length + 1}.log`), context)
    workers.push(worker)
    return worker
  }

  const startTrial = async (ready: Ready, worker: Worker): Promise<void> => {
    // RUNNING before the hand-over: written after it, it could overwrite the status a quick trial already recorded.
    if (ready.scheduled) await store.updateRun(ready.state.runId as string, { status: "RUNNING" }, setup)
    worker.give({ plan: ready.plan, runId: ready.state.runId as string, prepared: ready.prepared, record: ready.record }, context)
    ready.state.status = "RUNNING"
    ready.state.pid = worker.pid
    running.set(ready.state.runId as string, { state: ready.state, worker })
    context.emit({ type: "sweep.trial", parent_run_id: parent.run_id, run_id: ready.state.runId as string, index: ready.state.index, params: Object.fromEntries(ready.state.trial), status: "RUNNING", metric: null })
  }

  /** Reads how a trial ended (a worker that died leaves its run to reconciliation: FAILED, never RUNNING). */
  const settle = async (runId: string): Promise<void> => {
    const entry = running.get(runId)
    if (!entry) return
    running.delete(runId)
    entry.worker.busy = null
    let run = await store.getRun(runId)
    if (!terminalStatuses.has(run.info.status)) run = await reconcile({ run, record: readRecord(context.env, runId) }, { store, trackingUri: plan.trackingUri, env: context.env })
    entry.state.status = run.info.status === "FINISHED" || run.info.status === "FAILED" || run.info.status === "KILLED" ? run.info.status : "FAILED"
    entry.state.metric = metricOf(run, sweep.metric?.name)
    context.emit({ type: "sweep.trial", parent_run_id: parent.run_id, run_id: runId, index: entry.state.index, params: Object.fromEntries(entry.state.trial), status: entry.state.status, metric: entry.state.metric })
  }

  // Trials made ready ahead, one per worker at most: a wave of trials that end together is followed by the next at once.
  const standby: Ready[] = []
  const dropStandby = async () => {
    for (const ready of standby.splice(0)) {
      await ready.prepared.release()
      await recordStatus(store, ready.state.runId as string, "KILLED", Date.now(), {}).catch(() => {})
      ready.state.status = "KILLED"
    }
  }
  const stopWorkers = async () => {
    stopping = true
    for (const worker of workers) {
      if (worker.busy) worker.signal("SIGTERM")
      worker.close()
    }
    await Promise.all(workers.map((worker) => worker.exited))
    for (const runId of [...running.keys()]) await settle(runId)
  }

  // What the loop waits for: a worker's answer (or its death), or an interrupt.
  type Wake = { runId: string; worker: Worker } | { died: Worker } | "interrupt"
  const pendingAnswers = new Map<Worker, Promise<Wake>>()
  const answerOf = (worker: Worker): Promise<Wake> => {
    let answer = pendingAnswers.get(worker)
    if (!answer) {
      answer = worker.next().then((result): Wake => (result ? { runId: result.runId, worker } : { died: worker }))
      pendingAnswers.set(worker, answer)
    }
    return answer
  }
  const interrupted = new Promise<Wake>((resolve) => {
    if (context.interrupt.aborted) resolve("interrupt")
    else context.interrupt.addEventListener("abort", () => resolve("interrupt"), { once: true })
  })

  try {
    let next = 0
    const nextReady = async (scheduled: boolean): Promise<Ready | null> => {
      while (next < states.length) {
        const ready = await prepareTrial(states[next++] as TrialState, scheduled)
        if (ready) return ready
        progress()
      }
      return null
    }
    for (;;) {
      // Fill every free worker slot, from the trials made ready ahead first.
      while (!stopping && !context.interrupt.aborted && running.size < sweep.parallel) {
        const ready = standby.shift() ?? (await nextReady(false))
        if (!ready) break
        const worker = idleWorker(ready)
        if (!worker) {
          standby.unshift(ready)
          break
        }
        await startTrial(ready, worker)
        progress()
      }
      if (running.size === 0) break
      // While every worker is busy, the next trials get ready, so that each starts the moment a worker frees.
      while (!stopping && standby.length < sweep.parallel && next < states.length) {
        const ready = await nextReady(true)
        if (ready) standby.push(ready)
        if (await Promise.race([...[...running.values()].map(({ worker }) => answerOf(worker).then(() => true)), Promise.resolve(false)])) break
      }
      const busy = [...new Set([...running.values()].map(({ worker }) => worker))]
      const wake = await Promise.race([...busy.map(answerOf), interrupted])
      if (wake === "interrupt") {
        await dropStandby()
        await stopWorkers()
        break
      }
      if ("died" in wake) {
        pendingAnswers.delete(wake.died)
        workers.splice(workers.indexOf(wake.died), 1)
        const lost = [...running.entries()].filter(([, entry]) => entry.worker === wake.died).map(([runId]) => runId)
        for (const runId of lost) await settle(runId)
      } else {
        pendingAnswers.delete(wake.worker)
        await settle(wake.runId)
      }
      progress()
      const failed = states.some((state) => state.status === "FAILED")
      if (failed && sweep.failFast && !stopping) {
        await dropStandby()
        await stopWorkers()
        next = states.length
      }
    }
  } catch (error) {
    await dropStandby()
    await stopWorkers()
    await endParent(store, parent, "KILLED", context, plan.request.graceMs)
    throw error
  }
  for (const worker of workers) worker.close()
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
  const record = readRecord(context.env, parent.run_id)
  if (record) updateRecord(context.env, record, { ended: Date.now(), status })
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
