// How to reach an MLflow tracking server: base URL, auth, TLS, timeout and retry settings from MLflow's variables.
import { readFileSync } from "node:fs"
import { ToolError } from "../errors.ts"
import type { TlsOptions } from "../util/http.ts"
import { httpLimits, type HttpLimits } from "../util/http-limits.ts"
import { timerLimitText, timerMs } from "../util/ranges.ts"
import { version } from "../version.ts"

type Env = Readonly<Record<string, string | undefined>>

export type RestConfig = {
  /** Scheme, host, port and path prefix; no credentials, no trailing slash. */
  baseUrl: string
  /** What the server is, for messages: "MLflow tracking server http://…" or "Databricks workspace https://…". */
  label: string
  /** Authorization and User-Agent. Never printed. */
  headers: Record<string, string>
  /** A credential that expires (a Databricks OAuth token): the Authorization value for each call; `fresh` after a 401. */
  authorize?: (fresh?: boolean) => Promise<string>
  /** Secrets behind `authorize` (an OAuth client secret) that no message may show. */
  secrets?: string[]
  tls?: TlsOptions
  /** MLFLOW_HTTP_REQUEST_TIMEOUT: the most one attempt may take, its answer read in full. */
  timeoutMs: number
  /** Idle, low-speed and size limits of the answers (MLPROJECT_HTTP_*). */
  limits: HttpLimits
  /** Retries after the first attempt (MLFLOW_HTTP_REQUEST_MAX_RETRIES). */
  maxRetries: number
  backoffFactorMs: number
  jitterMs: number
  respectRetryAfter: boolean
  /** Whether a credential was sent, so a 401 can say "refused" rather than "missing". */
  authenticated: boolean
  /** The variables that hold this server's credentials, for 401/403 hints. */
  authHint: string
}

export const mlflowAuthHint =
  "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic auth) or MLFLOW_TRACKING_TOKEN (bearer token) for this server"

const invalid = (message: string, hint?: string) => new ToolError("tracking.config.invalid", message, { hint, exitCode: 2 })

/** MLflow's boolean variables accept true/false/1/0 in any case and reject anything else. */
export const envFlag = (env: Env, name: string, fallback: boolean): boolean => {
  const raw = env[name]
  if (raw === undefined || raw === "") return fallback
  const value = raw.toLowerCase()
  if (value === "true" || value === "1") return true
  if (value === "false" || value === "0") return false
  throw invalid(`${name}=${raw}: expected one of true, false, 1, 0`)
}

// Fractions are accepted where MLflow takes integers (a superset): tests and impatient users want 0.5 s.
const envNumber = (env: Env, name: string, fallback: number, check: (n: number) => string | null): number => {
  const raw = env[name]
  if (raw === undefined || raw.trim() === "") return fallback
  const value = Number(raw)
  const problem = Number.isFinite(value) ? check(value) : "expected a number"
  if (problem) throw invalid(`${name}=${raw}: ${problem}`)
  return value
}

/** Timeout and retry settings shared by MLflow servers and Databricks (mlflow/environment_variables.py). */
export const httpSettings = (env: Env) => {
  // MLflow refuses max_retries >= 10 and backoff_factor >= 120 (its _MLFLOW_HTTP_REQUEST_*_LIMIT defaults).
  const maxRetries = envNumber(env, "MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7, (n) =>
    Number.isInteger(n) && n >= 0 && n < 10 ? null : "expected a whole number from 0 to 9",
  )
  const factor = envNumber(env, "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2, (n) => (n >= 0 && n < 120 ? null : "expected seconds from 0 to under 120"))
  // Both become timers, which past setTimeout's range would fire at once.
  const jitter = envNumber(env, "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1, (n) => (timerMs(n) !== null ? null : `expected seconds from 0 to ${timerLimitText}`))
  const timeout = envNumber(env, "MLFLOW_HTTP_REQUEST_TIMEOUT", 120, (n) => (n > 0 && timerMs(n) !== null ? null : `expected seconds, more than 0 and at most ${timerLimitText}`))
  return {
    maxRetries,
    backoffFactorMs: factor * 1000,
    jitterMs: jitter * 1000,
    timeoutMs: timeout * 1000,
    limits: httpLimits(env),
    respectRetryAfter: envFlag(env, "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", true),
  }
}

export const userAgent = `mlproject/${version}`

export const basicAuth = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`

const readPem = (variable: string, path: string): string => {
  try {
    return readFileSync(path, "utf8")
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    throw invalid(`${variable}=${path}: cannot read the file (${code})`, `point ${variable} at a PEM file`)
  }
}

/** MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH (CA bundle), MLFLOW_TRACKING_CLIENT_CERT_PATH (cert and key in one PEM). */
const tlsOptions = (env: Env): TlsOptions | undefined => {
  const insecure = envFlag(env, "MLFLOW_TRACKING_INSECURE_TLS", false)
  const caPath = env.MLFLOW_TRACKING_SERVER_CERT_PATH || undefined
  const clientPath = env.MLFLOW_TRACKING_CLIENT_CERT_PATH || undefined
  if (insecure && caPath)
    throw invalid(
      "MLFLOW_TRACKING_INSECURE_TLS=true and MLFLOW_TRACKING_SERVER_CERT_PATH are both set: skipping verification and verifying against a CA contradict each other",
      "unset one of them",
    )
  if (!insecure && !caPath && !clientPath) return undefined
  const client = clientPath ? readPem("MLFLOW_TRACKING_CLIENT_CERT_PATH", clientPath) : undefined
  return {
    ...(insecure ? { rejectUnauthorized: false } : {}),
    ...(caPath ? { ca: readPem("MLFLOW_TRACKING_SERVER_CERT_PATH", caPath) } : {}),
    // Like requests' `cert=path`, one file holds the certificate and its key; TLS picks each block from it.
    ...(client ? { cert: client, key: client } : {}),
  }
}

/** The config for an `http(s)://` tracking URI; `user:password@` in the URI counts as basic auth when no variable is set. */
export const restConfigFromUri = (uri: string, env: Env): RestConfig => {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw invalid(`Tracking URI '${uri.replace(/\/\/[^/@]*@/, "//")}' is not a valid URL`)
  }
  const fromUri = url.username ? { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : null
  url.username = ""
  url.password = ""
  url.search = ""
  url.hash = ""
  const baseUrl = url.toString().replace(/\/+$/, "")
  const { MLFLOW_TRACKING_USERNAME: user, MLFLOW_TRACKING_PASSWORD: password, MLFLOW_TRACKING_TOKEN: token } = env
  // MLflow's order (rest_utils.http_request): username and password first, then the token.
  const authorization =
    user && password ? basicAuth(user, password) : token ? `Bearer ${token}` : fromUri ? basicAuth(fromUri.user, fromUri.password) : undefined
  return {
    baseUrl,
    label: `MLflow tracking server ${baseUrl}`,
    headers: { "user-agent": userAgent, ...(authorization ? { authorization } : {}) },
    tls: tlsOptions(env),
    ...httpSettings(env),
    authenticated: authorization !== undefined,
    authHint: mlflowAuthHint,
  }
}
