// What a Kubernetes run's Job and pods are doing, read from watches (polling with backoff only when a watch is refused).
import { ToolError } from "../errors.ts"
import type { KubeClient } from "../kube/api.ts"

type Obj = Record<string, any>

export type PodView = {
  name: string
  phase: string
  /** Why it waits or ended (`Unschedulable`, `ErrImagePull`, `ImagePullBackOff`, `OOMKilled`, `Error`, `Completed`…). */
  reason: string | null
  message: string | null
  exitCode: number | null
  /** The first container runs or has run: its log can be read. */
  started: boolean
  terminated: boolean
}

/** The one line that says what a pod does, from its status as the kubelet and scheduler write it. */
export const podView = (pod: Obj): PodView => {
  const status = (pod.status ?? {}) as Obj
  const container = ((status.containerStatuses as Obj[] | undefined) ?? [])[0] ?? {}
  const state = (container.state ?? {}) as Obj
  const unscheduled = ((status.conditions as Obj[] | undefined) ?? []).find((c) => c.type === "PodScheduled" && c.status === "False")
  const base = { name: String(pod.metadata?.name ?? ""), phase: String(status.phase ?? "Pending") }
  if (state.terminated) {
    const t = state.terminated as Obj
    return { ...base, reason: t.reason ?? null, message: t.message ?? null, exitCode: typeof t.exitCode === "number" ? t.exitCode : null, started: true, terminated: true }
  }
  if (state.running) return { ...base, reason: null, message: null, exitCode: null, started: true, terminated: false }
  if (state.waiting) return { ...base, reason: state.waiting.reason ?? null, message: state.waiting.message ?? null, exitCode: null, started: false, terminated: false }
  if (unscheduled) return { ...base, reason: unscheduled.reason ?? "Unschedulable", message: unscheduled.message ?? null, exitCode: null, started: false, terminated: false }
  const failedPhase = base.phase === "Failed" || base.phase === "Succeeded"
  return { ...base, reason: status.reason ?? null, message: status.message ?? null, exitCode: null, started: false, terminated: failedPhase }
}

/** Waiting reasons that never clear by themselves on a real cluster (a pod in one of them waits until the timeout). */
export const stuckReasons = new Set(["Unschedulable", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "ErrImageNeverPull"])
/** Reasons no waiting can mend: the run fails at once. */
export const fatalReasons = new Set(["InvalidImageName", "ErrImageNeverPull"])

export type JobView = { started: boolean; condition: "Complete" | "Failed" | null; reason: string | null; message: string | null; completedAt: number | null }

export const jobView = (job: Obj): JobView => {
  const status = (job.status ?? {}) as Obj
  const done = ((status.conditions as Obj[] | undefined) ?? []).find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True")
  const at = status.completionTime ?? done?.lastTransitionTime
  return {
    started: Boolean(status.startTime),
    condition: done ? (done.type as "Complete" | "Failed") : null,
    reason: done?.reason ?? null,
    message: done?.message ?? null,
    completedAt: typeof at === "string" ? Date.parse(at) : null,
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true })
  })

/** The server answered, but not with a watch (405, a proxy that cannot stream): listing is what is left. */
const watchRefused = (error: unknown): boolean => error instanceof ToolError && ["kube.api", "kube.invalid", "kube.not_found"].includes(error.code)

/**
 * Every change of the objects a list query selects, as it happens. The watch resumes by itself after a drop; when
 * the API server cannot be reached for longer, it is started again with backoff (0.5 s doubling to 5 s), since the
 * Job goes on without us. A watch the server refuses is replaced by listing with the same backoff. Only refused
 * credentials end it.
 */
export async function* observe(kube: KubeClient, path: string, query: Record<string, string>, signal: AbortSignal): AsyncGenerator<Obj> {
  let polling = false
  for (let delay = 500; !signal.aborted; delay = Math.min(delay * 2, 5000)) {
    try {
      if (polling) {
        const list = await kube.call<{ items?: Obj[] }>("GET", path, { query, signal })
        for (const item of list?.items ?? []) yield item
      } else {
        for await (const event of kube.watch(path, { query, signal })) {
          delay = 500
          if (event.type === "ADDED" || event.type === "MODIFIED") yield event.object as Obj
          if (event.type === "DELETED") yield { ...(event.object as Obj), deleted: true }
        }
      }
    } catch (error) {
      if (signal.aborted) return
      if (error instanceof ToolError && error.code === "kube.auth") throw error
      if (!polling && watchRefused(error)) polling = true
    }
    await sleep(delay, signal)
  }
}
