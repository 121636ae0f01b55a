// Databricks tracking URIs (`databricks`, `databricks://<profile>`): credentials, REST config, and the child's variables.
import { homedir } from "node:os"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { readIni } from "../storage/ini.ts"
import { basicAuth, httpSettings, userAgent, type RestConfig } from "./rest-config.ts"

type Env = Readonly<Record<string, string | undefined>>

export type DatabricksCreds = { host: string; token?: string; username?: string; password?: string; insecure: boolean }

export const isDatabricksUri = (uri: string): boolean => uri === "databricks" || /^databricks:\/\//i.test(uri)

const authHint =
  "set DATABRICKS_HOST and DATABRICKS_TOKEN, or put host and token in a profile of ~/.databrickscfg (databricks://PROFILE or DATABRICKS_CONFIG_PROFILE picks it; DEFAULT otherwise)"

/** `databricks` → null; `databricks://<profile>` → the profile. */
export const databricksProfile = (uri: string): string | null => {
  if (!/^databricks:/i.test(uri)) return null
  const rest = uri.replace(/^databricks:(\/\/)?/i, "")
  if (rest === "" || rest === "/") return null
  if (rest.includes(":"))
    // MLflow's databricks://<scope>:<prefix> reads a notebook's secret scope, which exists only inside Databricks.
    throw new ToolError("tracking.databricks.unsupported", `Tracking URI '${uri}' names a Databricks secret scope, which only Databricks notebooks can read`, {
      hint: "use databricks://<profile> with a profile in ~/.databrickscfg, or MLFLOW_TRACKING_URI=databricks with DATABRICKS_HOST and DATABRICKS_TOKEN",
      exitCode: 2,
    })
  return decodeURIComponent(rest.replace(/\/+$/, ""))
}

const flag = (value: string | undefined): boolean => ["true", "1", "yes"].includes((value ?? "").trim().toLowerCase())

type Source = { host?: string; token?: string; username?: string; password?: string; insecure?: string }

// The legacy Databricks CLI's is_valid: a host and either a token or a username with a password.
const usable = (source: Source | undefined): source is Source & { host: string } =>
  Boolean(source?.host && (source.token || (source.username && source.password)))

const credsOf = (source: Source & { host: string }): DatabricksCreds => ({
  host: (/^https?:\/\//i.test(source.host) ? source.host : `https://${source.host}`).replace(/\/+$/, ""),
  ...(source.token ? { token: source.token } : { username: source.username, password: source.password }),
  insecure: flag(source.insecure),
})

/**
 * MLflow's order: a profile named in the URI is the only place looked at; otherwise DATABRICKS_HOST with
 * DATABRICKS_TOKEN (or DATABRICKS_USERNAME/PASSWORD), then the DATABRICKS_CONFIG_PROFILE (else DEFAULT)
 * profile of DATABRICKS_CONFIG_FILE (else ~/.databrickscfg).
 */
export const databricksCreds = (uri: string, env: Env): DatabricksCreds => {
  const profile = databricksProfile(uri)
  const file = env.DATABRICKS_CONFIG_FILE || join(env.HOME || homedir(), ".databrickscfg")
  const ini = readIni(file)
  if (profile !== null) {
    const section = ini?.[profile]
    if (usable(section)) return credsOf(section)
    throw new ToolError(
      "tracking.databricks.credentials",
      ini === null ? `Tracking URI '${uri}': ${file} does not exist` : `Tracking URI '${uri}': profile [${profile}] in ${file} has no host with a token (or username and password)`,
      { hint: `add to ${file}:\n  [${profile}]\n  host = https://<workspace>.cloud.databricks.com\n  token = <personal access token>`, exitCode: 2 },
    )
  }
  const fromEnv: Source = {
    host: env.DATABRICKS_HOST,
    token: env.DATABRICKS_TOKEN,
    username: env.DATABRICKS_USERNAME,
    password: env.DATABRICKS_PASSWORD,
    insecure: env.DATABRICKS_INSECURE,
  }
  if (usable(fromEnv)) return credsOf(fromEnv)
  const section = ini?.[env.DATABRICKS_CONFIG_PROFILE || "DEFAULT"]
  if (usable(section)) return credsOf(section)
  throw new ToolError("tracking.databricks.credentials", `Tracking URI '${uri}': no Databricks credentials found`, { hint: authHint, exitCode: 2 })
}

/** The same REST API as an MLflow server, at the workspace's host with its token. */
export const databricksRestConfig = (uri: string, env: Env): RestConfig => {
  const creds = databricksCreds(uri, env)
  const authorization = creds.token ? `Bearer ${creds.token}` : basicAuth(creds.username ?? "", creds.password ?? "")
  return {
    baseUrl: creds.host,
    label: `Databricks workspace ${creds.host}`,
    headers: { "user-agent": userAgent, authorization },
    ...(creds.insecure ? { tls: { rejectUnauthorized: false } } : {}),
    ...httpSettings(env),
    authenticated: true,
    authHint,
  }
}

/**
 * What the entry point gets for tracking, as MLflow's get_databricks_env_vars gives it: for Databricks
 * URIs `MLFLOW_TRACKING_URI=databricks` plus the resolved host and credentials (so only this profile is
 * exposed, not the whole ~/.databrickscfg); for any other URI just MLFLOW_TRACKING_URI.
 */
export const childTrackingVariables = (trackingUri: string, env: Env): Record<string, string> => {
  if (!isDatabricksUri(trackingUri)) return { MLFLOW_TRACKING_URI: trackingUri }
  const creds = databricksCreds(trackingUri, env)
  return {
    MLFLOW_TRACKING_URI: "databricks",
    DATABRICKS_HOST: creds.host,
    ...(creds.username ? { DATABRICKS_USERNAME: creds.username } : {}),
    ...(creds.password ? { DATABRICKS_PASSWORD: creds.password } : {}),
    ...(creds.token ? { DATABRICKS_TOKEN: creds.token } : {}),
    ...(creds.insecure ? { DATABRICKS_INSECURE: "true" } : {}),
  }
}
