// Where and as whom to reach a Kubernetes API server: kubeconfig files as kubectl reads them, else the pod's service account.
import { existsSync, readFileSync } from "node:fs"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { LineCounter, parseDocument } from "yaml"
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"
import type { TlsOptions } from "../util/http.ts"
import { execPlugin, type ExecConfig } from "./exec-credential.ts"

export type Env = Record<string, string | undefined>

/** What one request carries: headers (Authorization), a client certificate, and the strings no message may show. */
export type KubeCredentials = { headers: Record<string, string>; tls?: { cert: string; key: string }; secrets: string[] }

export type KubeTarget = {
  context: string | null
  server: string
  /** The context's namespace, the in-cluster namespace file, else "default". */
  namespace: string
  /** The kubeconfig path(s) the target came from, or "in-cluster". */
  source: string
  /** How the server is verified (a CA, or none at all). */
  tls: TlsOptions
  credentials(): Promise<KubeCredentials>
  /** Forget cached credentials (an exec plugin's token) after the server refused them. */
  invalidate(): void
}

export const defaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

type Entry = { value: Record<string, unknown>; file: string }
type Merged = { files: string[]; current?: string; clusters: Map<string, Entry>; users: Map<string, Entry>; contexts: Map<string, Entry> }

const configError = (message: string, hint?: string, file?: string, line?: number): ToolError =>
  new ToolError("kube.config", message, { exitCode: 2, hint, ...(file ? { location: { file, ...(line ? { line } : {}) } } : {}) })

/** KUBECONFIG's files (a ':'-separated list, empty parts skipped), else ~/.kube/config. */
export const kubeconfigPaths = (env: Env): string[] => {
  if (env.KUBECONFIG !== undefined && env.KUBECONFIG !== "") return env.KUBECONFIG.split(":").filter((part) => part !== "")
  return env.HOME ? [join(env.HOME, ".kube", "config")] : []
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const readYaml = (file: string): Record<string, unknown> => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (error) {
    throw configError(`cannot read kubeconfig ${file}: ${(error as Error).message}`, undefined, file)
  }
  const lines = new LineCounter()
  const document = parseDocument(text, { prettyErrors: false, lineCounter: lines })
  const problem = document.errors[0]
  if (problem) {
    const line = lines.linePos(problem.pos[0]).line
    throw configError(`${file}${line ? `:${line}` : ""}: kubeconfig is not valid YAML: ${problem.message.split("\n")[0]}`, undefined, file, line)
  }
  const data: unknown = document.toJS()
  if (data === null || data === undefined) return {}
  if (!isRecord(data)) throw configError(`${file}: kubeconfig is not a mapping (kind: Config)`, undefined, file)
  return data
}

/**
 * kubectl's merge: the first file to name a cluster, user or context wins it, and current-context comes from the first
 * file that sets one. Each entry remembers its file, against whose folder its relative paths resolve.
 */
export const mergeKubeconfigs = (files: string[]): Merged => {
  const merged: Merged = { files, clusters: new Map(), users: new Map(), contexts: new Map() }
  for (const file of files) {
    const data = readYaml(file)
    if (merged.current === undefined && typeof data["current-context"] === "string" && data["current-context"] !== "") merged.current = data["current-context"]
    for (const [key, inner, into] of [["clusters", "cluster", merged.clusters], ["users", "user", merged.users], ["contexts", "context", merged.contexts]] as const) {
      const list = data[key] ?? []
      if (!Array.isArray(list)) throw configError(`${file}: '${key}' is not a list`, undefined, file)
      for (const item of list) {
        if (!isRecord(item) || typeof item.name !== "string") throw configError(`${file}: an entry of '${key}' has no name`, undefined, file)
        const value = item[inner] ?? {}
        if (!isRecord(value)) throw configError(`${file}: ${inner} '${item.name}' is not a mapping`, undefined, file)
        if (!into.has(item.name)) into.set(item.name, { value, file })
      }
    }
  }
  return merged
}

const text = (entry: Entry, key: string): string | undefined => {
  const value = entry.value[key]
  if (value === undefined || value === null || value === "") return undefined
  if (typeof value !== "string") throw configError(`${entry.file}: '${key}' must be a string`, undefined, entry.file)
  return value
}

const pathIn = (entry: Entry, key: string): string | undefined => {
  const value = text(entry, key)
  return value === undefined ? undefined : isAbsolute(value) ? value : resolve(dirname(entry.file), value)
}

const readNamed = (entry: Entry, key: string, path: string): string => {
  try {
    return readFileSync(path, "utf8")
  } catch (error) {
    throw configError(`${entry.file}: cannot read ${key} ${path}: ${(error as Error).message}`, undefined, entry.file)
  }
}

/** PEM text from `<key>-data` (base64) or the file `<key>` names; the data wins, as in kubectl. */
const pem = (entry: Entry, key: string): string | undefined => {
  const data = text(entry, `${key}-data`)
  if (data !== undefined) return Buffer.from(data, "base64").toString("utf8")
  const path = pathIn(entry, key)
  return path === undefined ? undefined : readNamed(entry, key, path)
}

/** A file read on every use, keeping the last good content: projected tokens are swapped in place while we run. */
const rereadFile = (path: string, what: string): (() => string) => {
  let last: string | undefined
  return () => {
    try {
      last = readFileSync(path, "utf8").trim()
    } catch (error) {
      if (last === undefined) throw configError(`cannot read ${what} ${path}: ${(error as Error).message}`)
    }
    return last
  }
}

const bearer = (token: string): KubeCredentials => ({ headers: { authorization: `Bearer ${token}` }, secrets: [token] })

const clusterTls = (cluster: Entry, name: string): TlsOptions => {
  const insecure = cluster.value["insecure-skip-tls-verify"] === true
  const ca = pem(cluster, "certificate-authority")
  if (insecure && ca !== undefined) throw configError(`${cluster.file}: cluster '${name}' sets both insecure-skip-tls-verify and a certificate authority; kubectl refuses that too`, "remove one of them", cluster.file)
  const serverName = text(cluster, "tls-server-name")
  return { rejectUnauthorized: !insecure, ...(ca !== undefined ? { ca } : {}), ...(serverName !== undefined ? { serverName } : {}) }
}

type UserAuth = { credentials(): Promise<KubeCredentials>; invalidate(): void }

const userAuth = (user: Entry, name: string, cluster: { server: string; tls: TlsOptions }, env: Env): UserAuth => {
  const cert = pem(user, "client-certificate")
  const key = pem(user, "client-key")
  if ((cert === undefined) !== (key === undefined)) throw configError(`${user.file}: user '${name}' has a client certificate without its key, or a key without its certificate`, undefined, user.file)
  const tls = cert !== undefined && key !== undefined ? { cert, key } : undefined
  const withTls = (credentials: KubeCredentials): KubeCredentials => (tls && !credentials.tls ? { ...credentials, tls, secrets: [...credentials.secrets, key as string] } : credentials)
  if (user.value["auth-provider"] !== undefined) {
    throw new ToolError("unsupported", `${user.file}: user '${name}' uses an auth-provider, which kubectl itself no longer supports`, { hint: "use an exec plugin (for example kubelogin or gke-gcloud-auth-plugin) instead", exitCode: 2 })
  }
  const token = text(user, "token")
  if (token !== undefined) return { credentials: async () => withTls(bearer(token)), invalidate: () => {} }
  const tokenFile = pathIn(user, "tokenFile")
  if (tokenFile !== undefined) {
    const read = rereadFile(tokenFile, `the token file of user '${name}' (${user.file})`)
    return { credentials: async () => withTls(bearer(read())), invalidate: () => {} }
  }
  const exec = user.value.exec
  if (exec !== undefined) {
    if (!isRecord(exec) || typeof exec.command !== "string") throw configError(`${user.file}: user '${name}' has an exec plugin without a command`, undefined, user.file)
    const envOk = exec.env === undefined || exec.env === null || (Array.isArray(exec.env) && exec.env.every((item) => isRecord(item) && typeof item.name === "string"))
    if ((exec.args !== undefined && exec.args !== null && !Array.isArray(exec.args)) || !envOk) {
      throw configError(`${user.file}: the exec plugin of user '${name}' needs 'args' as a list and 'env' as a list of name/value pairs`, undefined, user.file)
    }
    const command = exec.command.includes("/") && !isAbsolute(exec.command) ? resolve(dirname(user.file), exec.command) : exec.command
    const plugin = execPlugin({ ...(exec as ExecConfig), command }, { user: name, file: user.file, env, cluster })
    return { credentials: async () => withTls(await plugin.credentials()), invalidate: plugin.invalidate }
  }
  const username = text(user, "username")
  if (username !== undefined) {
    const password = text(user, "password") ?? ""
    const basic = Buffer.from(`${username}:${password}`).toString("base64")
    return { credentials: async () => withTls({ headers: { authorization: `Basic ${basic}` }, secrets: [password] }), invalidate: () => {} }
  }
  return { credentials: async () => withTls({ headers: {}, secrets: [] }), invalidate: () => {} }
}

const listed = (names: Iterable<string>): string => [...names].map((name) => `'${name}'`).join(", ") || "none"

/** The target a merged kubeconfig names through `context` (else its current-context). */
export const targetFromKubeconfig = (merged: Merged, env: Env, context?: string): KubeTarget => {
  const source = merged.files.join(":")
  const name = context ?? merged.current
  if (name === undefined) {
    throw configError(`${source} sets no current-context`, `choose one of the contexts (${listed(merged.contexts.keys())}) or run 'kubectl config use-context NAME'`)
  }
  const chosen = merged.contexts.get(name)
  if (!chosen) {
    const near = closest(name, merged.contexts.keys())
    throw new ToolError("kube.context", `no context '${name}' in ${source}; known contexts: ${listed(merged.contexts.keys())}`, {
      exitCode: 2,
      ...(near ? { hint: `did you mean '${near}'?` } : {}),
    })
  }
  const clusterName = text(chosen, "cluster")
  const cluster = clusterName === undefined ? undefined : merged.clusters.get(clusterName)
  if (!cluster || clusterName === undefined) throw configError(`context '${name}' (${chosen.file}) names cluster '${clusterName ?? ""}', which ${source} does not define`, `known clusters: ${listed(merged.clusters.keys())}`, chosen.file)
  const server = text(cluster, "server")
  if (server === undefined) throw configError(`cluster '${clusterName}' (${cluster.file}) has no server`, undefined, cluster.file)
  const userName = text(chosen, "user")
  const user = userName === undefined ? { value: {}, file: chosen.file } : merged.users.get(userName)
  if (!user) throw configError(`context '${name}' (${chosen.file}) names user '${userName}', which ${source} does not define`, `known users: ${listed(merged.users.keys())}`, chosen.file)
  const tls = clusterTls(cluster, clusterName)
  const auth = userAuth(user, userName ?? "", { server, tls }, env)
  return { context: name, server: server.replace(/\/+$/, ""), namespace: text(chosen, "namespace") ?? "default", source, tls, ...auth }
}

/** The pod's own service account, as client-go's InClusterConfig reads it. */
export const inClusterTarget = (env: Env): KubeTarget => {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT
  if (!host || !port) throw configError("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set for in-cluster access")
  const dir = env.MLPROJECT_KUBE_SERVICEACCOUNT_DIR || defaultServiceAccountDir
  const token = rereadFile(join(dir, "token"), "the service account token")
  token()
  const caPath = join(dir, "ca.crt")
  const ca = existsSync(caPath) ? readFileSync(caPath, "utf8") : undefined
  const namespaceFile = join(dir, "namespace")
  const namespace = env.POD_NAMESPACE || (existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() : "") || "default"
  return {
    context: null,
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    namespace,
    source: "in-cluster",
    tls: { rejectUnauthorized: true, ...(ca !== undefined ? { ca } : {}) },
    credentials: async () => bearer(token()),
    invalidate: () => {},
  }
}

/**
 * The cluster to talk to: the kubeconfig files that exist (KUBECONFIG, else ~/.kube/config) with `context` or their
 * current-context; with no file at all, the in-cluster service account when the pod's variables are there.
 */
export const loadKubeTarget = (env: Env, context?: string): KubeTarget => {
  const paths = kubeconfigPaths(env)
  const files = paths.filter((path) => existsSync(path))
  if (files.length > 0) return targetFromKubeconfig(mergeKubeconfigs(files), env, context)
  if (context === undefined && env.KUBERNETES_SERVICE_HOST) return inClusterTarget(env)
  const looked = paths.length > 0 ? paths.join(", ") : "~/.kube/config (HOME is not set)"
  throw configError(
    context === undefined ? `no kubeconfig found (looked at ${looked}) and not running inside a cluster` : `no kubeconfig found (looked at ${looked}) to take context '${context}' from`,
    "set KUBECONFIG or create ~/.kube/config (for example with your cloud's 'get-credentials' command)",
  )
}
