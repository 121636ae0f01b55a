// OAuth machine-to-machine tokens from a workspace's /oidc/v1/token, cached in this process until shortly before they expire.
import { sha256Hex } from "../util/random.ts"
import { ToolError } from "../errors.ts"
import { HttpUnreachable, exchange } from "../util/http.ts"
import { redactText } from "../util/redact.ts"

type Client = { clientId: string; clientSecret: string }

type Cached = { token: string; refreshAt: number }

// Keyed by host, client and a digest of the secret: a rotated secret never reuses the old one's token.
const cache = new Map<string, Cached>()
const pending = new Map<string, Promise<Cached>>()

const keyOf = (host: string, client: Client): string =>
  `${host}\n${client.clientId}\n${sha256Hex(client.clientSecret)}`

/** When to fetch again: a minute before expiry, or at 90% of the lifetime for a short-lived token. */
export const refreshAt = (now: number, expiresInS: number): number => now + expiresInS * 1000 - Math.min(60_000, expiresInS * 100)

const fetchToken = async (host: string, client: Client, options: { insecure: boolean; signal?: AbortSignal }): Promise<Cached> => {
  const url = `${host}/oidc/v1/token`
  const secrets = [client.clientSecret]
  const refused = (detail: string) =>
    new ToolError("databricks.auth", `Databricks workspace ${host}: the token endpoint /oidc/v1/token refused OAuth client '${client.clientId}' (${redactText(detail, secrets)})`, {
      hint: "check DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (or client_id and client_secret in the profile): the service principal's OAuth secret may be wrong, expired or of another workspace",
      exitCode: 2,
    })
  try {
    return await exchange(url, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`, "utf8").toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials&scope=all-apis",
      // Asking for a token twice is harmless.
      idempotent: true,
      signal: options.signal,
      secrets,
      ...(options.insecure ? { tls: { rejectUnauthorized: false } } : {}),
      read: async (response) => {
        const text = await response.text()
        let body: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {}
        try {
          body = JSON.parse(text) ?? {}
        } catch {
          // Reported below with the status.
        }
        if (response.ok && typeof body.access_token === "string") {
          const expiresIn = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 3600
          return { token: body.access_token, refreshAt: refreshAt(Date.now(), expiresIn) }
        }
        const reason = [body.error, body.error_description].filter((part) => typeof part === "string").join(": ") || text.trim().split("\n")[0]?.slice(0, 200)
        if (response.status === 400 || response.status === 401 || response.status === 403) throw refused(`HTTP ${response.status}${reason ? `: ${reason}` : ""}`)
        throw new ToolError("databricks.api", `Databricks workspace ${host}: /oidc/v1/token answered HTTP ${response.status}${reason ? `: ${redactText(reason, secrets)}` : ""} for OAuth client '${client.clientId}'`, {
          hint: "is DATABRICKS_HOST the workspace URL (https://<workspace>.cloud.databricks.com)?",
          exitCode: 1,
        })
      },
    })
  } catch (error) {
    if (error instanceof HttpUnreachable)
      throw new ToolError("databricks.unreachable", `Databricks workspace ${host}: cannot reach /oidc/v1/token (${error.reason})`, {
        hint: "check DATABRICKS_HOST and your network connection",
        exitCode: 1,
        cause: error,
      })
    throw error
  }
}

/** A valid access token for the client; concurrent callers share one request. */
export const oauthToken = async (host: string, client: Client, options: { insecure: boolean; signal?: AbortSignal; fresh?: boolean }): Promise<string> => {
  const key = keyOf(host, client)
  if (options.fresh) cache.delete(key)
  const cached = cache.get(key)
  if (cached && Date.now() < cached.refreshAt) return cached.token
  let waiting = pending.get(key)
  if (!waiting) {
    waiting = fetchToken(host, client, options).finally(() => pending.delete(key))
    pending.set(key, waiting)
  }
  const fetched = await waiting
  cache.set(key, fetched)
  return fetched.token
}
