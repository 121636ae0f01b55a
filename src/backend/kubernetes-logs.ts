// A pod's log followed to its end: resumed after a dropped stream from the last timestamp, each line delivered once.
import { isAbort } from "../util/http.ts"
import type { KubeClient } from "../kube/api.ts"

/** RFC3339Nano with the fraction padded to 9 digits: such strings sort as the times they name (the kubelet trims zeros). */
export const timeKey = (stamp: string): string => {
  const match = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(stamp)
  if (!match) return stamp
  return `${match[1]}.${(match[2] ?? "").padEnd(9, "0")}${match[3]}`
}

export type LogFollow = {
  kube: KubeClient
  namespace: string
  pod: string
  container: string
  /** True once the pod's container has ended: the next stream that ends is the last. */
  ended(): boolean
  line(text: string): void
  signal: AbortSignal
}

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true })
  })

/**
 * Streams `pods/NAME/log?follow=true&timestamps=true`. After a stream ends while the container still runs (a
 * dropped connection, an API server restart) it asks again from the last line's second (`sinceTime` has seconds
 * only) and skips what it already delivered by the full timestamp.
 */
export const followLog = async (follow: LogFollow): Promise<void> => {
  // Held in an object: the line callback below moves it on, which narrowing of a plain `let` would not see.
  const seen: { last: string | null } = { last: null }
  let delay = 200
  const path = `/api/v1/namespaces/${follow.namespace}/pods/${follow.pod}/log`
  while (!follow.signal.aborted) {
    const endedBefore = follow.ended()
    try {
      const query: Record<string, string> = { follow: "true", timestamps: "true", container: follow.container }
      if (seen.last) query.sinceTime = `${seen.last.slice(0, 19)}Z`
      const stream = await follow.kube.stream(path, { query, signal: follow.signal })
      const decoder = new TextDecoder()
      let pending = ""
      const deliver = (raw: string) => {
        const space = raw.indexOf(" ")
        const stamp = space > 0 ? raw.slice(0, space) : ""
        const key = /^\d{4}-\d\d-\d\dT/.test(stamp) ? timeKey(stamp) : null
        if (key === null) return follow.line(raw)
        if (seen.last !== null && key <= seen.last) return
        seen.last = key
        follow.line(raw.slice(space + 1))
      }
      for await (const chunk of stream) {
        pending += decoder.decode(chunk, { stream: true })
        const lines = pending.split("\n")
        pending = lines.pop() ?? ""
        for (const line of lines) deliver(line)
        delay = 200
      }
      if (pending !== "") deliver(pending)
    } catch (error) {
      if (follow.signal.aborted || isAbort(error)) return
      // The pod may be gone (the Job deleted) or not yet readable: ask again after a pause, unless it has ended.
      if (endedBefore) return
      await pause(delay, follow.signal)
      delay = Math.min(delay * 2, 5000)
      continue
    }
    if (endedBefore) return
    await pause(300, follow.signal)
  }
}

type KubeRecord = { context: string | null; namespace: string; job: string }
type Obj = Record<string, any>

/**
 * `mlproject logs` of a Kubernetes run started in the foreground elsewhere: its pods' logs read from the cluster
 * (oldest pod first); with `follow`, each is followed until its container ends.
 */
export const jobLogs = async (record: KubeRecord, env: Record<string, string | undefined>, follow: boolean, line: (text: string) => void, signal: AbortSignal): Promise<void> => {
  const { connectKube } = await import("../kube/api.ts")
  const { podView } = await import("./kubernetes-watch.ts")
  const kube = await connectKube(env, { context: record.context ?? undefined, signal })
  const podsPath = `/api/v1/namespaces/${record.namespace}/pods`
  const list = await kube.call<{ items?: Obj[] }>("GET", podsPath, { query: { labelSelector: `job-name=${record.job}` }, signal })
  const pods = (list?.items ?? []).sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)))
  for (const pod of pods) {
    const name = String(pod.metadata.name)
    const container = String(pod.spec?.containers?.[0]?.name ?? "")
    if (!follow) {
      const stream = await kube.stream(`${podsPath}/${name}/log`, { query: { container }, signal })
      const text = await new Response(stream).text()
      for (const entry of text.split("\n").slice(0, text.endsWith("\n") ? -1 : undefined)) line(entry)
      continue
    }
    let ended = podView(pod).terminated
    const refresh = setInterval(async () => {
      const current = await kube.call<Obj>("GET", `${podsPath}/${name}`, { allow404: true, signal }).catch(() => null)
      ended = current === null || podView(current).terminated
    }, 1000)
    try {
      await followLog({ kube, namespace: record.namespace, pod: name, container, ended: () => ended, line, signal })
    } finally {
      clearInterval(refresh)
    }
  }
}
