// The Git fetcher: resolve the version with one ls-remote, fetch exactly that commit (shallow) into the cache, check it out into the run's folder.
import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { copyTree, entriesWithPrefix, ensureEntry, keyFor, projectsDir, publish, reapTemps, tempBeside, type CopyPlan, type Entry } from "./cache.ts"
import { acquireLock } from "../util/lock.ts"
import { hasGit } from "./git-info.ts"
import { git, gitError, gitSession, hardFailure, versionError, warmTransport, type GitSession } from "./git-run.ts"
import { reporter } from "./progress.ts"
import { redactUrl } from "../util/redact.ts"
import { githubRepoOf, type Target } from "./uri.ts"
import { sourceFrom, type Fetcher } from "./working.ts"

/** What a version names: a commit (when known without fetching), the ref it came from, or an abbreviation. */
export type Resolved = { commit: string | null; ref?: string; branch?: string; abbrev?: string }

const fullSha = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i
const shortSha = /^[0-9a-f]{4,63}$/i


export const requireGit = (env: Record<string, string | undefined>, name: string, github = false): void => {
  if (hasGit(env)) return
  throw new ToolError("source.git.missing", `cannot fetch ${name}: git is not installed (not found on PATH)`, {
    hint: github ? "install git, or fetch the GitHub tarball instead: --fetcher tarball" : "install git (GitHub repositories also work without it)",
  })
}

/** The cache folder of one repository: its URL without credentials, scheme and host lower-cased, no trailing .git or '/'. */
export const repoCacheDir = (env: Record<string, string | undefined>, url: string): string => {
  const shown = redactUrl(url).replace(/\/+$/, "").replace(/\.git$/i, "")
  const normal = shown.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/]*)/i, (origin) => origin.toLowerCase())
  return join(projectsDir(env), "git", keyFor(normal))
}

const lsRemote = async (s: GitSession, patterns: string[], symref: boolean) => {
  const result = await git(s, ["ls-remote", ...(symref ? ["--symref"] : []), "--", s.url, ...patterns], { network: true })
  if (!result.ok) throw gitError(s, "ls-remote", result.stderr)
  const refs = new Map<string, string>()
  let head: string | undefined
  for (const line of result.stdout.split("\n")) {
    const [left, right] = line.split("\t")
    if (!left || !right) continue
    if (left.startsWith("ref: ") && right === "HEAD") head = left.slice(5)
    else refs.set(right, left)
  }
  return { refs, head }
}

/** One ls-remote at most: the remote's HEAD, or the version as tag, branch or full ref name; a full sha needs none. */
export const resolveVersion = async (s: GitSession, version: string | undefined): Promise<Resolved> => {
  if (version === undefined) {
    const { refs, head } = await lsRemote(s, ["HEAD"], true)
    const commit = refs.get("HEAD")
    if (!commit) throw new ToolError("source.git.head", `Failed to find HEAD branch of git repo ${s.name}: the repository is empty or has no default branch`, {
      hint: "give a branch, tag or commit with --version",
    })
    return { commit, ...(head ? { ref: head } : {}) }
  }
  if (fullSha.test(version)) return { commit: version.toLowerCase() }
  if (version.startsWith("-") || /[\s\x00-\x1f]/.test(version)) throw versionError(s, version)
  const exact = version.startsWith("refs/") ? [version] : []
  const { refs } = await lsRemote(s, [`refs/tags/${version}`, `refs/tags/${version}^{}`, `refs/heads/${version}`, ...exact], false)
  // Git's own order when a name is ambiguous: a tag before a branch.
  const tag = refs.get(`refs/tags/${version}^{}`) ?? refs.get(`refs/tags/${version}`)
  if (tag) return { commit: tag, ref: `refs/tags/${version}` }
  const branch = refs.get(`refs/heads/${version}`)
  if (branch) return { commit: branch, ref: `refs/heads/${version}`, branch: version }
  const named = refs.get(version)
  if (named) return { commit: named, ref: version }
  if (shortSha.test(version)) return { commit: null, abbrev: version.toLowerCase() }
  throw versionError(s, version)
}

const configValue = (value: string) => `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`

const revParse = async (s: GitSession, tree: string, rev: string): Promise<string | null> => {
  const result = await git(s, ["rev-parse", "--verify", "--quiet", "--end-of-options", rev], { cwd: tree })
  return result.ok ? result.stdout.trim() : null
}

/** Brings the wanted commit into `tree`: shallow by sha, else shallow by ref name, else all branches and tags. */
const fetchObjects = async (s: GitSession, tree: string, resolved: Resolved, version: string | undefined): Promise<string> => {
  const shallow = ["fetch", "--progress", "--no-tags", "--no-recurse-submodules", "--depth", "1", "--", s.url]
  if (resolved.commit) {
    const direct = await git(s, [...shallow, resolved.commit], { cwd: tree, network: true })
    if (direct.ok) return resolved.commit
    const hard = hardFailure(s, direct.stderr)
    if (hard) throw hard
    // Protocol v0 servers refuse a sha unless uploadpack.allowReachableSHA1InWant is on; a ref name always works.
    if (resolved.ref) {
      const byRef = await git(s, [...shallow, resolved.ref], { cwd: tree, network: true })
      const fetched = byRef.ok ? await revParse(s, tree, "FETCH_HEAD^{commit}") : null
      if (fetched) return fetched
    }
  }
  s.report.progress("fetching history")
  const full = await git(s, ["fetch", "--progress", "--no-recurse-submodules", "--", s.url, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"], {
    cwd: tree,
    network: true,
  })
  if (!full.ok) throw gitError(s, "fetch", full.stderr)
  const want = resolved.commit ?? resolved.abbrev ?? ""
  const found = await git(s, ["rev-parse", "--verify", "--end-of-options", `${want}^{commit}`], { cwd: tree })
  if (!found.ok) throw versionError(s, version ?? want, /ambiguous/.test(found.stderr) ? found.stderr.split("\n")[0] : "")
  return found.stdout.trim()
}

const submodules = async (s: GitSession, tree: string) => {
  s.report.progress("submodules")
  const update = ["submodule", "update", "--init", "--recursive", "--progress", "--jobs", "4"]
  const shallow = await git(s, [...update, "--depth", "1"], { cwd: tree, network: true })
  if (shallow.ok) return
  const hard = hardFailure(s, shallow.stderr)
  if (hard) throw hard
  // A pinned submodule commit the server will not hand out by sha: fetch that submodule's history.
  const full = await git(s, update, { cwd: tree, network: true })
  if (!full.ok) throw gitError(s, "submodule update", full.stderr)
}

/**
 * Fetches the version into `tmp` and returns the commit. The entry is `tmp/git`, the `.git` folder of a checkout with
 * no files checked out: each run checks the commit out straight into its own folder (gitCheckout), so the tree is
 * written once. A commit with submodules gets `tmp/tree` instead, a checkout with its submodules (a `.git` included),
 * copied for each run. `origin` is the remote recorded in that `.git` (relative submodule URLs resolve against it).
 */
export const buildEntry = async (s: GitSession, tmp: string, resolved: Resolved, version: string | undefined, origin = s.url): Promise<string> => {
  const tree = join(tmp, "tree")
  warmTransport(s)
  const init = await git(s, ["init", "-q", "--template=", "--", tree])
  if (!init.ok) throw gitError(s, "init", init.stderr)
  appendFileSync(join(tree, ".git", "config"), `[remote "origin"]\n\turl = ${configValue(origin)}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n`)
  s.report.progress("fetching")
  const commit = await fetchObjects(s, tree, resolved, version)
  const gitmodules = await git(s, ["cat-file", "-e", "--end-of-options", `${commit}:.gitmodules`], { cwd: tree })
  if (!gitmodules.ok) {
    renameSync(join(tree, ".git"), join(tmp, "git"))
    rmSync(tree, { recursive: true, force: true })
    return commit
  }
  s.report.progress("checking out")
  const checkout = await git(s, ["checkout", "-q", "--progress", ...(resolved.branch ? ["-B", resolved.branch] : ["--detach"]), commit, "--"], { cwd: tree })
  if (!checkout.ok) throw gitError(s, "checkout", checkout.stderr)
  await submodules(s, tree)
  return commit
}

/**
 * How a run's folder is made from a `git/` entry: its `.git` copied (objects, shallow list, config; a few files), then
 * the commit checked out into the folder, on the run's own branch or detached. Pooled per entry and branch.
 */
const gitCheckout = (s: GitSession, entry: Entry, branch: string | undefined): CopyPlan => ({
  from: `${join(entry.dir, "git")}${branch ? `#${branch}` : ""}`,
  make: async (root) => {
    mkdirSync(root)
    await copyTree(join(entry.dir, "git"), join(root, ".git"))
    s.report.progress("checking out")
    // -f: the copied .git has no index, so every file of the commit is written.
    const checkout = await git(s, ["checkout", "-q", "-f", "--progress", ...(branch ? ["-B", branch] : ["--detach"]), entry.meta.id, "--"], { cwd: root })
    if (!checkout.ok) throw gitError(s, "checkout", checkout.stderr)
  },
})

/** The plan for a run's folder: a checkout from the cached objects, or (a `tree/` entry: submodules) a copy of that tree. */
export const checkoutPlan = (s: GitSession, entry: Entry, branch: string | undefined): CopyPlan | undefined =>
  existsSync(join(entry.dir, "git")) ? gitCheckout(s, entry, branch) : undefined

const meta = (commit: string, s: GitSession) => ({ kind: "git" as const, id: commit, root: "", source: s.name, created: new Date().toISOString() })

/** The cache entry for a resolved version: found by sha (or unique abbreviation) or built under a lock. */
export const entryFor = async (
  s: GitSession,
  repoDir: string,
  resolved: Resolved,
  version: string | undefined,
  options: { signal?: AbortSignal; origin?: string } = {},
): Promise<{ entry: Entry; cached: boolean }> => {
  const onWait = () => s.report.progress("waiting for another run fetching the same commit")
  if (resolved.commit) {
    const commit = resolved.commit
    return ensureEntry(join(repoDir, commit), async (tmp) => meta(await buildEntry(s, tmp, resolved, version, options.origin), s), {
      signal: options.signal,
      onWait,
    })
  }
  const abbrev = resolved.abbrev ?? ""
  const known = () => entriesWithPrefix(repoDir, abbrev)
  if (known().length === 1) return { entry: known()[0] as Entry, cached: true }
  mkdirSync(repoDir, { recursive: true })
  const lock = await acquireLock(join(repoDir, `abbrev-${abbrev}.lock`), { signal: options.signal, onWait: () => onWait(), what: "source" })
  try {
    if (known().length === 1) return { entry: known()[0] as Entry, cached: true }
    reapTemps(join(repoDir, `abbrev-${abbrev}`))
    const tmp = tempBeside(join(repoDir, `abbrev-${abbrev}`))
    try {
      const commit = await buildEntry(s, tmp, resolved, version, options.origin)
      return { entry: publish(tmp, join(repoDir, commit), meta(commit, s)), cached: false }
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true })
      throw error
    }
  } finally {
    lock.release()
  }
}

/** Git URLs (https, http, ssh, scp-like, git://) and bare repositories on this machine. */
export const fetchGit: Fetcher = async (target: Target, request) => {
  const env = request.env ?? process.env
  const github = target.path === undefined && githubRepoOf(target.base, env) !== null
  requireGit(env, target.name, github)
  const report = reporter(request.emit, target.name, "git")
  const remote = target.path ?? target.base
  const s = gitSession(remote, { env, signal: request.signal, report, local: target.path !== undefined, github })
  report.progress("resolving")
  const resolved = await resolveVersion(s, request.version)
  const { entry, cached } = await entryFor(s, repoCacheDir(env, remote), resolved, request.version, { signal: request.signal })
  const git = { commit: entry.meta.id, repo_url: redactUrl(target.base), ...(resolved.branch ? { branch: resolved.branch } : {}) }
  const source = await sourceFrom(entry, target, target.subdir, "git", git, env, target.name, "", checkoutPlan(s, entry, resolved.branch))
  report.done(entry.meta.id, cached)
  return source
}
