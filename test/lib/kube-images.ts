// The kubelet's image pulls through the Docker daemon: pull policy, imagePullSecrets and node credentials, the daemon's errors.
import { errorMessage, jsonLines } from "../../src/util/docker-api.ts"
import { parseImageRef, registryAuthHeaders, type RegistryCredentials } from "../../src/util/docker-auth.ts"
import type { KubeContext } from "./kube-context.ts"
import type { KubeObject } from "./kube-store.ts"

type Container = { name: string; image: string; imagePullPolicy?: string }

/** What the API server's defaulting does: `Always` for `:latest` or no tag, else `IfNotPresent`. */
export const defaultPullPolicy = (image: string): string => {
  if (image.includes("@")) return "IfNotPresent"
  return parseImageRef(image).reference === "latest" ? "Always" : "IfNotPresent"
}

const hostOf = (key: string): string => {
  const host = key.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "")
  return ["docker.io", "index.docker.io", "registry-1.docker.io"].includes(host) ? "docker.io" : host
}

type Auths = Record<string, { auth?: string; username?: string; password?: string }>

/** The credentials for the image's registry, from the pod's imagePullSecrets (in order) and then the node's own. */
export const pullCredentials = (ctx: KubeContext, pod: KubeObject, image: string): { credentials: RegistryCredentials[]; missing: string[] } => {
  const registry = parseImageRef(image).registry
  const serveraddress = registry === "docker.io" ? "https://index.docker.io/v1/" : registry
  const credentials: RegistryCredentials[] = []
  const missing: string[] = []
  const spec = pod.spec as { imagePullSecrets?: Array<{ name: string }> }
  for (const { name } of spec.imagePullSecrets ?? []) {
    const secret = ctx.store.get("secrets", pod.metadata.namespace, name)
    if (!secret) {
      missing.push(name)
      continue
    }
    const data = (secret.data ?? {}) as Record<string, string>
    const encoded = secret.type === "kubernetes.io/dockercfg" ? data[".dockercfg"] : data[".dockerconfigjson"]
    if (!encoded) continue
    let auths: Auths = {}
    try {
      const parsed = JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as { auths?: Auths } & Auths
      auths = secret.type === "kubernetes.io/dockercfg" ? parsed : (parsed.auths ?? {})
    } catch {
      continue
    }
    for (const [key, entry] of Object.entries(auths)) {
      if (hostOf(key) !== registry) continue
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, "base64").toString("utf8")
        const colon = decoded.indexOf(":")
        credentials.push({ username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress })
      } else if (entry.username) credentials.push({ username: entry.username, password: entry.password ?? "", serveraddress })
    }
  }
  const node = ctx.options.nodeCredentials?.[registry]
  if (node) credentials.push({ ...node, serveraddress })
  return { credentials, missing }
}

export const imagePresent = async (ctx: KubeContext, image: string): Promise<{ id: string; digest?: string } | null> => {
  const response = await ctx.docker.request("GET", `/images/${encodeURIComponent(image)}/json`)
  if (!response.ok) {
    await response.body?.cancel()
    return null
  }
  const inspect = (await response.json()) as { Id: string; RepoDigests?: string[] }
  return { id: inspect.Id, digest: inspect.RepoDigests?.[0] }
}

/** One pull with one set of credentials (or none); resolves to null on success, else the daemon's message. */
const pullOnce = async (ctx: KubeContext, image: string, credentials: RegistryCredentials | null, signal: AbortSignal): Promise<string | null> => {
  const ref = parseImageRef(image)
  const response = await ctx.docker.request("POST", "/images/create", {
    query: { fromImage: ref.name, tag: ref.reference },
    headers: registryAuthHeaders(credentials),
    signal,
    timeoutMs: null,
  })
  if (!response.ok) return errorMessage(response)
  let failure: string | null = null
  for await (const message of jsonLines(response.body)) {
    const detail = message.errorDetail as { message?: string } | undefined
    if (message.error || detail?.message) failure = String(detail?.message ?? message.error)
  }
  return failure
}

/** Pulls as a kubelet does: each matching credential in turn, anonymously when there is none; the last error is reported. */
export const pullImage = async (ctx: KubeContext, pod: KubeObject, image: string, signal: AbortSignal): Promise<string | null> => {
  const { credentials } = pullCredentials(ctx, pod, image)
  let failure: string | null = null
  for (const credential of credentials.length > 0 ? credentials : [null]) {
    failure = await pullOnce(ctx, image, credential, signal)
    if (failure === null) return null
  }
  return failure
}

export type { Container }
