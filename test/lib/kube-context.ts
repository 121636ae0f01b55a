// What the loopback API server's parts share: its options, the store, the Docker client, the node, and how events are recorded.
import { randomBytes } from "node:crypto"
import { cpus, totalmem } from "node:os"
import type { DockerClient } from "../../src/util/docker-api.ts"
import type { KubeObject, KubeStore } from "./kube-store.ts"

export type KubeServerOptions = {
  /** Bearer tokens accepted (default: one random token, `server.token`). */
  tokens?: string[]
  /** Basic-auth users accepted. */
  basic?: Array<{ username: string; password: string }>
  /** Let requests without credentials in (default false: 401 like a server without anonymous auth). */
  anonymous?: boolean
  /** The Docker client the kubelet uses (default: /var/run/docker.sock). */
  docker?: DockerClient
  /** Registry credentials the node itself has (a kubelet's config.json), by registry host: used after imagePullSecrets. */
  nodeCredentials?: Record<string, { username: string; password: string }>
  /** Image pull back-off: first delay and cap (a real kubelet: 10 s and 5 min; default here 300 ms and 3 s). */
  pullBackoffMs?: { initial: number; max: number }
  /** Delay before a failed Job pod is replaced (a real controller: 10 s doubling; default here 0). */
  jobBackoffMs?: number
  /** Close every watch connection after this many events or milliseconds, so a client's resume is exercised. */
  watchDrop?: { afterEvents?: number; afterMs?: number }
  /** How many changes watches can resume from; an older resourceVersion gets 410 Expired (default 1000). */
  historyLimit?: number
  /** How often a watch with allowWatchBookmarks=true gets a BOOKMARK (default 1000 ms). */
  bookmarkMs?: number
  /** Grace period, in seconds, for deleting a pod whose spec and DeleteOptions give none (the real default is 30; here 1). */
  gracePeriodSeconds?: number
  /** Namespaces that exist besides default, kube-system, kube-public and kube-node-lease. */
  namespaces?: string[]
  /** Extra labels of the one node, `loopback-node`. */
  nodeLabels?: Record<string, string>
  /** The node's allocatable resources (default: this machine's CPUs and memory). */
  capacity?: { cpu?: number; memory?: number }
}

export type Node = { name: string; labels: Record<string, string>; cpu: number; memory: number }

export type KubeContext = {
  store: KubeStore
  docker: DockerClient
  options: KubeServerOptions
  node: Node
  /** A label on every container this server creates, so that cleanup finds them all. */
  serverLabel: string
  serverId: string
  /** Where pods reach the API server (KUBERNETES_SERVICE_HOST/PORT). */
  port: () => number
}

export const arch = (): string => ({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[process.arch] ?? process.arch

export const makeNode = (options: KubeServerOptions): Node => ({
  name: "loopback-node",
  labels: {
    "kubernetes.io/hostname": "loopback-node",
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": arch(),
    "beta.kubernetes.io/os": "linux",
    "beta.kubernetes.io/arch": arch(),
    ...options.nodeLabels,
  },
  cpu: options.capacity?.cpu ?? cpus().length,
  memory: options.capacity?.memory ?? totalmem(),
})

export const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z")

/** The Node object for `GET /api/v1/nodes`. */
export const nodeObject = (node: Node): Omit<KubeObject, "metadata"> & { metadata: Record<string, unknown> } => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: node.name, labels: node.labels, uid: "00000000-0000-0000-0000-00000000node", resourceVersion: "1", creationTimestamp: now() },
  spec: {},
  status: {
    capacity: { cpu: String(node.cpu), memory: `${Math.floor(node.memory / 1024)}Ki`, pods: "110" },
    allocatable: { cpu: String(node.cpu), memory: `${Math.floor(node.memory / 1024)}Ki`, pods: "110" },
    conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }],
    addresses: [{ type: "InternalIP", address: "127.0.0.1" }, { type: "Hostname", address: node.name }],
    nodeInfo: { kubeletVersion: "v1.32.0-loopback", operatingSystem: "linux", architecture: arch(), containerRuntimeVersion: "docker://loopback" },
  },
})

type Source = "kubelet" | "default-scheduler" | "job-controller"

/**
 * Records an Event about `about`, as the kubelet, the scheduler or the job controller do: a repeat of the same reason and
 * message on the same object raises `count` and `lastTimestamp` instead of adding an Event (the real recorder's aggregation).
 */
export const recordEvent = (ctx: KubeContext, about: KubeObject, type: "Normal" | "Warning", reason: string, message: string, source: Source, fieldPath?: string) => {
  const namespace = about.metadata.namespace ?? "default"
  const same = ctx.store.list("events", namespace, (event) => {
    const involved = event.involvedObject as { uid: string; fieldPath?: string }
    return involved.uid === about.metadata.uid && involved.fieldPath === fieldPath && event.reason === reason && event.message === message
  })[0]
  const time = now()
  if (same) {
    ctx.store.update("events", namespace, same.metadata.name, (event) => {
      event.count = ((event.count as number) ?? 1) + 1
      event.lastTimestamp = time
    })
    return
  }
  ctx.store.create(
    "events",
    {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${about.metadata.name}.${randomBytes(8).toString("hex")}`, namespace } as KubeObject["metadata"],
      involvedObject: {
        kind: about.kind,
        namespace,
        name: about.metadata.name,
        uid: about.metadata.uid,
        apiVersion: about.apiVersion,
        resourceVersion: about.metadata.resourceVersion,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      source: source === "kubelet" ? { component: "kubelet", host: ctx.node.name } : { component: source },
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: source,
      reportingInstance: source === "kubelet" ? ctx.node.name : "",
    },
    "",
  )
}
