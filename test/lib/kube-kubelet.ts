// The scheduler and kubelet of the one node: each pod is scheduled, its images pulled, its containers run by Docker, its status kept.
import { errorMessage } from "../../src/util/docker-api.ts"
import { now, recordEvent, type KubeContext } from "./kube-context.ts"
import { expand, mappingFor } from "./kube-expand.ts"
import { imagePresent, pullCredentials, pullImage } from "./kube-images.ts"
import { quantity, type KubeObject } from "./kube-store.ts"

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; fieldRef?: { fieldPath: string } } }
export type ContainerSpec = {
  name: string
  image: string
  imagePullPolicy?: string
  command?: string[]
  args?: string[]
  env?: EnvVar[]
  workingDir?: string
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> }
  securityContext?: { runAsUser?: number; runAsGroup?: number }
}
type PodSpec = { containers: ContainerSpec[]; nodeSelector?: Record<string, string>; terminationGracePeriodSeconds?: number }
type ContainerStatus = Record<string, unknown> & { name: string; containerID?: string }

export type Kubelet = {
  /** Deletes a pod gracefully: marked with deletionTimestamp, containers stopped and removed, then gone from the store. */
  deletePod(namespace: string, name: string, graceSeconds?: number): Promise<void>
  /** The Docker container of a pod's container, once created. */
  containerId(pod: KubeObject, container: string): string | undefined
  stop(): Promise<void>
}

const specOf = (pod: KubeObject) => pod.spec as PodSpec

/** Why the one node cannot take the pod, worded as the scheduler's FailedScheduling message; null when it can. */
const unschedulable = (ctx: KubeContext, pod: KubeObject): string | null => {
  const spec = specOf(pod)
  const suffix = "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
  for (const [key, value] of Object.entries(spec.nodeSelector ?? {})) {
    if (ctx.node.labels[key] !== value) return `0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. ${suffix}`
  }
  const request = (resource: string) =>
    spec.containers.reduce((sum, c) => sum + quantity(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource] ?? "0"), 0)
  const short = [request("cpu") > ctx.node.cpu ? "cpu" : null, request("memory") > ctx.node.memory ? "memory" : null].filter(Boolean)
  if (short.length === 0) return null
  return `0/1 nodes are available: ${short.map((r) => `1 Insufficient ${r}`).join(", ")}. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.`
}

const condition = (type: string, value: boolean, reason?: string, message?: string) => ({
  type,
  status: value ? "True" : "False",
  lastProbeTime: null,
  lastTransitionTime: now(),
  ...(reason ? { reason } : {}),
  ...(message ? { message } : {}),
})

/** The container's environment after the kubelet's expansion, each value seeing the ones defined before it. */
export const containerEnv = (ctx: KubeContext, pod: KubeObject, container: ContainerSpec): Record<string, string> => {
  const service = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(ctx.port()), KUBERNETES_SERVICE_PORT_HTTPS: String(ctx.port()) }
  const env: Record<string, string> = {}
  for (const variable of container.env ?? []) {
    if (variable.valueFrom?.secretKeyRef) {
      const ref = variable.valueFrom.secretKeyRef
      const data = (ctx.store.get("secrets", pod.metadata.namespace, ref.name)?.data ?? {}) as Record<string, string>
      if (data[ref.key] !== undefined) env[variable.name] = Buffer.from(data[ref.key] as string, "base64").toString("utf8")
    } else if (variable.valueFrom?.fieldRef) {
      const fields: Record<string, string | undefined> = {
        "metadata.name": pod.metadata.name,
        "metadata.namespace": pod.metadata.namespace,
        "metadata.uid": pod.metadata.uid,
        "spec.nodeName": ctx.node.name,
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
      }
      env[variable.name] = fields[variable.valueFrom.fieldRef.fieldPath] ?? ""
    } else env[variable.name] = expand(variable.value ?? "", mappingFor(env, service))
  }
  return { ...service, HOSTNAME: pod.metadata.name, ...env }
}

export const startKubelet = (ctx: KubeContext): Kubelet => {
  const pods = new Map<string, { abort: AbortController; containers: Map<string, string>; done: Promise<void> }>()
  const backoff = ctx.options.pullBackoffMs ?? { initial: 300, max: 3000 }

  const setStatus = (pod: KubeObject, change: (status: Record<string, unknown>) => void) =>
    ctx.store.update("pods", pod.metadata.namespace, pod.metadata.name, (object) => {
      object.status ??= {}
      change(object.status as Record<string, unknown>)
    })

  const setContainer = (pod: KubeObject, name: string, change: Partial<ContainerStatus>) =>
    setStatus(pod, (status) => {
      const list = status.containerStatuses as ContainerStatus[]
      const entry = list.find((c) => c.name === name)
      if (entry) Object.assign(entry, change)
    })

  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true })
    })

  /** Pulls until the image is there (or the pod goes away): ErrImagePull, then ImagePullBackOff between attempts. */
  const ensureImage = async (pod: KubeObject, container: ContainerSpec, signal: AbortSignal): Promise<boolean> => {
    const { image } = container
    const fieldPath = `spec.containers{${container.name}}`
    const event = (type: "Normal" | "Warning", reason: string, message: string) => recordEvent(ctx, pod, type, reason, message, "kubelet", fieldPath)
    const policy = container.imagePullPolicy ?? "IfNotPresent"
    if (policy !== "Always" && (await imagePresent(ctx, image))) {
      event("Normal", "Pulled", `Container image "${image}" already present on machine`)
      return true
    }
    if (policy === "Never") {
      const message = `Container image "${image}" is not present with pull policy of Never`
      setContainer(pod, container.name, { state: { waiting: { reason: "ErrImageNeverPull", message } } })
      event("Warning", "ErrImageNeverPull", message)
      return false
    }
    const { missing } = pullCredentials(ctx, pod, image)
    if (missing.length > 0) {
      event("Warning", "FailedToRetrieveImagePullSecret", `Unable to retrieve some image pull secrets (${missing.join(", ")}); attempting to pull the image may not succeed.`)
    }
    for (let delay = backoff.initial; !signal.aborted; delay = Math.min(delay * 2, backoff.max)) {
      event("Normal", "Pulling", `Pulling image "${image}"`)
      const started = Date.now()
      const failure = await pullImage(ctx, pod, image, signal).catch((error: Error) => error.message)
      if (signal.aborted) return false
      if (failure === null) {
        const seconds = ((Date.now() - started) / 1000).toFixed(3)
        event("Normal", "Pulled", `Successfully pulled image "${image}" in ${seconds}s (${seconds}s including waiting)`)
        return true
      }
      const message = `Failed to pull image "${image}": ${failure}`
      setContainer(pod, container.name, { state: { waiting: { reason: "ErrImagePull", message } } })
      event("Warning", "Failed", message)
      event("Warning", "Failed", "Error: ErrImagePull")
      await sleep(Math.min(delay, backoff.max) / 2, signal)
      if (signal.aborted) return false
      setContainer(pod, container.name, { state: { waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}": ErrImagePull: ${failure}` } } })
      event("Normal", "BackOff", `Back-off pulling image "${image}"`)
      event("Warning", "Failed", "Error: ImagePullBackOff")
      await sleep(Math.min(delay, backoff.max) / 2, signal)
    }
    return false
  }

  const createContainer = async (pod: KubeObject, container: ContainerSpec): Promise<string> => {
    const env = containerEnv(ctx, pod, container)
    const mapping = mappingFor(env)
    const memory = quantity(container.resources?.limits?.memory)
    const cpu = quantity(container.resources?.limits?.cpu)
    const user = container.securityContext?.runAsUser
    const body = {
      Image: container.image,
      ...(container.command ? { Entrypoint: container.command.map((part) => expand(part, mapping)) } : {}),
      ...(container.args ? { Cmd: container.args.map((part) => expand(part, mapping)) } : {}),
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...(container.workingDir ? { WorkingDir: container.workingDir } : {}),
      ...(user !== undefined ? { User: `${user}${container.securityContext?.runAsGroup !== undefined ? `:${container.securityContext.runAsGroup}` : ""}` } : {}),
      Labels: {
        [ctx.serverLabel]: ctx.serverId,
        "io.kubernetes.pod.name": pod.metadata.name,
        "io.kubernetes.pod.namespace": pod.metadata.namespace ?? "default",
        "io.kubernetes.pod.uid": pod.metadata.uid,
        "io.kubernetes.container.name": container.name,
      },
      HostConfig: {
        // Host networking: a container reaches the test's loopback servers (registries, tracking servers) on 127.0.0.1.
        NetworkMode: "host",
        ...(memory > 0 ? { Memory: Math.floor(memory), MemorySwap: Math.floor(memory) } : {}),
        ...(cpu > 0 ? { NanoCpus: Math.floor(cpu * 1e9) } : {}),
      },
    }
    const name = `k8s_${container.name}_${pod.metadata.name}_${pod.metadata.namespace}_${pod.metadata.uid}_0`
    const response = await ctx.docker.request("POST", "/containers/create", { query: { name }, json: body })
    if (!response.ok) throw new Error(await errorMessage(response))
    return ((await response.json()) as { Id: string }).Id
  }

  const inspect = async (id: string) => {
    const response = await ctx.docker.request("GET", `/containers/${id}/json`)
    return (await response.json()) as { Image: string; State: { ExitCode: number; OOMKilled: boolean; StartedAt: string; FinishedAt: string; Error?: string } }
  }

  const seconds = (time: string) => time.replace(/\.\d+Z$/, "Z")

  const runPod = async (pod: KubeObject, entry: { abort: AbortController; containers: Map<string, string> }) => {
    const { signal } = entry.abort
    const spec = specOf(pod)
    const blocked = unschedulable(ctx, pod)
    if (blocked) {
      setStatus(pod, (status) => (status.conditions = [condition("PodScheduled", false, "Unschedulable", blocked)]))
      recordEvent(ctx, pod, "Warning", "FailedScheduling", blocked, "default-scheduler")
      return
    }
    ctx.store.update("pods", pod.metadata.namespace, pod.metadata.name, (object) => ((object.spec as Record<string, unknown>).nodeName = ctx.node.name))
    recordEvent(ctx, pod, "Normal", "Scheduled", `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${ctx.node.name}`, "default-scheduler")
    setStatus(pod, (status) => {
      Object.assign(status, { hostIP: "127.0.0.1", hostIPs: [{ ip: "127.0.0.1" }], podIP: "127.0.0.1", podIPs: [{ ip: "127.0.0.1" }], startTime: now() })
      status.conditions = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"]
        .map((type) => condition(type, type === "Initialized" || type === "PodReadyToStartContainers", type.endsWith("Ready") && type !== "PodReadyToStartContainers" ? "ContainersNotReady" : undefined))
        .concat([condition("PodScheduled", true)])
      status.containerStatuses = spec.containers.map((c) => ({ name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, started: false, lastState: {}, state: { waiting: { reason: "ContainerCreating" } } }))
    })
    for (const container of spec.containers) if (!(await ensureImage(pod, container, signal))) return
    for (const container of spec.containers) {
      if (signal.aborted) return
      try {
        entry.containers.set(container.name, await createContainer(pod, container))
        recordEvent(ctx, pod, "Normal", "Created", `Created container ${container.name}`, "kubelet", `spec.containers{${container.name}}`)
      } catch (error) {
        const message = (error as Error).message
        setContainer(pod, container.name, { state: { waiting: { reason: "CreateContainerError", message } } })
        recordEvent(ctx, pod, "Warning", "Failed", `Error: ${message}`, "kubelet", `spec.containers{${container.name}}`)
        return
      }
    }
    const exits = await Promise.all(
      spec.containers.map(async (container) => {
        const id = entry.containers.get(container.name) as string
        // The daemon answers a wait's headers once it is registered: waiting for them first means no exit is missed.
        const waiting = await ctx.docker.request("POST", `/containers/${id}/wait`, { query: { condition: "next-exit" }, timeoutMs: null, signal })
        const started = await ctx.docker.request("POST", `/containers/${id}/start`)
        if (!started.ok) {
          const message = await errorMessage(started)
          void waiting.body?.cancel().catch(() => {})
          const state = { terminated: { exitCode: 128, reason: "StartError", message, startedAt: "1970-01-01T00:00:00Z", finishedAt: now(), containerID: `docker://${id}` } }
          setContainer(pod, container.name, { containerID: `docker://${id}`, state })
          recordEvent(ctx, pod, "Warning", "Failed", `Error: ${message}`, "kubelet", `spec.containers{${container.name}}`)
          return 128
        }
        await started.body?.cancel()
        const running = await inspect(id)
        recordEvent(ctx, pod, "Normal", "Started", `Started container ${container.name}`, "kubelet", `spec.containers{${container.name}}`)
        setStatus(pod, (status) => {
          status.phase = "Running"
          const entries = status.containerStatuses as ContainerStatus[]
          Object.assign(entries.find((c) => c.name === container.name) ?? {}, {
            containerID: `docker://${id}`,
            imageID: `docker://${running.Image}`,
            ready: true,
            started: true,
            state: { running: { startedAt: seconds(running.State.StartedAt) } },
          })
          const ready = entries.every((c) => c.ready)
          for (const c of status.conditions as Array<Record<string, unknown>>) {
            if (c.type === "Ready" || c.type === "ContainersReady") Object.assign(c, ready ? { status: "True", reason: undefined } : {})
          }
        })
        try {
          await waiting.text()
        } catch {
          if (signal.aborted) return null
        }
        const done = await inspect(id)
        const code = done.State.ExitCode
        const reason = done.State.OOMKilled ? "OOMKilled" : code === 0 ? "Completed" : "Error"
        const terminated = { exitCode: code, reason, startedAt: seconds(done.State.StartedAt), finishedAt: seconds(done.State.FinishedAt), containerID: `docker://${id}` }
        if (!signal.aborted) setContainer(pod, container.name, { ready: false, started: false, state: { terminated } })
        return code
      }),
    )
    if (signal.aborted) return
    const failed = exits.some((code) => code !== 0)
    setStatus(pod, (status) => {
      status.phase = failed ? "Failed" : "Succeeded"
      for (const c of status.conditions as Array<Record<string, unknown>>) {
        if (c.type === "Ready" || c.type === "ContainersReady" || c.type === "PodReadyToStartContainers") Object.assign(c, { status: "False", reason: c.type === "PodReadyToStartContainers" ? undefined : "PodCompleted" })
      }
    })
  }

  const removeContainers = async (containers: Iterable<string>, graceSeconds: number) => {
    for (const id of containers) {
      await (await ctx.docker.request("POST", `/containers/${id}/stop`, { query: { t: graceSeconds }, timeoutMs: null })).body?.cancel()
      await (await ctx.docker.request("DELETE", `/containers/${id}`, { query: { force: 1, v: 1 } })).body?.cancel()
    }
  }

  ctx.store.listeners.add((resource, type, object) => {
    if (resource !== "pods" || type !== "ADDED") return
    const entry = { abort: new AbortController(), containers: new Map<string, string>(), done: Promise.resolve() }
    pods.set(object.metadata.uid, entry)
    entry.done = runPod(object, entry).catch((error) => {
      if (!entry.abort.signal.aborted) console.warn(`kube-server: pod ${object.metadata.name}: ${(error as Error).message}`)
    })
  })

  return {
    containerId: (pod, container) => pods.get(pod.metadata.uid)?.containers.get(container),
    async deletePod(namespace, name, graceSeconds) {
      const pod = ctx.store.get("pods", namespace, name)
      if (!pod || pod.metadata.deletionTimestamp) return
      const grace = graceSeconds ?? specOf(pod).terminationGracePeriodSeconds ?? ctx.options.gracePeriodSeconds ?? 1
      ctx.store.update("pods", namespace, name, (object) => {
        object.metadata.deletionTimestamp = now()
        object.metadata.deletionGracePeriodSeconds = grace
      })
      const entry = pods.get(pod.metadata.uid)
      if (entry) {
        entry.abort.abort()
        await entry.done
        pods.delete(pod.metadata.uid)
        await removeContainers(entry.containers.values(), grace)
      }
      ctx.store.remove("pods", namespace, name)
    },
    async stop() {
      for (const entry of pods.values()) entry.abort.abort()
      await Promise.all([...pods.values()].map((entry) => entry.done))
      const filters = JSON.stringify({ label: [`${ctx.serverLabel}=${ctx.serverId}`] })
      const response = await ctx.docker.request("GET", "/containers/json", { query: { all: 1, filters } })
      const ids = ((await response.json()) as Array<{ Id: string }>).map((c) => c.Id)
      await Promise.all(ids.map(async (id) => (await ctx.docker.request("DELETE", `/containers/${id}`, { query: { force: 1, v: 1 } })).body?.cancel()))
    },
  }
}
