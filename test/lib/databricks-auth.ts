// Authentication of the loopback Databricks workspace: personal access tokens, OAuth M2M (/oidc/v1/token), run tokens.
import { randomBytes } from "node:crypto"
import { ApiError, bodyText, reply, type WorkspaceRequest } from "./databricks-http.ts"

export type Auth = {
  /** The first accepted personal access token. */
  token: string
  /** Throws the service's 401 (no credential) or 403 (a token it does not accept) unless `request` carries a live token. */
  check(request: Request): void
  /** POST /oidc/v1/token: the client credentials grant. */
  issue(request: Request, record: WorkspaceRequest): Promise<Response>
  /** A token accepted until `revoke` (a run's driver token). */
  grant(): string
  revoke(token: string): void
}

const fresh = (prefix: string) => `${prefix}${randomBytes(16).toString("hex")}`

export const auth = (options: { tokens?: string[]; oauthClients?: Record<string, string>; oauthTokenSeconds?: number }): Auth => {
  const pats = new Set(options.tokens?.length ? options.tokens : [fresh("dapi")])
  const live = new Map<string, number>() // token → expiry (ms since epoch); Infinity for run tokens
  const clients = options.oauthClients ?? {}
  const seconds = options.oauthTokenSeconds ?? 3600
  const accepted = (token: string) => pats.has(token) || (live.get(token) ?? 0) > Date.now()
  return {
    token: [...pats][0] ?? "",
    check(request) {
      const header = request.headers.get("authorization") ?? ""
      const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1]
      if (!bearer) throw new ApiError(401, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for this API.")
      // The real service answers a bad or expired token with a numeric error_code.
      if (!accepted(bearer)) throw new ApiError(403, 403, "Invalid access token.")
    },
    async issue(request, record) {
      const form = new URLSearchParams(await bodyText(request, record))
      record.json = Object.fromEntries([...form].map(([k, v]) => [k, k === "client_secret" ? "***" : v]))
      const basic = /^Basic\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1]
      const [id, secret] = basic ? splitOnce(Buffer.from(basic, "base64").toString()) : [form.get("client_id") ?? "", form.get("client_secret") ?? ""]
      if (form.get("grant_type") !== "client_credentials") {
        return reply({ error: "unsupported_grant_type", error_description: `grant_type ${form.get("grant_type") ?? "(none)"} is not supported` }, 400)
      }
      if (!id || clients[decodeURIComponent(id)] === undefined || clients[decodeURIComponent(id)] !== decodeURIComponent(secret)) {
        return reply({ error: "invalid_client", error_description: "Client authentication failed" }, 401)
      }
      const token = fresh("eyJoauth")
      live.set(token, Date.now() + seconds * 1000)
      return reply({ access_token: token, token_type: "Bearer", expires_in: seconds, scope: form.get("scope") ?? "all-apis" })
    },
    grant() {
      const token = fresh("dkea")
      live.set(token, Number.POSITIVE_INFINITY)
      return token
    },
    revoke(token) {
      live.delete(token)
    },
  }
}

const splitOnce = (pair: string): [string, string] => {
  const at = pair.indexOf(":")
  return at < 0 ? [pair, ""] : [pair.slice(0, at), pair.slice(at + 1)]
}
