// Databricks workspace credentials (PAT, username/password, OAuth M2M) in MLflow's order, shared by tracking, dbfs:/ and the backend.
import { homedir } from "../util/os-info.ts"
import { join } from "node:path"
import type { ErrorCode } from "../error-codes.ts"
import { ToolError } from "../errors.ts"
import { readIni } from "../storage/ini.ts"

type Env = Readonly<Record<string, string | undefined>>

export type Credential =
  | { kind: "token"; token: string }
  | { kind: "basic"; username: string; password: string }
  | { kind: "oauth"; clientId: string; clientSecret: string }

export type Workspace = {
  /** `https://<workspace>`, no trailing slash. */
  host: string
  credential: Credential
  insecure: boolean
  /** Where the credential came from, for messages: "DATABRICKS_TOKEN from the environment", "profile [dev] of ~/.databrickscfg". */
  source: string
}

/** A profile named by the caller (`databricks://<profile>`, `dbfs://<profile>@databricks/…`) is the only place looked at. */
export type WorkspaceFrom = {
  profile: string | null
  /** What needs the workspace, as messages start: "Tracking URI 'databricks'", "dbfs:/x". */
  subject: string
  /** The code of a missing-credentials error (callers keep their own: tracking.databricks.credentials, storage.credentials). */
  code?: ErrorCode
}

type Source = {
  host?: string
  token?: string
  username?: string
  password?: string
  client_id?: string
  client_secret?: string
  insecure?: string
}

const flag = (value: string | undefined): boolean => ["true", "1", "yes"].includes((value ?? "").trim().toLowerCase())

// The legacy Databricks CLI's is_valid (a host and a token, or a username with a password), plus an OAuth client.
const credentialOf = (source: Source | undefined): Credential | null => {
  if (!source?.host) return null
  if (source.token) return { kind: "token", token: source.token }
  if (source.username && source.password) return { kind: "basic", username: source.username, password: source.password }
  if (source.client_id && source.client_secret) return { kind: "oauth", clientId: source.client_id, clientSecret: source.client_secret }
  return null
}

const normalHost = (host: string): string => (/^https?:\/\//i.test(host) ? host : `https://${host}`).replace(/\/+$/, "")

const workspaceOf = (source: Source & { host: string }, credential: Credential, where: string): Workspace => ({
  host: normalHost(source.host),
  credential,
  insecure: flag(source.insecure),
  source: where,
})

const configFile = (env: Env): string => env.DATABRICKS_CONFIG_FILE || join(env.HOME || homedir(), ".databrickscfg")

export const credentialsHint = (file: string): string =>
  `set DATABRICKS_HOST and DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET for an OAuth service principal), or put host and token (or client_id and client_secret) in a profile of ${file} (databricks://PROFILE or DATABRICKS_CONFIG_PROFILE picks it; DEFAULT otherwise)`

/**
 * MLflow's order: a profile named by the caller is the only place looked at; otherwise DATABRICKS_HOST with
 * DATABRICKS_TOKEN (or DATABRICKS_USERNAME/PASSWORD, or DATABRICKS_CLIENT_ID/SECRET), then the
 * DATABRICKS_CONFIG_PROFILE (else DEFAULT) profile of DATABRICKS_CONFIG_FILE (else ~/.databrickscfg).
 */
export const resolveWorkspace = (from: WorkspaceFrom, env: Env): Workspace => {
  const code = from.code ?? "databricks.credentials"
  const file = configFile(env)
  const ini = readIni(file)
  if (from.profile !== null) {
    const section = ini?.[from.profile]
    const credential = credentialOf(section)
    if (section?.host && credential) return workspaceOf({ ...section, host: section.host }, credential, `profile [${from.profile}] of ${file}`)
    throw new ToolError(
      code,
      ini === null
        ? `${from.subject}: ${file} does not exist`
        : `${from.subject}: profile [${from.profile}] in ${file} has no host with a token (or username and password, or client_id and client_secret)`,
      { hint: `add to ${file}:\n  [${from.profile}]\n  host = https://<workspace>.cloud.databricks.com\n  token = <personal access token>`, exitCode: 2 },
    )
  }
  const fromEnv: Source = {
    host: env.DATABRICKS_HOST,
    token: env.DATABRICKS_TOKEN,
    username: env.DATABRICKS_USERNAME,
    password: env.DATABRICKS_PASSWORD,
    client_id: env.DATABRICKS_CLIENT_ID,
    client_secret: env.DATABRICKS_CLIENT_SECRET,
    insecure: env.DATABRICKS_INSECURE,
  }
  const envCredential = credentialOf(fromEnv)
  if (fromEnv.host && envCredential) {
    const names = { token: "DATABRICKS_TOKEN", basic: "DATABRICKS_USERNAME and DATABRICKS_PASSWORD", oauth: "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET" }
    return workspaceOf({ ...fromEnv, host: fromEnv.host }, envCredential, `${names[envCredential.kind]} from the environment`)
  }
  const profile = env.DATABRICKS_CONFIG_PROFILE || "DEFAULT"
  const section = ini?.[profile]
  const credential = credentialOf(section)
  if (section?.host && credential) return workspaceOf({ ...section, host: section.host }, credential, `profile [${profile}] of ${file}`)
  throw new ToolError(code, `${from.subject}: no Databricks credentials found`, { hint: credentialsHint(file), exitCode: 2 })
}

/** Which credential a refusal concerns, for messages: never the secret itself. */
export const credentialLabel = (workspace: Workspace): string => {
  const { credential } = workspace
  if (credential.kind === "oauth") return `OAuth client '${credential.clientId}' (${workspace.source})`
  if (credential.kind === "basic") return `user '${credential.username}' (${workspace.source})`
  return `the personal access token (${workspace.source})`
}

/** The secrets of a workspace's credential, for redaction. */
export const workspaceSecrets = (workspace: Workspace): string[] => {
  const { credential } = workspace
  if (credential.kind === "oauth") return [credential.clientSecret]
  if (credential.kind === "basic") return [credential.password]
  return [credential.token]
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`

/**
 * The Authorization header value; an OAuth token is fetched from the workspace and cached until shortly before it
 * expires. `fresh` drops a cached token first (after the workspace refused it).
 */
export const authorization = async (workspace: Workspace, options: { signal?: AbortSignal; fresh?: boolean } = {}): Promise<string> => {
  const { credential } = workspace
  if (credential.kind === "token") return `Bearer ${credential.token}`
  if (credential.kind === "basic") return basic(credential.username, credential.password)
  // The token exchange (and the HTTP helper) loads only here: a run that merely passes credentials on never needs it.
  const { oauthToken } = await import("./oauth.ts")
  return `Bearer ${await oauthToken(workspace.host, credential, { insecure: workspace.insecure, ...options })}`
}

/** What a child process needs to reach the same workspace the way the Databricks SDK and MLflow read it. */
export const workspaceVariables = (workspace: Workspace): Record<string, string> => {
  const { credential } = workspace
  return {
    DATABRICKS_HOST: workspace.host,
    ...(credential.kind === "basic" ? { DATABRICKS_USERNAME: credential.username, DATABRICKS_PASSWORD: credential.password } : {}),
    ...(credential.kind === "token" ? { DATABRICKS_TOKEN: credential.token } : {}),
    ...(credential.kind === "oauth" ? { DATABRICKS_CLIENT_ID: credential.clientId, DATABRICKS_CLIENT_SECRET: credential.clientSecret } : {}),
    ...(workspace.insecure ? { DATABRICKS_INSECURE: "true" } : {}),
  }
}
