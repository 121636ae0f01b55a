// The loopback API server's objects: one global resourceVersion, uids, selectors, Status errors and watch streams with history.
import { randomUUID } from "node:crypto"

export type KubeObject = {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    uid: string
    resourceVersion: string
    creationTimestamp: string
    generateName?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }>
    deletionTimestamp?: string
    [key: string]: unknown
  }
  [key: string]: unknown
}

export type WatchEvent = { type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR"; object: unknown }

/** The error the handlers throw; the server turns it into a `Status` answer with the same code. */
export class KubeError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Record<string, unknown>) {
    super(message)
  }
}

export const status = (code: number, reason: string, message: string, details?: Record<string, unknown>) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: code < 400 ? "Success" : "Failure",
  message,
  reason,
  ...(details ? { details } : {}),
  code,
})

/** `jobs.batch "x" not found`, as the real server words it (the group is left out for the core group). */
export const notFound = (resource: string, group: string, name: string) =>
  new KubeError(404, "NotFound", `${resource}${group ? `.${group}` : ""} "${name}" not found`, { name, group, kind: resource })

/** The real server's DNS-1123 subdomain rule (lowercase alphanumerics, '-' and '.'), and Jobs' 63-character label limit. */
const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
export const validateName = (kind: string, group: string, name: string, max = 253) => {
  const problems: string[] = []
  if (!subdomain.test(name)) {
    problems.push(
      `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    )
  }
  if (name.length > max) problems.push(`metadata.name: Invalid value: "${name}": must be no more than ${max} characters`)
  if (problems.length > 0) {
    throw new KubeError(422, "Invalid", `${kind}${group ? `.${group}` : ""} "${name}" is invalid: ${problems.join(", ")}`, {
      name,
      group,
      kind,
      causes: problems.map((message) => ({ reason: "FieldValueInvalid", message, field: "metadata.name" })),
    })
  }
}

type Requirement = (labels: Record<string, string>) => boolean

/** A label selector as kubectl and client-go write it: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`. */
export const labelSelector = (text: string | null): Requirement => {
  if (!text) return () => true
  const parts = text.match(/([^,(]+(\([^)]*\))?)/g) ?? []
  const requirements = parts.map((raw): Requirement => {
    const part = raw.trim()
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part)
    if (set) {
      const [, key, op, list] = set as unknown as [string, string, string, string]
      const values = new Set(list.split(",").map((v) => v.trim()))
      return (labels) => (op === "in" ? key in labels && values.has(labels[key] as string) : !(key in labels) || !values.has(labels[key] as string))
    }
    const pair = /^([^!=]+)(==|=|!=)(.*)$/.exec(part)
    if (pair) {
      const [, key, op, value] = pair.map((p) => p.trim()) as [string, string, string, string]
      return (labels) => (op === "!=" ? labels[key] !== value : labels[key] === value)
    }
    if (part.startsWith("!")) return (labels) => !(part.slice(1) in labels)
    return (labels) => part in labels
  })
  return (labels) => requirements.every((requirement) => requirement(labels))
}

/** A field selector (`metadata.name=x,involvedObject.kind=Pod,status.phase!=Running`): dotted paths into the object. */
export const fieldSelector = (text: string | null): ((object: unknown) => boolean) => {
  if (!text) return () => true
  const terms = text.split(",").map((term) => {
    const match = /^([^!=]+)(==|=|!=)(.*)$/.exec(term.trim())
    if (!match) throw new KubeError(400, "BadRequest", `invalid selector: '${text}'; can't understand '${term}'`)
    const [, path, op, value] = match as unknown as [string, string, string, string]
    return { path: path.split("."), negate: op === "!=", value }
  })
  return (object) =>
    terms.every(({ path, negate, value }) => {
      const found = path.reduce<unknown>((at, key) => (at && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined), object)
      return (String(found ?? "") === value) !== negate
    })
}

type Watcher = { resource: string; namespace: string | null; match: (object: KubeObject) => boolean; send(event: WatchEvent): void }
type Change = { rv: number; resource: string; type: "ADDED" | "MODIFIED" | "DELETED"; object: KubeObject }

const copy = <T>(value: T): T => structuredClone(value)

export class KubeStore {
  private rv = 1
  private readonly objects = new Map<string, Map<string, KubeObject>>()
  private readonly history: Change[] = []
  private readonly watchers = new Set<Watcher>()
  /** Whatever the controllers want to know about a change (the kubelet watches pods this way). */
  readonly listeners = new Set<(resource: string, type: Change["type"], object: KubeObject) => void>()

  constructor(private readonly historyLimit: number) {}

  get resourceVersion(): string {
    return String(this.rv)
  }

  /** The oldest resourceVersion a watch can resume from: older ones are answered with 410 Gone, as after compaction. */
  get oldestResumable(): number {
    return this.history[0] ? this.history[0].rv - 1 : this.rv
  }

  private table(resource: string): Map<string, KubeObject> {
    let table = this.objects.get(resource)
    if (!table) this.objects.set(resource, (table = new Map()))
    return table
  }

  private record(resource: string, type: Change["type"], object: KubeObject) {
    this.history.push({ rv: this.rv, resource, type, object: copy(object) })
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit)
    for (const watcher of this.watchers) {
      if (watcher.resource === resource && (watcher.namespace === null || watcher.namespace === object.metadata.namespace) && watcher.match(object)) {
        watcher.send({ type, object: copy(object) })
      }
    }
    for (const listener of this.listeners) listener(resource, type, copy(object))
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.table(resource).get(`${namespace ?? ""}/${name}`)
    return found && copy(found)
  }

  list(resource: string, namespace: string | null, match: (object: KubeObject) => boolean = () => true): KubeObject[] {
    return [...this.table(resource).values()]
      .filter((object) => (namespace === null || object.metadata.namespace === namespace) && match(object))
      .map(copy)
  }

  /** Stores a new object: a name from `generateName` when it has none, a uid, a resourceVersion and a creation time. */
  create(resource: string, object: KubeObject, group: string, prepare?: (object: KubeObject) => void): KubeObject {
    const table = this.table(resource)
    const metadata = object.metadata
    if (!metadata.name && metadata.generateName) {
      do metadata.name = `${metadata.generateName}${randomSuffix()}`
      while (table.has(`${metadata.namespace ?? ""}/${metadata.name}`))
    }
    if (!metadata.name) throw new KubeError(422, "Invalid", `${object.kind} "" is invalid: metadata.name: Required value: name or generateName is required`)
    const key = `${metadata.namespace ?? ""}/${metadata.name}`
    if (table.has(key)) throw new KubeError(409, "AlreadyExists", `${resource}${group ? `.${group}` : ""} "${metadata.name}" already exists`, { name: metadata.name, group, kind: resource })
    this.rv++
    Object.assign(metadata, { uid: randomUUID(), resourceVersion: String(this.rv), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z") })
    // What needs the uid (a Job's selector) is filled in before anyone sees the object.
    prepare?.(object)
    table.set(key, copy(object))
    this.record(resource, "ADDED", object)
    return copy(object)
  }

  /** Changes a stored object in place through `change`; a new resourceVersion and a MODIFIED event. Undefined when gone. */
  update(resource: string, namespace: string | undefined, name: string, change: (object: KubeObject) => void): KubeObject | undefined {
    const table = this.table(resource)
    const key = `${namespace ?? ""}/${name}`
    const object = table.get(key)
    if (!object) return undefined
    change(object)
    this.rv++
    object.metadata.resourceVersion = String(this.rv)
    this.record(resource, "MODIFIED", object)
    return copy(object)
  }

  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const table = this.table(resource)
    const key = `${namespace ?? ""}/${name}`
    const object = table.get(key)
    if (!object) return undefined
    table.delete(key)
    this.rv++
    object.metadata.resourceVersion = String(this.rv)
    this.record(resource, "DELETED", object)
    return copy(object)
  }

  /**
   * Starts a watch: from `since` (a resourceVersion) the changes kept in history are replayed; without one (or "0") every
   * current object arrives as ADDED first. Returns false when `since` is older than the history kept (the caller sends 410).
   */
  watch(resource: string, namespace: string | null, match: (object: KubeObject) => boolean, since: string | null, send: (event: WatchEvent) => void): (() => void) | false {
    const watcher: Watcher = { resource, namespace, match, send }
    if (!since || since === "0") {
      for (const object of this.list(resource, namespace, match)) send({ type: "ADDED", object })
    } else {
      const from = Number(since)
      if (!(from >= this.oldestResumable)) return false
      for (const change of this.history) {
        if (change.rv > from && change.resource === resource && (namespace === null || change.object.metadata.namespace === namespace) && match(change.object)) {
          send({ type: change.type, object: copy(change.object) })
        }
      }
    }
    this.watchers.add(watcher)
    return () => this.watchers.delete(watcher)
  }
}

/** Five characters from the alphabet Kubernetes uses for generated names (no vowels, no confusable digits). */
export const randomSuffix = (): string => {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789"
  return Array.from({ length: 5 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("")
}

/** A Kubernetes quantity (`512Mi`, `1G`, `500m`, `2`, `1e3`) as a number of units (bytes, cores). */
export const quantity = (value: string | number | undefined): number => {
  if (value === undefined) return 0
  const match = /^([0-9.]+(?:e[0-9]+)?)([a-zA-Z]*)$/.exec(String(value).trim())
  if (!match) return NaN
  const suffixes: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 }
  const factor = suffixes[match[2] as string]
  return factor === undefined ? NaN : Number(match[1]) * factor
}
