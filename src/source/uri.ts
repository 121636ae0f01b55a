// Classifies a project URI: which fetcher handles it, its '#subdir', its display name, its GitHub coordinates.
import { join, resolve } from "node:path"
import { ToolError } from "../errors.ts"
import { isRemoteUri, normaliseSubdir, splitSubdir, toPath, unquote } from "./local.ts"
import { redactUrl, splitCredentials } from "../util/redact.ts"
import { authorityScheme, endsWithAnyCase, schemeEnd, startsWithAnyCase } from "../util/ascii.ts"
import { statIfPresent } from "../util/fs-atomic.ts"

export type Via = "local" | "local-git" | "git" | "github" | "archive" | "pack"

export type GithubRepo = { owner: string; repo: string; web: string; api: string }

export type Target = {
  via: Via
  /** The URI as given, quotes stripped (may hold credentials: never show it). */
  uri: string
  /** The URI without '#subdir' (may hold credentials). */
  base: string
  /** The normalised '#subdir' ("" for the project root). */
  subdir: string
  /** The URI without credentials: what events and `mlflow.source.name` show. */
  name: string
  /** Local sources (folders, local archives, bare repositories): the absolute path. */
  path?: string
  github?: GithubRepo
}

const gitSchemes = new Set(["http", "https", "ssh", "git", "git+ssh", "ssh+git"])
// http(s) is downloaded here; the object stores through the storage layer.
const archiveSchemes = new Set(["http", "https", "s3", "gs", "dbfs"])

const stat = statIfPresent

/** Git's own test for a repository folder (bare, or a `.git` directory). */
export const isGitDir = (path: string): boolean =>
  Boolean(stat(join(path, "HEAD"))?.isFile() && stat(join(path, "objects"))?.isDirectory() && stat(join(path, "refs"))?.isDirectory())

export const schemeOf = (base: string): string | null =>
  authorityScheme(base)?.toLowerCase() ?? (startsWithAnyCase(base, "dbfs:/") ? "dbfs" : null)

const pathPart = (base: string): string => {
  if (!schemeOf(base)) return base
  try {
    return new URL(base).pathname
  } catch {
    return base.replace(/[?#].*$/, "")
  }
}

export const isArchiveUri = (base: string): boolean => endsWithAnyCase(pathPart(base), ".zip", ".tar", ".tar.gz", ".tgz")

const refuse = (message: string, hint: string): never => {
  throw new ToolError("source.uri.refused", message, { hint })
}

const hasControl = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20 || text.charCodeAt(i) === 0x7f) return true
  return false
}

/** Argument injection (`-…`) and git's remote-helper transports (`ext::`, `fd::`) are never passed on. */
const checkSafe = (base: string, name: string) => {
  if (base.startsWith("-")) refuse(`project URI '${name}' starts with '-'`, "give a path (./-name) or a URL")
  if (schemeEnd(base) !== -1 && base[schemeEnd(base) + 1] === ":") {
    refuse(`project URI '${name}' uses a git remote-helper transport ('${base.slice(0, base.indexOf("::"))}::'), which can run commands`, "use an https://, ssh://, git:// or file:// URL")
  }
  if (hasControl(base)) refuse(`project URI '${name}' contains control characters`, "check the URI for stray newlines or tabs")
}

const hostOf = (url: string | undefined): string | null => {
  if (!url) return null
  try {
    return new URL(url).host.toLowerCase()
  } catch {
    return null
  }
}

/** owner/repo of a github.com URI, or of a GitHub Enterprise URI when GITHUB_API_URL/GITHUB_SERVER_URL name its host. */
export const githubRepoOf = (base: string, env: Record<string, string | undefined>): GithubRepo | null => {
  const scp = /^[^@/\s]+@([^:/\s]+):\/?([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/.exec(base)
  let host: string | undefined
  let owner: string | undefined
  let repo: string | undefined
  if (scp) [, host, owner, repo] = scp
  else if (schemeOf(base) && gitSchemes.has(schemeOf(base) as string)) {
    try {
      const url = new URL(splitCredentials(base).url)
      // An ssh or git:// port says nothing about the web host; an http(s) port does (GitHub Enterprise on :8443).
      host = (url.protocol.startsWith("http") ? url.host : url.hostname).toLowerCase()
      ;[, owner, repo] = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url.pathname) ?? []
    } catch {
      return null
    }
  }
  if (!host || !owner || !repo) return null
  if (host === "github.com" || host === "www.github.com") {
    const api = hostOf(env.GITHUB_API_URL) === "api.github.com" ? (env.GITHUB_API_URL as string) : "https://api.github.com"
    return { owner, repo, web: "https://github.com", api }
  }
  const apiHost = hostOf(env.GITHUB_API_URL)
  if (!apiHost) return null
  const enterprise = host === apiHost || `api.${host}` === apiHost || host === hostOf(env.GITHUB_SERVER_URL)
  if (!enterprise) return null
  const web = env.GITHUB_SERVER_URL ?? `https://${host}`
  return { owner, repo, web: web.replace(/\/+$/, ""), api: (env.GITHUB_API_URL as string).replace(/\/+$/, "") }
}

const target = (via: Via, uri: string, base: string, subdir: string | null, extra: Partial<Target> = {}): Target => ({
  via,
  uri,
  base,
  subdir: subdir === null ? "" : normaliseSubdir(subdir),
  name: redactUrl(uri),
  ...extra,
})

/** Decides which fetcher handles a URI. Reads the file system (is it a folder, a repository?) but not the network. */
export const classify = (raw: string, cwd: string, hasVersion: boolean): Target => {
  const uri = unquote(raw)
  const { base, subdir } = splitSubdir(uri)
  const name = redactUrl(uri)
  checkSafe(base, name)
  const scheme = schemeOf(base)
  const local = base.startsWith("file:") || !isRemoteUri(base, cwd)
  const localPath = local ? toPath(base, cwd) : null
  // A plain path is recorded absolute (mlflow.source.name), as MLflow records a folder: `./x.zip` means nothing later.
  const localName = localPath && !base.startsWith("file:") ? redactUrl(subdir === null ? localPath : `${localPath}#${subdir}`) : undefined
  // A pack is a local file: it exists to run where nothing can be fetched.
  if (endsWithAnyCase(pathPart(base), ".mlpack") && localPath && !stat(localPath)?.isDirectory()) {
    return target("pack", uri, base, subdir, { path: localPath, ...(localName ? { name: localName } : {}) })
  }
  // A folder that happens to be called `x.tar` is still a folder.
  if (isArchiveUri(base) && !(localPath && stat(localPath)?.isDirectory())) {
    if (localPath) return target("archive", uri, base, subdir, { path: localPath, ...(localName ? { name: localName } : {}) })
    if (scheme && archiveSchemes.has(scheme)) return target("archive", uri, base, subdir)
    throw new ToolError("source.unsupported", `cannot download the archive '${name}': '${scheme}://' is not supported`, {
      hint: "use a local path, or an http(s)://, s3://, gs:// or dbfs:/ URL",
    })
  }
  if (localPath) {
    const path = localPath
    if (stat(path)?.isDirectory() && isGitDir(path)) return target("git", uri, base, subdir, { path, ...(localName ? { name: localName } : {}) })
    return target(hasVersion ? "local-git" : "local", uri, base, subdir, { path: resolve(path) })
  }
  if (scheme && !gitSchemes.has(scheme)) {
    throw new ToolError("source.unsupported", `cannot fetch '${name}': '${scheme}://' is not a Git or archive URL`, {
      hint: "use a folder, a Git URL (https://, ssh://, git://, git@host:path, file://) or an archive (.zip, .tar, .tar.gz, .tgz)",
    })
  }
  return target("git", uri, base, subdir)
}
