// Databricks tracking URIs (`databricks`, `databricks://<profile>`): credentials, REST config, and the child's variables.
import { authorization, resolveWorkspace, workspaceSecrets, workspaceVariables, type Workspace } from "../databricks/auth.ts"
import { ToolError } from "../errors.ts"
import { basicAuth, httpSettings, userAgent, type RestConfig } from "./rest-config.ts"
import { isDatabricksUri } from "./tracking-uri.ts"

type Env = Readonly<Record<string, string | undefined>>

export type DatabricksCreds = { host: string; token?: string; username?: string; password?: string; clientId?: string; clientSecret?: string; insecure: boolean }

export { isDatabricksUri }

const authHint =
  "set DATABRICKS_HOST and DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET), or put host and token (or client_id and client_secret) in a profile of ~/.databrickscfg (databricks://PROFILE or DATABRICKS_CONFIG_PROFILE picks it; DEFAULT otherwise)"

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

/** The workspace a Databricks tracking URI names, resolved as MLflow does (src/databricks/auth.ts). */
const workspaceOfUri = (uri: string, env: Env): Workspace =>
  resolveWorkspace({ profile: databricksProfile(uri), subject: `Tracking URI '${uri}'`, code: "tracking.databricks.credentials" }, env)

/**
 * MLflow's order: a profile named in the URI is the only place looked at; otherwise DATABRICKS_HOST with
 * DATABRICKS_TOKEN (or DATABRICKS_USERNAME/PASSWORD, or DATABRICKS_CLIENT_ID/SECRET), then the
 * DATABRICKS_CONFIG_PROFILE (else DEFAULT) profile of DATABRICKS_CONFIG_FILE (else ~/.databrickscfg).
 */
export const databricksCreds = (uri: string, env: Env): DatabricksCreds => {
  const { host, credential, insecure } = workspaceOfUri(uri, env)
  if (credential.kind === "token") return { host, token: credential.token, insecure }
  if (credential.kind === "basic") return { host, username: credential.username, password: credential.password, insecure }
  return { host, clientId: credential.clientId, clientSecret: credential.clientSecret, insecure }
}

/** The same REST API as an MLflow server, at the workspace's host with its token. */
export const databricksRestConfig = (uri: string, env: Env): RestConfig => {
  const workspace = workspaceOfUri(uri, env)
  const { credential } = workspace
  // An OAuth token expires: it is asked for before each call (cached until shortly before its expiry).
  const fixed = credential.kind === "token" ? `Bearer ${credential.token}` : credential.kind === "basic" ? basicAuth(credential.username, credential.password) : null
  return {
    baseUrl: workspace.host,
    label: `Databricks workspace ${workspace.host}`,
    headers: { "user-agent": userAgent, ...(fixed ? { authorization: fixed } : {}) },
    ...(fixed ? {} : { authorize: (fresh?: boolean) => authorization(workspace, { fresh }), secrets: workspaceSecrets(workspace) }),
    ...(workspace.insecure ? { tls: { rejectUnauthorized: false } } : {}),
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
  // For OAuth, DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET, as the Databricks SDK reads them.
  return { MLFLOW_TRACKING_URI: "databricks", ...workspaceVariables(workspaceOfUri(trackingUri, env)) }
}
