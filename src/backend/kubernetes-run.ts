// A Kubernetes run from Job creation to its end: states and reasons as events, pod logs live and saved, interrupts delete the Job.
import { mkdtempSync, rmSync, writeSync, openSync, closeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import type { KubeClient } from "../kube/api.ts"
import { escalateInterrupts } from "./interrupts.ts"
import { followLog } from "./kubernetes-logs.ts"
import { lineWriter } from "./output-lines.ts"
import { fatalReasons, jobView, observe, podView, stuckReasons, type PodView } from "./kubernetes-watch.ts"
import type { RunControl, RunOutcome } from "./types.ts"

type Obj = Record<string, any>

export type JobStatus = "SCHEDULED" | "RUNNING" | "FINISHED" | "FAILED" | "KILLED"

export type KubeRun = RunControl & {
  kube: KubeClient
  namespace: string
  job: string
  container: string
  pendingTimeoutMs: number
  /** Called with the saved log (a file named `<job>.log`) once the run has ended, to store it as an artifact. */
  saveLog(path: string): Promise<void>
}

export const jobPath = (namespace: string, name?: string) => `/apis/batch/v1/namespaces/${namespace}/jobs${name ? `/${name}` : ""}`

/** Deletes the Job and, through `propagationPolicy: Background`, its pods; a Job already gone is fine. */
export const deleteJob = async (kube: KubeClient, namespace: string, name: string, gracePeriodSeconds?: number): Promise<void> => {
  const body = { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background", ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) }
  await kube.call("DELETE", jobPath(namespace, name), { body, allow404: true })
}

const stuckHint = (reason: string): string =>
  reason === "Unschedulable"
    ? "no node can take the pod: check the template's resources.requests, nodeSelector, affinity and tolerations against the cluster"
    : /Image/.test(reason)
      ? "the cluster cannot pull the image: check repository-uri, and that the cluster can reach that registry with its credentials (image-pull-secrets in the backend config)"
      : "check the Job template (secrets, config maps and volumes it names must exist in the namespace)"

/**
 * Follows the created Job to its end. The first interrupt deletes the Job with the grace period as the pods'
 * termination grace; the grace running out (or a second interrupt) deletes it again with none.
 */
export const followJob = async (run: KubeRun): Promise<RunOutcome> => {
  const { kube, namespace, job } = run
  const stop = new AbortController()
  const signal = stop.signal
  const logDir = mkdtempSync(join(tmpdir(), "mlproject-kube-"))
  const logFile = join(logDir, `${job}.log`)
  const logFd = openSync(logFile, "w", 0o600)
  const toOutput = lineWriter(run.output, run.emit)
  const line = (text: string) => {
    toOutput(text)
    writeSync(logFd, `${text}\n`)
  }
  let status: JobStatus = "SCHEDULED"
  const setStatus = (next: JobStatus, reason: string | null = null, message: string | null = null) => {
    if (status === next && reason === null) return
    status = next
    run.emit({ type: "kube.job.status", run_id: run.runId, job, status: next, reason, message })
  }
  const pods = new Map<string, PodView>()
  const followers = new Map<string, Promise<void>>()
  const gone = new Set<string>()
  const stuckSince = new Map<string, number>()
  let verdict: { outcome?: RunOutcome; failure?: unknown } | null = null
  let wake: () => void = () => {}
  const settled = new Promise<void>((resolve) => (wake = resolve))
  const decide = (value: { outcome?: RunOutcome; failure?: unknown }) => {
    if (verdict) return
    verdict = value
    wake()
  }
  let interruptTimer: ReturnType<typeof setTimeout> | undefined
  const escalation = escalateInterrupts(run, {
    forward: () => {
      void deleteJob(kube, namespace, job, Math.ceil(run.graceMs / 1000)).catch(() => {})
      // A polled Job (no watch) never reports its deletion: the interrupt decides once the pods' grace has passed.
      interruptTimer = setTimeout(() => decide({ outcome: { exitCode: null, signal: null, interrupted: escalation.interrupted(), endedAt: Date.now() } }), run.graceMs + 2000)
    },
    kill: () => void deleteJob(kube, namespace, job, 0).catch(() => {}),
  })
  const lastExit = () => [...pods.values()].filter((p) => p.exitCode !== null).at(-1)?.exitCode ?? null

  const onPod = (object: Obj) => {
    const view = podView(object)
    if (!view.name) return
    const before = pods.get(view.name)
    pods.set(view.name, view)
    if (object.deleted) gone.add(view.name)
    if (!before || before.phase !== view.phase || before.reason !== view.reason || before.exitCode !== view.exitCode) {
      run.emit({ type: "kube.pod.status", run_id: run.runId, pod: view.name, phase: view.phase, reason: view.reason, message: view.message, exit_code: view.exitCode })
    }
    if (view.started) {
      stuckSince.delete(view.name)
      setStatus("RUNNING")
      if (!followers.has(view.name)) {
        const ended = () => pods.get(view.name)?.terminated === true || gone.has(view.name)
        followers.set(view.name, followLog({ kube, namespace, pod: view.name, container: run.container, ended, line, signal }))
      }
    } else if (view.reason && stuckReasons.has(view.reason)) {
      if (!stuckSince.has(view.name)) stuckSince.set(view.name, Date.now())
      if (fatalReasons.has(view.reason)) failStuck(view, 0)
    } else stuckSince.delete(view.name)
  }
  const failStuck = (view: PodView, waitedMs: number) => {
    const waited = waitedMs > 0 ? ` for ${Math.round(waitedMs / 1000)} s` : ""
    decide({
      failure: new ToolError("kube.pod.stuck", `pod ${view.name} of Job ${job} could not start${waited}: ${view.reason}${view.message ? `: ${view.message}` : ""}`, {
        hint: stuckHint(view.reason ?? ""),
        exitCode: 1,
        runId: run.runId,
      }),
    })
  }
  const onJob = (object: Obj) => {
    if (object.deleted) {
      if (escalation.interrupted()) decide({ outcome: { exitCode: null, signal: null, interrupted: escalation.interrupted(), endedAt: Date.now() } })
      else decide({ failure: new ToolError("kube.job.deleted", `Job ${job} in namespace ${namespace} was deleted before it ended`, { exitCode: 1, runId: run.runId }) })
      return
    }
    const view = jobView(object)
    if (view.started && status === "SCHEDULED") setStatus("RUNNING")
    if (!view.condition) return
    const endedAt = view.completedAt ?? Date.now()
    if (view.condition === "Complete") {
      setStatus("FINISHED", view.reason, view.message)
      return decide({ outcome: { exitCode: 0, signal: null, interrupted: escalation.interrupted(), endedAt } })
    }
    setStatus("FAILED", view.reason, view.message)
    const exitCode = lastExit()
    if (exitCode !== null && exitCode !== 0) return decide({ outcome: { exitCode, signal: null, interrupted: escalation.interrupted(), endedAt } })
    decide({ failure: new ToolError("kube.job.failed", `Job ${job} failed: ${view.reason ?? "Failed"}${view.message ? `: ${view.message}` : ""}`, { exitCode: 1, runId: run.runId }) })
  }
  const consume = async (path: string, query: Record<string, string>, handle: (object: Obj) => void) => {
    try {
      for await (const object of observe(kube, path, query, signal)) handle(object)
    } catch (error) {
      if (!signal.aborted) decide({ failure: error })
    }
  }
  const watching = [
    consume(jobPath(namespace), { fieldSelector: `metadata.name=${job}` }, onJob),
    consume(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: `job-name=${job}` }, onPod),
  ]
  const timer = setInterval(() => {
    for (const [name, since] of stuckSince) {
      const view = pods.get(name)
      if (view && Date.now() - since >= run.pendingTimeoutMs) failStuck(view, Date.now() - since)
    }
  }, 250)
  try {
    await settled
    const ended = verdict as unknown as { outcome?: RunOutcome; failure?: unknown }
    if (ended.failure && !escalation.interrupted()) {
      await deleteJob(kube, namespace, job).catch(() => {})
      setStatus("FAILED", (ended.failure as ToolError).code ?? null, (ended.failure as Error).message)
    }
    if (escalation.interrupted()) setStatus("KILLED", escalation.interrupted())
    // The last lines arrive just after the pod ends: give the followers a moment, never forever.
    await Promise.race([Promise.all(followers.values()), new Promise((r) => setTimeout(r, 10_000))])
    stop.abort()
    clearInterval(timer)
    await Promise.all(watching)
    closeSync(logFd)
    await run.saveLog(logFile).catch((error) =>
      run.emit({ type: "warning", code: "kube.log_not_saved", message: `the log of Job ${job} could not be saved as an artifact: ${(error as Error).message}` }),
    )
    if (ended.failure && !escalation.interrupted()) throw ended.failure
    return ended.outcome ?? { exitCode: null, signal: null, interrupted: escalation.interrupted(), endedAt: Date.now() }
  } finally {
    stop.abort()
    clearInterval(timer)
    clearTimeout(interruptTimer)
    escalation.detach()
    rmSync(logDir, { recursive: true, force: true })
  }
}
