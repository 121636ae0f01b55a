// Image references and registry credentials from ~/.docker/config.json (auths, credHelpers, credsStore) for X-Registry-Auth.
import { existsSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { run } from "./exec.ts"

type Env = Record<string, string | undefined>

export type ImageRef = {
  /** `docker.io` for Docker Hub, else the host[:port] that leads the name. */
  registry: string
  /** The name without tag or digest, as given (`ubuntu`, `127.0.0.1:5000/team/base`). */
  name: string
  /** A tag, or a digest (`sha256:…`); `latest` when neither is given. */
  reference: string
}

export type RegistryCredentials = { username?: string; password?: string; identitytoken?: string; serveraddress: string }

type DockerConfig = {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>
  credHelpers?: Record<string, string>
  credsStore?: string
}

const hubAddress = "https://index.docker.io/v1/"
const hubHosts = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"])

export const parseImageRef = (image: string): ImageRef => {
  const at = image.indexOf("@")
  const [path, digest] = at === -1 ? [image, undefined] : [image.slice(0, at), image.slice(at + 1)]
  const slash = path.lastIndexOf("/")
  const colon = path.lastIndexOf(":")
  const tagged = colon > slash
  const name = tagged ? path.slice(0, colon) : path
  const first = name.split("/")[0] ?? ""
  const hasRegistry = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
  return {
    registry: hasRegistry ? first : "docker.io",
    name,
    reference: digest ?? (tagged ? path.slice(colon + 1) : "latest"),
  }
}

const hostOf = (key: string): string => {
  const host = key.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "")
  return hubHosts.has(host) ? "docker.io" : host
}

export const dockerConfigDir = (env: Env): string => env.DOCKER_CONFIG || join(env.HOME ?? homedir(), ".docker")

const readConfig = (env: Env): DockerConfig => {
  const file = join(dockerConfigDir(env), "config.json")
  if (!existsSync(file)) return {}
  try {
    return JSON.parse(readFileSync(file, "utf8")) as DockerConfig
  } catch (error) {
    throw new ToolError("docker.config", `${file} is not valid JSON: ${(error as Error).message}`, { cause: error })
  }
}

const entryFor = <T>(record: Record<string, T> | undefined, registry: string): T | undefined =>
  Object.entries(record ?? {}).find(([key]) => hostOf(key) === registry)?.[1]

/** Asks `docker-credential-<helper> get` (the docker CLI's helper protocol: server URL on stdin, JSON on stdout). */
const fromHelper = async (helper: string, serverAddress: string, env: Env, signal?: AbortSignal): Promise<RegistryCredentials | null> => {
  const program = Bun.which(`docker-credential-${helper}`, { PATH: env.PATH ?? "" })
  if (!program) return null
  // A helper that waits (a locked keychain, a prompt no one answers) ends after 30 s, or at once on an interrupt.
  const limit = AbortSignal.timeout(30_000)
  const result = await run([program, "get"], { env, stdin: { text: serverAddress }, signal: signal ? AbortSignal.any([limit, signal]) : limit, abortSignal: "SIGKILL" })
  if (signal?.aborted) throw signal.reason
  const { stdout, stderr } = result
  const code = result.code ?? result.signal
  const output = stdout.trim() || stderr.trim()
  if (code !== 0) {
    if (/credentials not found/i.test(output)) return null
    throw new ToolError("docker.credentials", `docker-credential-${helper} get failed for ${serverAddress} (exit ${code}): ${stderr.trim().slice(0, 300)}`, {
      hint: `check the credential helper '${helper}' named in ${join(dockerConfigDir(env), "config.json")}`,
      exitCode: 1,
    })
  }
  const answer = JSON.parse(stdout) as { Username?: string; Secret?: string }
  if (answer.Username === "<token>") return { identitytoken: answer.Secret, serveraddress: serverAddress }
  return { username: answer.Username, password: answer.Secret, serveraddress: serverAddress }
}

/** Credentials for a registry: its credential helper (or the global credsStore) first, then `auths`; null when none. */
export const registryCredentials = async (registry: string, env: Env, signal?: AbortSignal): Promise<RegistryCredentials | null> => {
  const config = readConfig(env)
  const serverAddress = registry === "docker.io" ? hubAddress : registry
  const helper = entryFor(config.credHelpers, registry) ?? config.credsStore
  if (helper) {
    const found = await fromHelper(helper, serverAddress, env, signal)
    if (found) return found
  }
  const entry = entryFor(config.auths, registry)
  if (!entry) return null
  if (entry.identitytoken) return { identitytoken: entry.identitytoken, serveraddress: serverAddress }
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8")
    const colon = decoded.indexOf(":")
    if (colon === -1) return null
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: serverAddress }
  }
  if (entry.username) return { username: entry.username, password: entry.password ?? "", serveraddress: serverAddress }
  return null
}

/**
 * The header the Engine API expects on pull and push: URL-safe base64 JSON *with* padding (Go's base64.URLEncoding
 * rejects unpadded input, and the daemon then silently drops the credentials); `{}` for anonymous access.
 */
export const registryAuthHeaders = (credentials: RegistryCredentials | null): Record<string, string> => ({
  "X-Registry-Auth": Buffer.from(JSON.stringify(credentials ?? {}))
    .toString("base64")
    .replaceAll("+", "-")
    .replaceAll("/", "_"),
})
