// A registry's own HTTP API (v2), asked directly: which scheme Docker would use, the Basic/Bearer challenge, a manifest's digest.
import { isIP } from "node:net"
import { ToolError } from "../errors.ts"
import type { DockerClient } from "./docker-api.ts"
import type { ImageRef, RegistryCredentials } from "./docker-auth.ts"
import { errorText, exchange, HttpUnreachable } from "./http.ts"
import { defaultRetry } from "./http-retry.ts"

/** Every manifest kind a tag can point at; without them a registry may answer with a converted (other-digest) manifest. */
export const manifestAccept = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ")

export type Challenge = { scheme: "basic" } | { scheme: "bearer"; realm: string; service?: string; scope?: string } | null

/**
 * `WWW-Authenticate` as registries send it: `Basic realm="…"` or `Bearer realm="…",service="…",scope="…"` (quoted or
 * not, any case, commas inside quotes kept); null for anything else.
 */
export const parseChallenge = (header: string | null): Challenge => {
  const match = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header ?? "")
  if (!match) return null
  const scheme = (match[1] as string).toLowerCase()
  if (scheme === "basic") return { scheme: "basic" }
  if (scheme !== "bearer") return null
  const params: Record<string, string> = {}
  for (const param of (match[2] as string).matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[(param[1] as string).toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, "$1") : (param[3] ?? "")
  }
  if (!params.realm) return null
  return { scheme: "bearer", realm: params.realm, ...(params.service ? { service: params.service } : {}), ...(params.scope ? { scope: params.scope } : {}) }
}

/** Where a registry answers and how its repositories are named there (Docker Hub: registry-1.docker.io, `library/`). */
export const registryEndpoint = (ref: ImageRef): { host: string; path: string } => {
  if (ref.registry !== "docker.io") return { host: ref.registry, path: ref.name.slice(ref.registry.length + 1) }
  const path = ref.name.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, "")
  return { host: "registry-1.docker.io", path: path.includes("/") ? path : `library/${path}` }
}

const hostname = (host: string): string => (host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, ""))

const ipv4Number = (ip: string): number => ip.split(".").reduce((sum, part) => sum * 256 + Number(part), 0)

const inCidr = (ip: string, cidr: string): boolean => {
  const [base, bits] = cidr.split("/")
  if (isIP(ip) !== 4 || isIP(base ?? "") !== 4) return false
  const size = 32 - Number(bits ?? 32)
  return Math.floor(ipv4Number(ip) / 2 ** size) === Math.floor(ipv4Number(base as string) / 2 ** size)
}

type DaemonInfo = { RegistryConfig?: { InsecureRegistryCIDRs?: string[] | null; IndexConfigs?: Record<string, { Secure?: boolean }> | null } }

/**
 * http where Docker itself speaks http to the registry: loopback (which the daemon always treats as insecure), and
 * the daemon's insecure-registries (by name, or an IP literal in one of its CIDRs); https everywhere else.
 */
export const registryScheme = async (docker: DockerClient, host: string, signal?: AbortSignal): Promise<"http" | "https"> => {
  const name = hostname(host)
  if (name === "localhost" || name === "::1" || (isIP(name) === 4 && name.startsWith("127."))) return "http"
  const response = await docker.request("GET", "/info", { signal })
  if (!response.ok) {
    await response.body?.cancel()
    return "https"
  }
  const config = ((await response.json()) as DaemonInfo).RegistryConfig
  if (config?.IndexConfigs?.[host]?.Secure === false) return "http"
  return (config?.InsecureRegistryCIDRs ?? []).some((cidr) => inCidr(name, cidr)) ? "http" : "https"
}

export type RegistryTarget = { registry: string; base: string; path: string; credentials: RegistryCredentials | null; signal?: AbortSignal }

const secretsOf = (credentials: RegistryCredentials | null, token?: string): string[] =>
  [credentials?.password, credentials?.identitytoken, token].filter((secret): secret is string => Boolean(secret))

/** Two attempts at most: a registry that is down should be said soon, not after half a minute of backoff. */
const registryRetry = { ...defaultRetry, retries: 1 }

export const deniedHint = (registry: string, credentials: RegistryCredentials | null): string =>
  credentials
    ? `the credentials for ${registry} from your docker config were refused: log in again (docker login ${registry})`
    : `no credentials for ${registry} in ~/.docker/config.json: run 'docker login ${registry}' or add an "auths" entry`

const denied = (target: RegistryTarget, what: string): ToolError =>
  new ToolError("docker.push.denied", `${target.registry} refused ${target.credentials ? "the credentials" : "anonymous access"} for ${target.path}: ${what}`, {
    hint: deniedHint(target.registry, target.credentials),
    exitCode: 1,
  })

/** One call to the registry through the HTTP helper; unreachable names the registry and what to check. */
const call = async <T>(target: RegistryTarget, url: string, init: { method: string; headers: Record<string, string>; body?: string; secrets: string[] }, read: (response: Response) => Promise<T>): Promise<T> => {
  try {
    return await exchange(url, { ...init, signal: target.signal, retry: registryRetry, read })
  } catch (error) {
    if (!(error instanceof HttpUnreachable) || target.signal?.aborted) throw error
    throw new ToolError(error.code, `cannot reach the registry ${target.registry} (${error.reason})`, {
      hint: `check that ${target.registry} is up and reachable from here; a registry served over plain http must be listed in the daemon's insecure-registries`,
      exitCode: 1,
      cause: error,
    })
  }
}

const basic = (credentials: RegistryCredentials): string =>
  `Basic ${Buffer.from(`${credentials.username ?? ""}:${credentials.password ?? ""}`).toString("base64")}`

/** A token from the realm: with a password by GET and Basic auth, with an identity token as an OAuth2 refresh token. */
const bearerToken = async (target: RegistryTarget, challenge: Extract<Challenge, { scheme: "bearer" }>): Promise<string> => {
  const scope = challenge.scope ?? `repository:${target.path}:pull`
  const { credentials } = target
  const secrets = secretsOf(credentials)
  const read = async (response: Response): Promise<string> => {
    if (response.status === 401 || response.status === 403) throw denied(target, `the token service answered HTTP ${response.status}`)
    if (!response.ok) throw new ToolError("docker.push", `the token service of ${target.registry} answered HTTP ${response.status}: ${await errorText(response, 300)}`, { exitCode: 1 })
    const answer = (await response.json()) as { token?: string; access_token?: string }
    const token = answer.token ?? answer.access_token
    if (!token) throw new ToolError("docker.push", `the token service of ${target.registry} answered without a token`, { exitCode: 1 })
    return token
  }
  if (credentials?.identitytoken) {
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: credentials.identitytoken, service: challenge.service ?? "", scope, client_id: "mlproject" })
    return call(target, challenge.realm, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString(), secrets }, read)
  }
  const query = new URLSearchParams({ ...(challenge.service ? { service: challenge.service } : {}), scope })
  const headers: Record<string, string> = credentials ? { authorization: basic(credentials) } : {}
  return call(target, `${challenge.realm}${challenge.realm.includes("?") ? "&" : "?"}${query}`, { method: "GET", headers, secrets }, read)
}

/**
 * The digest the registry holds for `tag` (`Docker-Content-Digest`), or null when it has no such tag. Anonymous
 * first; a 401 is answered as its challenge says, once; refused credentials (or none where some are needed) are
 * `docker.push.denied`.
 */
export const manifestDigest = async (target: RegistryTarget, tag: string): Promise<string | null> => {
  const url = `${target.base}/v2/${target.path}/manifests/${encodeURIComponent(tag)}`
  const head = (authorization: string | null, token?: string) =>
    call(target, url, { method: "HEAD", headers: { accept: manifestAccept, ...(authorization ? { authorization } : {}) }, secrets: secretsOf(target.credentials, token) }, async (response) => {
      await response.body?.cancel()
      return response
    })
  let response = await head(null)
  if (response.status === 401) {
    const challenge = parseChallenge(response.headers.get("www-authenticate"))
    if (challenge?.scheme === "bearer") {
      const token = await bearerToken(target, challenge)
      response = await head(`Bearer ${token}`, token)
    } else if (challenge?.scheme === "basic" && target.credentials) {
      response = await head(basic(target.credentials))
    }
  }
  if (response.status === 401 || response.status === 403) throw denied(target, `HTTP ${response.status} on HEAD /v2/${target.path}/manifests/${tag}`)
  if (response.status === 404) return null
  if (!response.ok) throw new ToolError("docker.push", `asking ${target.registry} for ${target.path}:${tag} answered HTTP ${response.status}`, { exitCode: 1 })
  const digest = response.headers.get("docker-content-digest")
  if (!digest) throw new ToolError("docker.push", `${target.registry} has ${target.path}:${tag} but named no Docker-Content-Digest`, { exitCode: 1 })
  return digest
}
