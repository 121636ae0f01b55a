// How credentials from a Git URL (or GITHUB_TOKEN) reach git: through its environment only, never argv or a stored config.
import { secretsOf, splitCredentials } from "../util/redact.ts"

export type GitAuth = {
  /** The remote as git gets it in argv and as it is stored in `.git/config`: no userinfo (ssh keeps its user name). */
  url: string
  /** `git -c` pairs for GIT_CONFIG_* variables, known without asking git. */
  config: Array<[string, string]>
  /** A user name alone over http(s): what it means depends on the user's credential helpers (see `userOnlyConfig`). */
  userOnly: { origin: string; user: string } | null
  secrets: string[]
}

const sshSchemes = /^(ssh|git\+ssh|ssh\+git):\/\//i

/** GitHub, GitLab and similar tokens, or any long opaque string: never a plain user name. */
const looksLikeToken = (user: string): boolean => /^(gh[pousr]_|github_pat_|glpat-|x-access-token$)/.test(user) || /^[A-Za-z0-9_.~-]{30,}$/.test(user)

const basicHeader = (user: string, password: string) => `Authorization: Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`

/** An http.<url>.extraHeader: git sends it with every request to that origin (submodules there too), and only there. */
const header = (origin: string, user: string, password: string): [string, string] => [`http.${origin}/.extraHeader`, basicHeader(user, password)]

/**
 * Credentials in `base` (or GITHUB_TOKEN/GH_TOKEN for GitHub over https) as git configuration passed through the
 * environment. A `user:password@` becomes a Basic extraHeader: no credential helper sees it, so none stores it.
 * A token-like user name alone is sent as `token:` the same way. Any other user name alone is decided once git's
 * helpers are known. Over ssh the user name stays in the URL (ssh needs it; it is no secret) and a password is
 * dropped (git never uses one). No userinfo is ever left in the URL for http(s) or git://.
 */
export const gitAuth = (base: string, env: Record<string, string | undefined>, github: boolean): GitAuth => {
  const { url: bare, credentials } = splitCredentials(base)
  const ssh = sshSchemes.test(base)
  const url = ssh && credentials ? bare.replace("://", `://${encodeURIComponent(credentials.user)}@`) : bare
  const origin = /^https?:\/\/[^/]+/i.exec(bare)?.[0] ?? null
  const token = github && /^https:/i.test(bare) ? (env.GITHUB_TOKEN ?? env.GH_TOKEN) : undefined
  const secrets = secretsOf(ssh ? null : credentials, token)
  const config: Array<[string, string]> = []
  let userOnly: GitAuth["userOnly"] = null
  if (origin && credentials && !ssh) {
    if (credentials.password !== null) config.push(header(origin, credentials.user, credentials.password))
    else if (looksLikeToken(credentials.user)) config.push(header(origin, credentials.user, ""))
    else userOnly = { origin, user: credentials.user }
  } else if (origin && token) {
    config.push(header(origin, "x-access-token", token))
  }
  return { url, config, userOnly, secrets }
}

/** Whether git's configuration (`git config --get-regexp` lines) names a credential helper that serves `origin`. */
export const hasHelperFor = (configLines: string[], origin: string): boolean => {
  let found = false
  for (const line of configLines) {
    const space = line.indexOf(" ")
    const key = (space === -1 ? line : line.slice(0, space)).toLowerCase()
    const value = space === -1 ? "" : line.slice(space + 1).trim()
    if (!key.startsWith("credential.") || !key.endsWith(".helper")) continue
    const scope = key.slice("credential.".length, -".helper".length)
    if (scope !== "" && !sameHost(scope, origin)) continue
    // An empty value clears the helpers listed before it.
    found = value !== ""
  }
  return found
}

const sameHost = (scope: string, origin: string): boolean => {
  try {
    const a = new URL(scope.includes("://") ? scope : `https://${scope}`)
    const b = new URL(origin)
    return a.hostname === b.hostname.toLowerCase() && (a.port === "" || a.port === b.port)
  } catch {
    return false
  }
}

/**
 * A user name alone (`https://NAME@host/…`): with a credential helper for the host, git asks it for NAME's password
 * (the name given as `credential.<origin>.username`); with none, nothing could supply a password, so NAME is a
 * token, sent as `NAME:` like a long one. Either way the name stays out of argv and `.git/config`.
 */
export const userOnlyConfig = (userOnly: NonNullable<GitAuth["userOnly"]>, helper: boolean): Array<[string, string]> =>
  helper ? [[`credential.${userOnly.origin}.username`, userOnly.user]] : [header(userOnly.origin, userOnly.user, "")]
