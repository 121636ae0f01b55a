// What the loopback API server serves about itself: the resources it knows, legacy discovery documents, /version and kubectl's Tables.
import { arch } from "./kube-context.ts"
import type { KubeObject } from "./kube-store.ts"

export type Resource = { name: string; kind: string; group: string; version: string; namespaced: boolean; verbs: string[]; shortNames?: string[]; singular: string }

const crud = ["create", "delete", "get", "list", "watch"]
export const resources: Resource[] = [
  { name: "pods", singular: "pod", kind: "Pod", group: "", version: "v1", namespaced: true, verbs: crud, shortNames: ["po"] },
  { name: "events", singular: "event", kind: "Event", group: "", version: "v1", namespaced: true, verbs: crud, shortNames: ["ev"] },
  { name: "secrets", singular: "secret", kind: "Secret", group: "", version: "v1", namespaced: true, verbs: crud },
  { name: "namespaces", singular: "namespace", kind: "Namespace", group: "", version: "v1", namespaced: false, verbs: ["create", "get", "list", "watch"], shortNames: ["ns"] },
  { name: "nodes", singular: "node", kind: "Node", group: "", version: "v1", namespaced: false, verbs: ["get", "list"], shortNames: ["no"] },
  { name: "jobs", singular: "job", kind: "Job", group: "batch", version: "v1", namespaced: true, verbs: crud },
]

export const resourceFor = (group: string, name: string): Resource | undefined => resources.find((r) => r.group === group && r.name === name)

export const version = () => ({
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-loopback",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2024-12-11T00:00:00Z",
  goVersion: "go1.23.3",
  compiler: "gc",
  platform: `linux/${arch()}`,
})

const resourceList = (group: string) => ({
  kind: "APIResourceList",
  apiVersion: "v1",
  groupVersion: group ? `${group}/v1` : "v1",
  resources: resources
    .filter((r) => r.group === group)
    .flatMap((r) => [
      { name: r.name, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, ...(r.shortNames ? { shortNames: r.shortNames } : {}), ...(r.name === "pods" || r.name === "jobs" ? { categories: ["all"] } : {}) },
      ...(r.name === "jobs" ? [{ name: "jobs/status", singularName: "", namespaced: true, kind: "Job", verbs: ["get"] }] : []),
      ...(r.name === "pods" ? [{ name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] }] : []),
    ]),
})

/**
 * The legacy (unaggregated) discovery documents. kubectl asks for the aggregated form first; an answer of plain
 * `application/json` makes it fall back to these, one request per group version.
 */
export const discovery = (path: string, address: string): unknown => {
  const batch = { name: "batch", versions: [{ groupVersion: "batch/v1", version: "v1" }], preferredVersion: { groupVersion: "batch/v1", version: "v1" } }
  switch (path) {
    case "/api":
      return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: address }] }
    case "/api/v1":
      return resourceList("")
    case "/apis":
      return { kind: "APIGroupList", apiVersion: "v1", groups: [batch] }
    case "/apis/batch":
      return { kind: "APIGroup", apiVersion: "v1", ...batch }
    case "/apis/batch/v1":
      return resourceList("batch")
    case "/version":
      return version()
  }
  return undefined
}

/** Go's duration the way kubectl prints ages (`5s`, `3m2s`, `4h`, `2d`). */
const human = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 120) return `${s}s`
  if (s < 600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}`
  if (s < 3 * 3600) return `${Math.floor(s / 60)}m`
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}
const age = (object: KubeObject) => human(Date.now() - Date.parse(object.metadata.creationTimestamp))

type Column = { name: string; type: string; format: string; description: string; priority: number }
const column = (name: string, type = "string", format = "", priority = 0): Column => ({ name, type, format, description: name, priority })
const columnsFor: Record<string, { columns: Column[]; cells: (object: KubeObject) => unknown[] }> = {
  jobs: {
    columns: [column("Name", "string", "name"), column("Status"), column("Completions"), column("Duration"), column("Age")],
    cells: (job) => {
      const s = (job.status ?? {}) as { succeeded?: number; startTime?: string; completionTime?: string; conditions?: Array<{ type: string; status: string }> }
      const has = (type: string) => s.conditions?.some((c) => c.type === type && c.status === "True")
      const state = has("Complete") ? "Complete" : has("Failed") ? "Failed" : has("FailureTarget") ? "FailureTarget" : has("SuccessCriteriaMet") ? "SuccessCriteriaMet" : "Running"
      const completions = `${s.succeeded ?? 0}/${(job.spec as { completions?: number }).completions ?? 1}`
      const duration = s.startTime ? human((s.completionTime ? Date.parse(s.completionTime) : Date.now()) - Date.parse(s.startTime)) : ""
      return [job.metadata.name, state, completions, duration, age(job)]
    },
  },
  pods: {
    columns: [column("Name", "string", "name"), column("Ready"), column("Status"), column("Restarts", "string"), column("Age"), column("IP", "string", "", 1), column("Node", "string", "", 1)],
    cells: (pod) => {
      const s = (pod.status ?? {}) as { phase?: string; containerStatuses?: Array<{ ready: boolean; restartCount: number; state?: { waiting?: { reason?: string }; terminated?: { reason?: string } } }> }
      const statuses = s.containerStatuses ?? []
      const reason = statuses.map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason).find(Boolean)
      const phase = pod.metadata.deletionTimestamp ? "Terminating" : s.phase === "Running" || !reason ? s.phase : reason
      const containers = (pod.spec as { containers: unknown[] }).containers.length
      return [pod.metadata.name, `${statuses.filter((c) => c.ready).length}/${containers}`, phase, statuses.reduce((n, c) => n + c.restartCount, 0), age(pod), "127.0.0.1", (pod.spec as { nodeName?: string }).nodeName ?? "<none>"]
    },
  },
  events: {
    columns: [column("Last Seen"), column("Type"), column("Reason"), column("Object"), column("Message")],
    cells: (event) => {
      const involved = event.involvedObject as { kind: string; name: string }
      return [human(Date.now() - Date.parse(event.lastTimestamp as string)), event.type, event.reason, `${involved.kind.toLowerCase()}/${involved.name}`, event.message]
    },
  },
  secrets: {
    columns: [column("Name", "string", "name"), column("Type"), column("Data", "integer"), column("Age")],
    cells: (secret) => [secret.metadata.name, secret.type, Object.keys((secret.data ?? {}) as object).length, age(secret)],
  },
  namespaces: {
    columns: [column("Name", "string", "name"), column("Status"), column("Age")],
    cells: (ns) => [ns.metadata.name, "Active", age(ns)],
  },
}

/** kubectl asks `get` for a meta.k8s.io/v1 Table (Accept `application/json;as=Table;v=v1;g=meta.k8s.io`). */
export const wantsTable = (accept: string | null): boolean => /as=Table/.test(accept ?? "") && /v=v1(;|,|$)/.test(accept ?? "")

/** The server-side printing of kubectl get: column definitions, a row per object with its metadata (includeObject=Metadata). */
export const table = (resource: string, objects: KubeObject[], resourceVersion: string) => {
  const printer = columnsFor[resource] ?? { columns: [column("Name", "string", "name"), column("Age")], cells: (o: KubeObject) => [o.metadata.name, age(o)] }
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: printer.columns,
    rows: objects.map((object) => ({
      cells: printer.cells(object),
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata },
    })),
  }
}
