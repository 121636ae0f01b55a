// The Job controller: a Job's defaults and validation, its pods (one at a time, a new one per failure), its status and conditions, its deletion.
import { now, recordEvent, type KubeContext } from "./kube-context.ts"
import { defaultPullPolicy } from "./kube-images.ts"
import type { ContainerSpec, Kubelet } from "./kube-kubelet.ts"
import { KubeError, randomSuffix, validateName, type KubeObject } from "./kube-store.ts"

type JobSpec = {
  parallelism?: number
  completions?: number
  backoffLimit?: number
  activeDeadlineSeconds?: number
  selector?: { matchLabels?: Record<string, string> }
  template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> & { containers?: ContainerSpec[]; restartPolicy?: string } }
}
type JobStatus = Record<string, unknown> & { conditions?: Array<Record<string, unknown>>; succeeded?: number; failed?: number; startTime?: string; completionTime?: string }

const invalid = (name: string, message: string, field: string) =>
  new KubeError(422, "Invalid", `Job.batch "${name}" is invalid: ${message}`, { name, group: "batch", kind: "Job", causes: [{ reason: "FieldValueInvalid", message, field }] })

/** Pod defaults the API server fills in (pull policy, grace period, restart policy…), for pods of Jobs and bare pods alike. */
export const defaultPodSpec = (spec: Record<string, unknown> & { containers?: ContainerSpec[] }) => {
  spec.restartPolicy ??= "Always"
  spec.terminationGracePeriodSeconds ??= 30
  spec.dnsPolicy ??= "ClusterFirst"
  spec.schedulerName ??= "default-scheduler"
  spec.securityContext ??= {}
  for (const container of spec.containers ?? []) {
    container.imagePullPolicy ??= defaultPullPolicy(container.image)
    Object.assign(container, { terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File", resources: container.resources ?? {} })
  }
}

/** Validates a new Job and fills in what the API server does, once its uid is known: selector, template labels, defaults. */
export const prepareJob = (job: KubeObject) => {
  const name = job.metadata.name
  // A Job's name becomes a label value on its pods: 63 characters at most.
  validateName("Job", "batch", name, 63)
  const spec = job.spec as JobSpec | undefined
  if (!spec?.template?.spec) throw invalid(name, "spec.template.spec.containers: Required value", "spec.template.spec.containers")
  const containers = spec.template.spec.containers ?? []
  if (containers.length === 0) throw invalid(name, "spec.template.spec.containers: Required value", "spec.template.spec.containers")
  containers.forEach((c, i) => {
    if (!c.image) throw invalid(name, `spec.template.spec.containers[${i}].image: Required value`, `spec.template.spec.containers[${i}].image`)
  })
  const restart = spec.template.spec.restartPolicy
  if (restart !== "Never" && restart !== "OnFailure") {
    const message = restart
      ? `spec.template.spec.restartPolicy: Unsupported value: "${restart}": supported values: "OnFailure", "Never"`
      : `spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`
    throw invalid(name, message, "spec.template.spec.restartPolicy")
  }
  const uid = job.metadata.uid
  const selectorLabels = { "batch.kubernetes.io/controller-uid": uid }
  spec.selector ??= { matchLabels: selectorLabels }
  spec.template.metadata = {
    ...spec.template.metadata,
    labels: { ...spec.template.metadata?.labels, ...selectorLabels, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name },
  }
  job.metadata.labels = { ...selectorLabels, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name, ...job.metadata.labels }
  Object.assign(spec, {
    parallelism: spec.parallelism ?? 1,
    completions: spec.completions ?? 1,
    backoffLimit: spec.backoffLimit ?? 6,
    completionMode: (spec as Record<string, unknown>).completionMode ?? "NonIndexed",
    suspend: (spec as Record<string, unknown>).suspend ?? false,
    manualSelector: (spec as Record<string, unknown>).manualSelector ?? false,
    podReplacementPolicy: (spec as Record<string, unknown>).podReplacementPolicy ?? "TerminatingOrFailed",
  })
  defaultPodSpec(spec.template.spec)
  job.status = {}
}

export type JobController = {
  /** Deletes a Job with a propagation policy: Background and Foreground delete its pods (containers killed), Orphan keeps them. */
  deleteJob(namespace: string, name: string, policy: string): Promise<unknown>
  stop(): void
}

const ownedBy = (uid: string) => (pod: KubeObject) => pod.metadata.ownerReferences?.some((ref) => ref.uid === uid && ref.controller) ?? false

export const startJobController = (ctx: KubeContext, kubelet: Kubelet): JobController => {
  /** The pods whose end a Job has already counted (the real controller's tracking finalizer does the same). */
  const counted = new Map<string, Set<string>>()
  const nextPodAt = new Map<string, number>()
  const queued = new Set<string>()
  const timers = new Set<ReturnType<typeof setTimeout>>()

  // Syncs run on their own turn, never inside a store callback: a sync's own writes then cannot re-enter it.
  const enqueue = (namespace: string, name: string, afterMs = 0) => {
    const key = `${namespace}/${name}`
    if (afterMs > 0) {
      const timer = setTimeout(() => (timers.delete(timer), enqueue(namespace, name)), afterMs)
      timers.add(timer)
      return
    }
    if (queued.has(key)) return
    queued.add(key)
    queueMicrotask(() => {
      queued.delete(key)
      sync(namespace, name)
    })
  }

  const createPod = (job: KubeObject) => {
    const spec = job.spec as JobSpec
    const pod = ctx.store.create("pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `${job.metadata.name}-${randomSuffix()}`,
        generateName: `${job.metadata.name}-`,
        namespace: job.metadata.namespace,
        labels: { ...spec.template.metadata?.labels },
        ...(spec.template.metadata?.annotations ? { annotations: spec.template.metadata.annotations } : {}),
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }],
      } as KubeObject["metadata"],
      spec: structuredClone(spec.template.spec),
      status: { phase: "Pending", qosClass: "BestEffort" },
    }, "")
    recordEvent(ctx, job, "Normal", "SuccessfulCreate", `Created pod: ${pod.metadata.name}`, "job-controller")
  }

  const finish = (job: KubeObject, pods: KubeObject[], type: "Complete" | "Failed", reason?: string, message?: string) => {
    const time = now()
    for (const pod of pods) void kubelet.deletePod(pod.metadata.namespace as string, pod.metadata.name)
    ctx.store.update("jobs", job.metadata.namespace, job.metadata.name, (object) => {
      const s = object.status as JobStatus
      const first = type === "Complete" ? "SuccessCriteriaMet" : "FailureTarget"
      const make = (t: string) => ({ type: t, status: "True", lastProbeTime: time, lastTransitionTime: time, ...(reason ? { reason, message } : { reason: type === "Complete" ? "CompletionsReached" : undefined, message: type === "Complete" ? "Reached expected number of succeeded pods" : undefined }) })
      s.conditions = [...(s.conditions ?? []), make(first), make(type)]
      s.active = 0
      s.ready = 0
      if (type === "Complete") s.completionTime = time
    })
    if (type === "Complete") recordEvent(ctx, job, "Normal", "Completed", "Job completed", "job-controller")
    else recordEvent(ctx, job, "Warning", reason as string, message as string, "job-controller")
  }

  const sync = (namespace: string, name: string) => {
    const job = ctx.store.get("jobs", namespace, name)
    if (!job || job.metadata.deletionTimestamp) return
    const spec = job.spec as JobSpec
    const jobStatus = job.status as JobStatus
    if (jobStatus.conditions?.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True")) return
    const seen = counted.get(job.metadata.uid) ?? new Set<string>()
    counted.set(job.metadata.uid, seen)
    const pods = ctx.store.list("pods", namespace, ownedBy(job.metadata.uid))
    let succeeded = jobStatus.succeeded ?? 0
    let failed = jobStatus.failed ?? 0
    let newFailure = false
    for (const pod of pods) {
      const phase = (pod.status as { phase?: string }).phase
      if ((phase === "Succeeded" || phase === "Failed") && !seen.has(pod.metadata.uid)) {
        seen.add(pod.metadata.uid)
        if (phase === "Succeeded") succeeded++
        else (failed++, (newFailure = true))
      }
    }
    const active = pods.filter((pod) => !seen.has(pod.metadata.uid) && !pod.metadata.deletionTimestamp)
    const ready = active.filter((pod) => ((pod.status as { conditions?: Array<{ type: string; status: string }> }).conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"))
    const startTime = jobStatus.startTime ?? now()
    ctx.store.update("jobs", namespace, name, (object) => {
      Object.assign(object.status as JobStatus, { startTime, active: active.length, ready: ready.length, terminating: 0, uncountedTerminatedPods: {} })
      if (succeeded > 0) (object.status as JobStatus).succeeded = succeeded
      if (failed > 0) (object.status as JobStatus).failed = failed
    })
    const completions = spec.completions ?? 1
    if (succeeded >= completions) return finish(job, active, "Complete")
    if (failed > (spec.backoffLimit ?? 6)) return finish(job, active, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    if (spec.activeDeadlineSeconds !== undefined) {
      const left = Date.parse(startTime) + spec.activeDeadlineSeconds * 1000 - Date.now()
      if (left <= 0) return finish(job, active, "Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
      if (!jobStatus.startTime) enqueue(namespace, name, left + 10)
    }
    if (newFailure) nextPodAt.set(job.metadata.uid, Date.now() + (ctx.options.jobBackoffMs ?? 0))
    const wait = (nextPodAt.get(job.metadata.uid) ?? 0) - Date.now()
    const wanted = Math.min(spec.parallelism ?? 1, completions - succeeded) - active.length
    if (wanted > 0 && wait > 0) return enqueue(namespace, name, wait)
    for (let i = 0; i < wanted; i++) createPod(job)
  }

  ctx.store.listeners.add((resource, type, object) => {
    if (resource === "jobs" && type === "ADDED") enqueue(object.metadata.namespace as string, object.metadata.name)
    if (resource !== "pods") return
    const owner = object.metadata.ownerReferences?.find((ref) => ref.kind === "Job" && ref.controller)
    if (owner) enqueue(object.metadata.namespace as string, owner.name)
  })

  return {
    async deleteJob(namespace, name, policy) {
      const job = ctx.store.get("jobs", namespace, name)
      if (!job) throw new KubeError(404, "NotFound", `jobs.batch "${name}" not found`, { name, group: "batch", kind: "jobs" })
      const pods = () => ctx.store.list("pods", namespace, ownedBy(job.metadata.uid))
      const details = { name, group: "batch", kind: "jobs", uid: job.metadata.uid }
      if (policy === "Foreground") {
        const marked = ctx.store.update("jobs", namespace, name, (object) => {
          object.metadata.deletionTimestamp = now()
          object.metadata.finalizers = ["foregroundDeletion"]
        })
        void Promise.all(pods().map((pod) => kubelet.deletePod(namespace, pod.metadata.name))).then(() => ctx.store.remove("jobs", namespace, name))
        return marked
      }
      if (policy === "Orphan") {
        for (const pod of pods()) {
          ctx.store.update("pods", namespace, pod.metadata.name, (object) => {
            object.metadata.ownerReferences = object.metadata.ownerReferences?.filter((ref) => ref.uid !== job.metadata.uid)
          })
        }
        ctx.store.remove("jobs", namespace, name)
      } else {
        const owned = pods()
        ctx.store.remove("jobs", namespace, name)
        // Background: the Job is gone at once, the garbage collector deletes its pods afterwards.
        for (const pod of owned) void kubelet.deletePod(namespace, pod.metadata.name)
      }
      return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details }
    },
    stop: () => timers.forEach(clearTimeout),
  }
}
