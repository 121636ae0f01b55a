// The REST paths of the loopback API server: get, list, watch, create and delete of pods, jobs, events, secrets and namespaces; pod logs.
import { nodeObject, now, type KubeContext } from "./kube-context.ts"
import { discovery, resourceFor, table, wantsTable, type Resource } from "./kube-discovery.ts"
import { defaultPodSpec, prepareJob, type JobController } from "./kube-jobs.ts"
import type { Kubelet } from "./kube-kubelet.ts"
import { podLogs } from "./kube-logs.ts"
import { fieldSelector, KubeError, labelSelector, notFound, validateName, type KubeObject, type WatchEvent } from "./kube-store.ts"

export const json = (value: unknown, code = 200) => new Response(JSON.stringify(value), { status: code, headers: { "content-type": "application/json" } })

type Route = { resource: Resource; namespace: string | null; name?: string; sub?: string }

const route = (path: string): Route | undefined => {
  const match = /^\/(?:api\/v1|apis\/(batch)\/v1)\/(.*)$/.exec(path)
  if (!match) return undefined
  const group = match[1] ?? ""
  const parts = (match[2] ?? "").split("/").filter(Boolean)
  if (parts[0] === "namespaces" && parts.length >= 3) {
    const resource = resourceFor(group, parts[2] as string)
    return resource && { resource, namespace: parts[1] as string, name: parts[3], sub: parts[4] }
  }
  const resource = resourceFor(group, parts[0] ?? "")
  return resource && { resource, namespace: null, name: parts[1], sub: parts[2] }
}

/** Items in a list carry no kind or apiVersion, as the real server sends them (kubectl adds them back for -o json). */
const bare = ({ kind: _kind, apiVersion: _apiVersion, ...rest }: KubeObject) => rest

export type Api = { handle(request: Request, url: URL, body: unknown, signal: AbortSignal): Promise<Response> }

export const makeApi = (ctx: KubeContext, kubelet: Kubelet, jobs: JobController): Api => {
  const apiVersion = (r: Resource) => (r.group ? `${r.group}/${r.version}` : r.version)

  const namespaceExists = (name: string) => {
    if (!ctx.store.get("namespaces", undefined, name)) throw new KubeError(404, "NotFound", `namespaces "${name}" not found`, { name, kind: "namespaces" })
  }

  const matcher = (url: URL) => {
    const labels = labelSelector(url.searchParams.get("labelSelector"))
    const fields = fieldSelector(url.searchParams.get("fieldSelector"))
    return (object: KubeObject) => labels(object.metadata.labels ?? {}) && fields(object)
  }

  const watch = (r: Route, url: URL, signal: AbortSignal): Response => {
    const encoder = new TextEncoder()
    const drop = ctx.options.watchDrop ?? {}
    const bookmarks = url.searchParams.get("allowWatchBookmarks") === "true"
    const timeoutSeconds = Number(url.searchParams.get("timeoutSeconds") ?? 0)
    let close = () => {}
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let sent = 0
        let closed = false
        const timers: Array<ReturnType<typeof setTimeout>> = []
        let unsubscribe: (() => void) | false = false
        close = () => {
          if (closed) return
          closed = true
          timers.forEach((t) => clearTimeout(t))
          if (unsubscribe) unsubscribe()
          try {
            controller.close()
          } catch {
            // Already cancelled by the client.
          }
        }
        const send = (event: WatchEvent) => {
          if (closed) return
          controller.enqueue(encoder.encode(`${JSON.stringify(event)}\n`))
          if (event.type !== "BOOKMARK" && drop.afterEvents !== undefined && ++sent >= drop.afterEvents) queueMicrotask(close)
        }
        const since = url.searchParams.get("resourceVersion")
        unsubscribe = ctx.store.watch(r.resource.name, r.namespace, matcher(url), since, send)
        if (unsubscribe === false) {
          const message = `too old resource version: ${since} (${ctx.store.oldestResumable})`
          send({ type: "ERROR", object: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "Expired", code: 410 } })
          return close()
        }
        if (url.searchParams.get("sendInitialEvents") === "true") {
          const metadata = { resourceVersion: ctx.store.resourceVersion, annotations: { "k8s.io/initial-events-end": "true" } }
          send({ type: "BOOKMARK", object: { kind: r.resource.kind, apiVersion: apiVersion(r.resource), metadata } })
        }
        if (drop.afterMs !== undefined) timers.push(setTimeout(close, drop.afterMs))
        if (timeoutSeconds > 0) timers.push(setTimeout(close, timeoutSeconds * 1000))
        if (bookmarks) {
          const tick = () => {
            send({ type: "BOOKMARK", object: { kind: r.resource.kind, apiVersion: apiVersion(r.resource), metadata: { resourceVersion: ctx.store.resourceVersion } } })
            timers.push(setTimeout(tick, ctx.options.bookmarkMs ?? 1000))
          }
          timers.push(setTimeout(tick, ctx.options.bookmarkMs ?? 1000))
        }
        signal.addEventListener("abort", close, { once: true })
      },
      cancel() {
        close()
      },
    })
    return new Response(body, { headers: { "content-type": "application/json", "transfer-encoding": "chunked" } })
  }

  const get = (r: Route, request: Request, url: URL, signal: AbortSignal): Response | Promise<Response> => {
    const { resource } = r
    if (resource.name === "nodes") {
      const node = nodeObject(ctx.node)
      if (r.name && r.name !== ctx.node.name) throw notFound("nodes", "", r.name)
      return json(r.name ? node : { kind: "NodeList", apiVersion: "v1", metadata: { resourceVersion: ctx.store.resourceVersion }, items: [node] })
    }
    if (r.name) {
      const object = ctx.store.get(resource.name, resource.namespaced ? (r.namespace ?? undefined) : undefined, r.name)
      if (!object) throw notFound(resource.name, resource.group, r.name)
      if (r.sub === "log" && resource.name === "pods") return podLogs(ctx, kubelet, object, url.searchParams, signal)
      if (r.sub && !(r.sub === "status" && resource.name === "jobs")) throw new KubeError(404, "NotFound", "the server could not find the requested resource")
      return json(wantsTable(request.headers.get("accept")) ? table(resource.name, [object], object.metadata.resourceVersion) : object)
    }
    const watching = url.searchParams.get("watch")
    if (watching === "1" || watching === "true") return watch(r, url, signal)
    const items = ctx.store.list(resource.name, r.namespace, matcher(url))
    if (wantsTable(request.headers.get("accept"))) return json(table(resource.name, items, ctx.store.resourceVersion))
    return json({ kind: `${resource.kind}List`, apiVersion: apiVersion(resource), metadata: { resourceVersion: ctx.store.resourceVersion }, items: items.map(bare) })
  }

  const create = (r: Route, body: unknown, dryRun = false): Response => {
    const { resource } = r
    if (r.name || !["pods", "jobs", "secrets", "events", "namespaces"].includes(resource.name)) {
      throw new KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    }
    if (!body || typeof body !== "object") throw new KubeError(400, "BadRequest", "the body of the request was in an unknown format - accepted media types include: application/json")
    const object = body as KubeObject
    object.metadata ??= {} as KubeObject["metadata"]
    object.kind ??= resource.kind
    object.apiVersion ??= apiVersion(resource)
    if (object.kind !== resource.kind) throw new KubeError(400, "BadRequest", `the API version in the data (${object.apiVersion}) does not match the expected API version (${apiVersion(resource)})`)
    if (resource.namespaced) {
      const namespace = r.namespace ?? "default"
      if (object.metadata.namespace && object.metadata.namespace !== namespace) {
        throw new KubeError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
      }
      object.metadata.namespace = namespace
      namespaceExists(namespace)
    }
    if (object.metadata.name) validateName(resource.kind, resource.group, object.metadata.name)
    let prepare: ((o: KubeObject) => void) | undefined
    if (resource.name === "jobs") prepare = prepareJob
    if (resource.name === "pods") {
      defaultPodSpec(object.spec as Record<string, unknown>)
      object.status = { phase: "Pending", qosClass: "BestEffort" }
    }
    if (resource.name === "namespaces") object.status = { phase: "Active" }
    if (resource.name === "secrets") {
      const stringData = (object.stringData ?? {}) as Record<string, string>
      object.data = { ...(object.data as object), ...Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) }
      delete object.stringData
      object.type ??= "Opaque"
    }
    // dryRun=All: every check and default of a create, nothing stored, nobody notified (as the real server).
    if (dryRun) {
      if (ctx.store.get(resource.name, object.metadata.namespace, object.metadata.name)) {
        throw new KubeError(409, "AlreadyExists", `${resource.name}${resource.group ? `.${resource.group}` : ""} "${object.metadata.name}" already exists`)
      }
      object.metadata.uid = crypto.randomUUID()
      prepare?.(object)
      return json(object, 201)
    }
    return json(ctx.store.create(resource.name, object, resource.group, prepare), 201)
  }

  const remove = async (r: Route, url: URL, body: unknown): Promise<Response> => {
    const { resource } = r
    if (!r.name) throw new KubeError(405, "MethodNotAllowed", "deleting a collection is not supported by this loopback server")
    const options = (body ?? {}) as { propagationPolicy?: string; gracePeriodSeconds?: number; orphanDependents?: boolean }
    const policy = options.propagationPolicy ?? url.searchParams.get("propagationPolicy") ?? (options.orphanDependents === false ? "Background" : "Orphan")
    const namespace = r.namespace ?? "default"
    if (resource.name === "jobs") return json(await jobs.deleteJob(namespace, r.name, policy))
    const existing = ctx.store.get(resource.name, resource.namespaced ? namespace : undefined, r.name)
    if (!existing) throw notFound(resource.name, resource.group, r.name)
    if (resource.name === "pods") {
      const grace = options.gracePeriodSeconds ?? (url.searchParams.has("gracePeriodSeconds") ? Number(url.searchParams.get("gracePeriodSeconds")) : undefined)
      void kubelet.deletePod(namespace, r.name, grace)
      return json({ ...existing, metadata: { ...existing.metadata, deletionTimestamp: now() } })
    }
    ctx.store.remove(resource.name, resource.namespaced ? namespace : undefined, r.name)
    return json({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name: r.name, group: resource.group, kind: resource.name, uid: existing.metadata.uid } })
  }

  return {
    async handle(request, url, body, signal) {
      const known = discovery(url.pathname, `127.0.0.1:${ctx.port()}`)
      if (known && request.method === "GET") return json(known)
      const r = route(url.pathname)
      if (!r) throw new KubeError(404, "NotFound", "the server could not find the requested resource")
      if (request.method === "GET") return get(r, request, url, signal)
      if (request.method === "POST") return create(r, body, url.searchParams.get("dryRun") === "All")
      if (request.method === "DELETE") return remove(r, url, body)
      throw new KubeError(405, "MethodNotAllowed", `${request.method} is not supported by this loopback server`)
    },
  }
}
