// `GET pods/NAME/log`: a container's output from Docker's logs endpoint, stdout and stderr merged, with the kubelet's options and timestamps.
import { demultiplex, type StreamName } from "../../src/util/docker-stream.ts"
import type { KubeContext } from "./kube-context.ts"
import type { Kubelet } from "./kube-kubelet.ts"
import { KubeError, type KubeObject } from "./kube-store.ts"

/** Go's time.RFC3339Nano, which the kubelet writes: trailing zeros of the fraction dropped (Docker writes all nine digits). */
export const rfc3339Nano = (stamp: string): string => stamp.replace(/\.(\d*?)0*Z$/, (_, digits: string) => (digits ? `.${digits}Z` : "Z"))

/** Docker's `since`: seconds and nanoseconds since the epoch, from an RFC 3339 time. */
const dockerSince = (time: string): string => {
  const match = /\.(\d+)/.exec(time)
  const whole = Math.floor(Date.parse(time.replace(/\.\d+/, "")) / 1000)
  return `${whole}.${(match?.[1] ?? "0").padEnd(9, "0").slice(0, 9)}`
}

type Status = { state?: { waiting?: { reason?: string; message?: string } }; name: string }

/** Answers like the real kubelet: which container (400 when a pod has several and none is named), 400 while it waits. */
export const podLogs = async (ctx: KubeContext, kubelet: Kubelet, pod: KubeObject, query: URLSearchParams, signal: AbortSignal): Promise<Response> => {
  const containers = (pod.spec as { containers: Array<{ name: string }> }).containers.map((c) => c.name)
  const name = query.get("container") ?? (containers.length === 1 ? containers[0] : undefined)
  if (!name) {
    throw new KubeError(400, "BadRequest", `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${containers.join(" ")}]`)
  }
  if (!containers.includes(name)) throw new KubeError(400, "BadRequest", `container ${name} is not valid for pod ${pod.metadata.name}`)
  const id = kubelet.containerId(pod, name)
  const state = ((pod.status as { containerStatuses?: Status[] }).containerStatuses ?? []).find((c) => c.name === name)?.state
  if (!id || state?.waiting) {
    const reason = state?.waiting?.reason ?? "ContainerCreating"
    const why = reason === "ErrImagePull" || reason === "ImagePullBackOff" ? "trying and failing to pull image" : reason
    throw new KubeError(400, "BadRequest", `container "${name}" in pod "${pod.metadata.name}" is waiting to start: ${why}`)
  }
  const follow = query.get("follow") === "true" || query.get("follow") === "1"
  const timestamps = query.get("timestamps") === "true" || query.get("timestamps") === "1"
  const sinceTime = query.get("sinceTime")
  const sinceSeconds = query.get("sinceSeconds")
  const tail = query.get("tailLines")
  const limit = query.get("limitBytes") ? Number(query.get("limitBytes")) : Infinity
  const abort = new AbortController()
  signal.addEventListener("abort", () => abort.abort(), { once: true })
  const response = await ctx.docker.request("GET", `/containers/${id}/logs`, {
    query: {
      stdout: 1,
      stderr: 1,
      timestamps: 1,
      follow: follow ? 1 : 0,
      ...(sinceTime ? { since: dockerSince(sinceTime) } : sinceSeconds ? { since: Math.floor(Date.now() / 1000) - Number(sinceSeconds) } : {}),
      ...(tail ? { tail } : {}),
    },
    timeoutMs: null,
    signal: abort.signal,
  })
  if (!response.ok || !response.body) throw new KubeError(500, "InternalError", `docker logs: HTTP ${response.status}`)
  const dockerBody = response.body
  const encoder = new TextEncoder()
  let sent = 0
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const pending: Record<StreamName, string> = { stdout: "", stderr: "" }
      const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() }
      const emit = (line: string) => {
        if (sent >= limit) return
        // Each Docker log line starts with its time and a space; the kubelet prints its own form of it, or nothing.
        const space = line.indexOf(" ")
        const text = timestamps ? `${rfc3339Nano(line.slice(0, space))}${line.slice(space)}` : line.slice(space + 1)
        let bytes = encoder.encode(text)
        if (sent + bytes.length > limit) bytes = bytes.subarray(0, limit - sent)
        sent += bytes.length
        controller.enqueue(bytes)
      }
      try {
        await demultiplex(dockerBody, (stream, chunk) => {
          pending[stream] += decoders[stream].decode(chunk, { stream: true })
          let newline = pending[stream].indexOf("\n")
          while (newline !== -1) {
            emit(pending[stream].slice(0, newline + 1))
            pending[stream] = pending[stream].slice(newline + 1)
            newline = pending[stream].indexOf("\n")
          }
        })
        for (const stream of ["stdout", "stderr"] as const) if (pending[stream] !== "") emit(pending[stream])
        controller.close()
      } catch (error) {
        if (abort.signal.aborted) controller.close()
        else controller.error(error)
      }
    },
    cancel() {
      abort.abort()
    },
  })
  return new Response(body, { headers: { "content-type": "text/plain" } })
}
