// Kubeconfig exec credential plugins (client.authentication.k8s.io v1 and v1beta1): run, parse, cache until expiry.
import { ToolError, isToolError } from "../errors.ts"
import type { TlsOptions } from "../util/http.ts"
import { redactText, secretsOf } from "../util/redact.ts"
import { run } from "../util/exec.ts"
import type { Env, KubeCredentials } from "./config.ts"

/** The `exec` stanza of a kubeconfig user, its command already resolved against the kubeconfig's folder. */
export type ExecConfig = {
  apiVersion?: string
  command: string
  args?: string[]
  env?: Array<{ name: string; value: string }> | null
  installHint?: string
  interactiveMode?: string
  provideClusterInfo?: boolean
}

export type ExecContext = {
  user: string
  file: string
  env: Env
  cluster: { server: string; tls: TlsOptions }
  /** Longest a plugin may run (default 60 s): it may not prompt, so a plugin that takes longer is stuck. */
  timeoutMs?: number
  /** The clock, for tests of expiry. */
  now?: () => number
}

const versions = new Set(["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"])

// A token this close to its expiry is refreshed before use, so that it cannot lapse on the way to the server.
const expiryMarginMs = 10_000

const pluginError = (message: string, exitCode = 1, hint?: string): ToolError => new ToolError("kube.exec", message, { exitCode, hint })

/** The ExecCredential the plugin reads from KUBERNETES_EXEC_INFO: never interactive, since we have no terminal to lend. */
const execInfo = (config: ExecConfig, apiVersion: string, cluster: ExecContext["cluster"]): string => {
  const spec: Record<string, unknown> = { interactive: false }
  if (config.provideClusterInfo) {
    spec.cluster = {
      server: cluster.server,
      ...(cluster.tls.ca ? { "certificate-authority-data": Buffer.from(cluster.tls.ca).toString("base64") } : {}),
      ...(cluster.tls.rejectUnauthorized === false ? { "insecure-skip-tls-verify": true } : {}),
      ...(cluster.tls.serverName ? { "tls-server-name": cluster.tls.serverName } : {}),
    }
  }
  return JSON.stringify({ apiVersion, kind: "ExecCredential", spec })
}

/** The last lines of a plugin's stderr, for a message: what kubectl would have shown on the terminal. */
const tail = (stderr: string, secrets: string[]): string => {
  const lines = redactText(stderr, secrets).trim().split("\n").slice(-10).join("\n")
  return lines === "" ? "" : `: ${lines}`
}

type Parsed = { credentials: KubeCredentials; expiresAt: number | null }

const parseOutput = (stdout: string, apiVersion: string, what: string): Parsed => {
  let data: { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> }
  try {
    data = JSON.parse(stdout)
  } catch {
    throw pluginError(`${what} printed no ExecCredential JSON`)
  }
  if (data?.kind !== "ExecCredential" || data.apiVersion !== apiVersion) {
    throw pluginError(`${what} printed ${String(data?.kind)} ${String(data?.apiVersion)}; expected ExecCredential ${apiVersion}`)
  }
  const status = data.status ?? {}
  const expiry = typeof status.expirationTimestamp === "string" ? Date.parse(status.expirationTimestamp) : null
  if (expiry !== null && Number.isNaN(expiry)) throw pluginError(`${what} printed an expirationTimestamp that is not RFC 3339`)
  const token = typeof status.token === "string" && status.token !== "" ? status.token : undefined
  const cert = typeof status.clientCertificateData === "string" && status.clientCertificateData !== "" ? status.clientCertificateData : undefined
  const key = typeof status.clientKeyData === "string" && status.clientKeyData !== "" ? status.clientKeyData : undefined
  if ((cert === undefined) !== (key === undefined)) throw pluginError(`${what} printed clientCertificateData without clientKeyData, or the reverse`)
  if (token === undefined && cert === undefined) throw pluginError(`${what} printed neither status.token nor status.clientCertificateData`)
  return {
    credentials: {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
      secrets: [token, key].filter((value): value is string => value !== undefined),
    },
    expiresAt: expiry,
  }
}

/** One user's plugin: credentials() runs it when nothing valid is cached, callers at the same moment share one run. */
export const execPlugin = (config: ExecConfig, context: ExecContext): { credentials(): Promise<KubeCredentials>; invalidate(): void } => {
  const apiVersion = config.apiVersion ?? ""
  const what = `exec plugin '${config.command}' of user '${context.user}' (${context.file})`
  if (!versions.has(apiVersion)) {
    throw new ToolError("kube.config", `${what} asks for apiVersion '${apiVersion}'; supported: ${[...versions].join(", ")}`, { exitCode: 2 })
  }
  const mode = config.interactiveMode ?? (apiVersion.endsWith("/v1") ? undefined : "IfAvailable")
  if (mode === undefined) throw new ToolError("kube.config", `${what}: interactiveMode must be set for ${apiVersion}`, { exitCode: 2, hint: "set it to Never or IfAvailable" })
  if (!["Never", "IfAvailable", "Always"].includes(mode)) throw new ToolError("kube.config", `${what}: interactiveMode '${mode}' is not Never, IfAvailable or Always`, { exitCode: 2 })
  const now = context.now ?? Date.now
  const pluginEnv = config.env ?? []
  const envSecrets = secretsOf(...pluginEnv.map((entry) => String(entry.value ?? "")))
  let cached: Parsed | null = null
  let pending: Promise<Parsed> | null = null

  const runOnce = async (): Promise<Parsed> => {
    if (mode === "Always") throw pluginError(`${what} needs a terminal (interactiveMode: Always), and mlproject never has one to lend`, 2, "log in with the plugin in a terminal first, or set interactiveMode: IfAvailable")
    const timeoutMs = context.timeoutMs ?? 60_000
    const timeout = AbortSignal.timeout(timeoutMs)
    const env: Env = { ...context.env, ...Object.fromEntries(pluginEnv.map((entry) => [entry.name, String(entry.value ?? "")])), KUBERNETES_EXEC_INFO: execInfo(config, apiVersion, context.cluster) }
    let result
    try {
      result = await run([config.command, ...(config.args ?? []).map(String)], { env, signal: timeout, killAfterMs: 2000, stdin: "ignore" })
    } catch (error) {
      if (isToolError(error) && error.code === "exec.not_found") {
        throw pluginError(`${what} was not found${config.installHint ? `\n${config.installHint.trim()}` : ""}`, 2, "install the plugin or put it on PATH")
      }
      throw error
    }
    if (timeout.aborted) throw pluginError(`${what} did not finish within ${timeoutMs / 1000} s${tail(result.stderr, envSecrets)}`)
    if (result.code !== 0) {
      throw pluginError(`${what} failed (${result.code === null ? `signal ${result.signal}` : `exit code ${result.code}`})${tail(result.stderr, envSecrets)}`)
    }
    return parseOutput(result.stdout, apiVersion, what)
  }

  const fresh = (entry: Parsed | null): entry is Parsed => entry !== null && (entry.expiresAt === null || entry.expiresAt - expiryMarginMs > now())

  return {
    async credentials() {
      if (fresh(cached)) return cached.credentials
      pending ??= runOnce().finally(() => {
        pending = null
      })
      cached = await pending
      return cached.credentials
    },
    invalidate() {
      cached = null
    },
  }
}
