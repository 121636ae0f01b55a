// The one redaction helper: credentials split off URLs, URLs and free text made safe to show, secrets in every encoding.
import { authorityScheme, indexOfAny } from "./ascii.ts"

export type Credentials = { user: string; password: string | null; raw?: string }

const sshUrl = /^(?:ssh|git\+ssh|ssh\+git):\/\//i

/** `scheme://[userinfo@]host…` → where the authority starts and ends (the userinfo ends at its last '@'). */
const authority = (url: string): { start: number; end: number; at: number } | null => {
  const scheme = authorityScheme(url)
  if (scheme === null) return null
  const start = scheme.length + 3
  const stop = indexOfAny(url, "/?#", start)
  const end = stop === -1 ? url.length : stop
  const at = url.slice(start, end).lastIndexOf("@")
  return { start, end, at: at === -1 ? -1 : start + at }
}

const decode = (value: string): string => {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/** The URL without its userinfo, and the credentials that were in it (percent-decoded; `raw` as written). */
export const splitCredentials = (url: string): { url: string; credentials: Credentials | null } => {
  const parts = authority(url)
  if (!parts || parts.at === -1) return { url, credentials: null }
  const userinfo = url.slice(parts.start, parts.at)
  const colon = userinfo.indexOf(":")
  const user = decode(colon === -1 ? userinfo : userinfo.slice(0, colon))
  const password = colon === -1 ? null : decode(userinfo.slice(colon + 1))
  return { url: url.slice(0, parts.start) + url.slice(parts.at + 1), credentials: { user, password, raw: userinfo } }
}

// Query parameters that carry secrets in signed or tokenised URLs (S3, GCS, Azure SAS, codeload, API keys).
const secretParam = /token|signature|secret|passw(or)?d|credential|auth|session|api[-_]?key|access[-_]?key|private|^(sig|key|code)$/i

/**
 * What a user may see of a URI, in messages, events, tags and cache keys: no userinfo (an ssh user name stays), secret query values masked
 * (`***`), everything else as written (a `#subdir` kept). It cuts at the *last* '@' of the authority, so a raw '@'
 * in a password cannot leak.
 */
export const redactUrl = (uri: string): string => {
  const split = splitCredentials(uri)
  // An ssh user name is part of the address (`ssh://git@host/…`, as MLflow records it), not a secret; a password is.
  const user = split.credentials && sshUrl.test(uri) ? (split.credentials.raw ?? "").split(":")[0] : ""
  const url = user ? split.url.replace("://", `://${user}@`) : split.url
  const hash = url.indexOf("#")
  const base = hash === -1 ? url : url.slice(0, hash)
  const fragment = hash === -1 ? "" : url.slice(hash)
  const query = base.indexOf("?")
  if (query === -1 || authorityScheme(base) === null) return url
  const params = base
    .slice(query + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=")
      const key = decode(eq === -1 ? pair : pair.slice(0, eq))
      return eq !== -1 && secretParam.test(key) ? `${pair.slice(0, eq)}=***` : pair
    })
  return `${base.slice(0, query)}?${params.join("&")}${fragment}`
}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

/** How a server or a tool may write a secret: raw, percent-encoded (either hex case, form style), JSON-escaped, base64. */
const encodings = (value: string): string[] => {
  const encoded = encodeURIComponent(value)
  const lower = encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase())
  const json = JSON.stringify(value).slice(1, -1)
  return [value, encoded, lower, encoded.replace(/%20/g, "+"), json, base64(value)]
}

/**
 * The literal strings that must never be shown: each credential raw, percent-encoded (as written in the URL too),
 * JSON-escaped, base64, and as the base64 of `user:password` that a Basic header carries. Strings under 3 characters are
 * left out: replacing them would garble every message while hiding nothing a guess would not find.
 */
export const secretsOf = (...credentials: Array<Credentials | string | null | undefined>): string[] => {
  const values = new Set<string>()
  const add = (value: string | null | undefined) => {
    if (!value || value.length < 3) return
    for (const form of encodings(value)) values.add(form)
  }
  for (const c of credentials) {
    if (typeof c === "string") add(c)
    else if (c) {
      add(c.password)
      // A user name alone is often the token itself (https://TOKEN@github.com/…).
      if (c.password === null || c.password === "") add(c.user)
      if (c.raw) add(c.password === null ? c.raw : c.password === "" ? c.raw.slice(0, c.raw.indexOf(":")) : c.raw.slice(c.raw.indexOf(":") + 1))
      add(base64(`${c.user}:${c.password ?? ""}`))
    }
  }
  return [...values].sort((a, b) => b.length - a.length)
}

/** The secrets an Authorization header carries: its value, its credential, and for Basic the decoded user and password. */
export const headerSecrets = (headers: Record<string, string> | undefined): string[] => {
  const value = Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === "authorization")?.[1]
  if (!value) return []
  const credential = value.replace(/^\S+\s+/, "")
  const basic = /^basic\s+(\S+)$/i.exec(value)?.[1]
  const decoded = basic ? Buffer.from(basic, "base64").toString("utf8") : null
  const colon = decoded?.indexOf(":") ?? -1
  const user = decoded && colon !== -1 ? { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : null
  return secretsOf(value, credential, user)
}

// A URL's userinfo runs to the last '@' before the path, so a password holding '@' is removed whole.
const urlUserinfo = /([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/\s]*@/g
const urlInText = /[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi
// An echoed request header, in the forms servers and tools write them: `Authorization: Basic …`, `"authorization":"Bearer …"`,
// `'Authorization': '…'`, `authorization=…`. The scheme word stays, the credential goes.
const authorizationHeader = /((?:proxy-)?authorization["']?\s*[:=]\s*["']?)((?:basic|bearer|token|digest|negotiate|ntlm)\s+)?[^\s"',;}\]]+/gi

/**
 * Text safe to show (git's stderr, a server's error body, an SDK's message): URL userinfo removed, secret query
 * values masked, echoed Authorization headers masked, and every known secret replaced by `***`.
 */
export const redactText = (text: string, secrets: string[] = []): string => {
  let out = text.replace(urlUserinfo, "$1")
  for (const secret of secrets) out = out.split(secret).join("***")
  return out.replace(urlInText, (url) => redactUrl(url)).replace(authorizationHeader, (_, name: string, scheme = "") => `${name}${scheme}***`)
}

const secretName = /SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|CONNECTION_STRING|ACCESS_KEY|PRIVATE|_KEY$|^DATABRICKS_CLIENT/i

/** Environment variables for display (dry runs, debugging): credential-like names masked, URLs without userinfo. */
export const publicVariables = (variables: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, secretName.test(name) ? "***" : redactText(value)]))
