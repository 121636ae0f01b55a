// Credentials in URIs and text: split them off a URL, redact them for display, scrub them from any text.

export type Credentials = { user: string; password: string | null }

/** `scheme://[userinfo@]host…` → where the authority starts and ends (the userinfo ends at its last '@'). */
const authority = (url: string): { start: number; end: number; at: number } | null => {
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(url)
  if (!scheme) return null
  const start = scheme[0].length
  const rest = url.slice(start)
  const stop = rest.search(/[/?#]/)
  const end = stop === -1 ? url.length : start + stop
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

/** The URL without its userinfo, and the credentials that were in it (percent-decoded). */
export const splitCredentials = (url: string): { url: string; credentials: Credentials | null } => {
  const parts = authority(url)
  if (!parts || parts.at === -1) return { url, credentials: null }
  const userinfo = url.slice(parts.start, parts.at)
  const colon = userinfo.indexOf(":")
  const user = decode(colon === -1 ? userinfo : userinfo.slice(0, colon))
  const password = colon === -1 ? null : decode(userinfo.slice(colon + 1))
  return { url: url.slice(0, parts.start) + url.slice(parts.at + 1), credentials: { user, password } }
}

// Query parameters that carry secrets in signed or tokenised download URLs (S3, GCS, codeload, SAS).
const secretParam = /^(.*token.*|.*signature.*|sig|.*secret.*|.*password.*|.*credential.*|x-amz-security-token|key|apikey|api_key|auth)$/i

/**
 * What a user may see of a URI: no userinfo, secret query values masked. A `#subdir` is kept.
 * (It cuts at the *last* '@' of the authority, so a raw '@' in a password cannot leak.)
 */
export const displayUri = (uri: string): string => {
  const { url } = splitCredentials(uri)
  const hash = url.indexOf("#")
  const base = hash === -1 ? url : url.slice(0, hash)
  const fragment = hash === -1 ? "" : url.slice(hash)
  const query = base.indexOf("?")
  if (query === -1 || !/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(base)) return url
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

/** The literal strings that must never be shown: the credentials and their encoded forms. */
export const secretsOf = (...credentials: Array<Credentials | string | null | undefined>): string[] => {
  const values = new Set<string>()
  const add = (value: string | null | undefined) => {
    if (!value || value.length < 3) return
    values.add(value)
    values.add(encodeURIComponent(value))
  }
  for (const c of credentials) {
    if (typeof c === "string") add(c)
    else if (c) {
      add(c.password)
      // A user name alone is often the token itself (https://TOKEN@github.com/…).
      if (c.password === null || c.password === "") add(c.user)
      add(Buffer.from(`${c.user}:${c.password ?? ""}`).toString("base64"))
    }
  }
  return [...values].sort((a, b) => b.length - a.length)
}

/** Text safe to show: URL userinfo removed and every known secret replaced by `***`. */
export const scrub = (text: string, secrets: string[]): string => {
  let out = redactText(text)
  for (const secret of secrets) out = out.split(secret).join("***")
  return out
}

/** The display form of a URL for messages, events and tracking tags. */
export const redactUrl = displayUri

/**
 * Redacts every URL-embedded credential found anywhere in a piece of text (git's stderr, SDK errors). The userinfo
 * runs to the last '@' before the path, so a password holding '@' is removed whole.
 */
export const redactText = (text: string): string => text.replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/\s]*@/g, "$1")

const secretName = /SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|CONNECTION_STRING|ACCESS_KEY|PRIVATE|_KEY$|^DATABRICKS_CLIENT/i

/** Environment variables for display (dry runs, debugging): credential-like names masked, URLs without userinfo. */
export const publicVariables = (variables: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, secretName.test(name) ? "***" : redactText(value)]))
