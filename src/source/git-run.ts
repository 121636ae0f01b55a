// Runs the system git for a fetch: a sealed environment (allowed protocols, credentials as config variables), progress, redacted errors.
import { ToolError } from "../errors.ts"
import { start, tryOutput } from "../util/exec.ts"
import { formatSeconds, httpLimits, limitVariables } from "../util/http-limits.ts"
import { timerLimitText, timerMs } from "../util/ranges.ts"
import { parseGitProgress, type Reporter } from "./progress.ts"
import { redactText, redactUrl } from "../util/redact.ts"
import { gitAuth, hasHelperFor, userOnlyConfig, type GitAuth } from "./git-credentials.ts"
import { learnDestination, sshDestination, sshFailure } from "./git-ssh.ts"

export type GitSession = {
  /** The remote as passed to git: credentials removed (they travel in `env`). */
  url: string
  /** The remote as shown to people. */
  name: string
  env: Record<string, string | undefined>
  /** A user name alone over http(s), settled on the first network command (it depends on git's credential helpers). */
  userOnly: GitAuth["userOnly"]
  secrets: string[]
  signal?: AbortSignal
  report: Reporter
}

export type GitResult = { ok: boolean; stdout: string; stderr: string }

// Variables that would point our git commands at someone else's repository (e.g. when run from a git hook).
const repoVariables = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX"]

/** Protocols git may use, for the project and every submodule. `file` only when the user named a local repository. */
const allowedProtocols = (env: Record<string, string | undefined>, allowFile: boolean): string => {
  const ours = ["git", "http", "https", "ssh", ...(allowFile ? ["file"] : [])]
  const theirs = env.GIT_ALLOW_PROTOCOL?.split(":")
  // A stricter policy the user set stays in force.
  return (theirs ? ours.filter((p) => theirs.includes(p)) : ours).join(":")
}

/** GIT_CONFIG_KEY_n/VALUE_n after the ones already in `env`: git reads them like `-c`, but they never show in argv (`ps`). */
const configVariables = (env: Record<string, string | undefined>, config: Array<[string, string]>): Record<string, string> => {
  const first = Number(env.GIT_CONFIG_COUNT ?? 0) || 0
  const variables: Record<string, string> = { GIT_CONFIG_COUNT: String(first + config.length) }
  config.forEach(([key, value], i) => {
    variables[`GIT_CONFIG_KEY_${first + i}`] = key
    variables[`GIT_CONFIG_VALUE_${first + i}`] = value
  })
  return variables
}

/**
 * Everything a git fetch of `base` needs. Credentials from the URL (or GITHUB_TOKEN for GitHub) travel in GIT_CONFIG_*
 * variables (see git-credentials.ts): never in argv (`ps`, /proc/PID/cmdline), never in a `.git/config` we write.
 */
export const gitSession = (
  base: string,
  options: { env: Record<string, string | undefined>; signal?: AbortSignal; report: Reporter; local?: boolean; github?: boolean },
): GitSession => {
  const auth = gitAuth(base, options.env, options.github ?? false)
  const env: Record<string, string | undefined> = { ...options.env }
  for (const name of repoVariables) delete env[name]
  const config: Array<[string, string]> = [
    ["init.defaultBranch", "main"],
    ["advice.detachedHead", "false"],
    ["core.hooksPath", "/dev/null"],
    ["core.fsmonitor", "false"],
    ["gc.auto", "0"],
    ["maintenance.auto", "false"],
    ...auth.config,
  ]
  // Our own repository is the remote: let its upload-pack hand out any commit, even one no branch points at.
  if (options.local) config.push(["uploadpack.allowAnySHA1InWant", "true"])
  Object.assign(env, configVariables(env, config))
  env.GIT_ALLOW_PROTOCOL = allowedProtocols(options.env, options.local ?? false)
  env.GIT_TERMINAL_PROMPT = "0"
  // English messages, so failures can be told apart.
  env.LC_ALL = "C"
  env.LANGUAGE = "C"
  return {
    url: auth.url,
    name: redactUrl(base),
    env,
    userOnly: auth.userOnly,
    secrets: auth.secrets,
    signal: options.signal,
    report: options.report,
  }
}

const gitIdleVariable = "MLPROJECT_GIT_IDLE_TIMEOUT"
// Git prints progress at least every second while it fetches, counts, resolves or checks out; five silent minutes are a hang.
const defaultGitIdleMs = 300_000

/** MLPROJECT_GIT_IDLE_TIMEOUT in milliseconds (0: no limit). */
const gitIdleMs = (env: Record<string, string | undefined>): number => {
  const raw = env[gitIdleVariable]
  if (raw === undefined || raw.trim() === "") return defaultGitIdleMs
  // A timer: past setTimeout's range it would stop every git at once.
  const ms = timerMs(Number(raw))
  if (ms === null) throw new ToolError("http.config.invalid", `${gitIdleVariable}=${raw}: expected seconds from 0 (no limit) to ${timerLimitText}`, { exitCode: 2 })
  return ms
}

const transports = new WeakMap<GitSession, Promise<Record<string, string>>>()

/**
 * Limits for git's own transports, unless the user set theirs (in the environment or git's config): over http(s) a
 * transfer that moves no byte for the idle timeout ends (curl's low-speed check), and ssh gets a connect timeout
 * and keepalives, in batch mode (a prompt for a host key or a passphrase would wait on the terminal forever; git's
 * GIT_TERMINAL_PROMPT does not reach ssh); the user's own ssh command is used as it is. A user name alone in the
 * URL is settled here too, by the credential helpers git's config names. Asked once per session, on its first
 * network command.
 */
const transportEnv = (s: GitSession): Promise<Record<string, string>> => {
  const known = transports.get(s)
  if (known) return known
  const found = (async () => {
    const limits = httpLimits(s.env)
    const pattern = "^(http\\.lowspeed(limit|time)|core\\.sshcommand|credential\\..*helper)$"
    const configured = (await tryOutput(["git", "config", "--get-regexp", pattern], { env: s.env })) ?? ""
    const lines = configured.split("\n")
    const has = (key: string) => lines.some((line) => line.toLowerCase().startsWith(`${key} `))
    const extra: Record<string, string> = s.userOnly ? configVariables(s.env, userOnlyConfig(s.userOnly, hasHelperFor(lines, s.userOnly.origin))) : {}
    if (!s.env.GIT_HTTP_LOW_SPEED_LIMIT && !s.env.GIT_HTTP_LOW_SPEED_TIME && !has("http.lowspeedlimit") && !has("http.lowspeedtime")) {
      extra.GIT_HTTP_LOW_SPEED_LIMIT = "1"
      extra.GIT_HTTP_LOW_SPEED_TIME = String(Math.max(1, Math.ceil(limits.idleTimeoutMs / 1000)))
    }
    if (!s.env.GIT_SSH_COMMAND && !s.env.GIT_SSH && !has("core.sshcommand")) {
      extra.GIT_SSH_COMMAND = `ssh -o BatchMode=yes -o ConnectTimeout=${Math.max(1, Math.ceil(limits.connectTimeoutMs / 1000))} -o ServerAliveInterval=15 -o ServerAliveCountMax=4`
    }
    return extra
  })()
  transports.set(s, found)
  return found
}

/** Starts asking for the transport settings now, so the question overlaps local work before the first network command. */
export const warmTransport = (s: GitSession): void => {
  // A failure (a bad limit in the environment) is reported by the network command that awaits the same promise.
  transportEnv(s).catch(() => {})
}

/**
 * Runs git; progress lines become fetch.progress, other stderr lines are kept (scrubbed) for errors. A `network`
 * command gets the transport limits and a watchdog: git silent for MLPROJECT_GIT_IDLE_TIMEOUT is stopped. An
 * interrupt stops git with its helpers (remote-https, ssh), SIGKILL a second later if they linger.
 */
export const git = async (s: GitSession, args: string[], options: { cwd?: string; network?: boolean } = {}): Promise<GitResult> => {
  const interrupted = () => new ToolError("source.interrupted", `interrupted while fetching ${s.name}`, { exitCode: 130 })
  if (s.signal?.aborted) throw interrupted()
  const env = options.network ? { ...s.env, ...(await transportEnv(s)) } : s.env
  const idleMs = options.network ? gitIdleMs(s.env) : 0
  const watchdog = new AbortController()
  const timer = idleMs > 0 ? setTimeout(() => watchdog.abort(), idleMs) : undefined
  const stdout: string[] = []
  const stderr: string[] = []
  const handle = start(["git", ...args], {
    cwd: options.cwd,
    env,
    output: "lines",
    signal: s.signal ? AbortSignal.any([s.signal, watchdog.signal]) : watchdog.signal,
    tree: true,
    killAfterMs: 1000,
    splitCarriageReturn: true,
    onLine: (stream, line) => {
      timer?.refresh()
      if (stream === "stdout") return void stdout.push(line)
      const progress = parseGitProgress(line)
      if (progress) return s.report.progress(progress.phase, progress.done, progress.total)
      const text = line.split("\r").at(-1)?.trim() ?? ""
      if (text !== "") stderr.push(redactText(text, s.secrets))
      if (stderr.length > 40) stderr.shift()
    },
  })
  const result = await handle.done.finally(() => clearTimeout(timer))
  if (s.signal?.aborted) throw interrupted()
  if (options.network && result.code !== 0 && stderr.some((line) => /Host key verification failed/i.test(line))) await learnDestination(s, s.url, s.env)
  if (watchdog.signal.aborted) {
    throw new ToolError("source.git.timeout", `git ${args[0]} of ${s.name} said nothing for ${formatSeconds(idleMs)}: stopped`, {
      hint: `the server or the network is stuck; raise ${gitIdleVariable} (seconds, 0: no limit) if it is just slow`,
      exitCode: 1,
    })
  }
  return { ok: result.code === 0, stdout: stdout.join("\n"), stderr: stderr.join("\n") }
}

const firstLine = (stderr: string) =>
  stderr
    .split("\n")
    .find((line) => /^(fatal|error):/.test(line))
    ?.replace(/^(fatal|error):\s*/, "") ?? stderr.split("\n").at(-1) ?? ""

// Why a connection failed, as the system said it; git's own first line often leaves it out ("unable to connect to
// host:", "Could not read from remote repository.") and puts it on another line (`errno=Connection refused`, ssh's).
const reasons = /Connection refused|Could not resolve (?:host|hostname|proxy)[^\n]*|Name or service not known|Temporary failure in name resolution|Network is unreachable|No route to host|Connection timed out|Operation timed out|Connection reset by peer/i

const withReason = (detail: string, stderr: string): string => {
  if (reasons.test(detail)) return detail
  const line = stderr.split("\n").find((l) => reasons.test(l))
  if (!line) return detail
  // `host[0: 1.2.3.4]: errno=Connection refused` says it best as its last part; ssh's line is whole sentence.
  const reason = /errno=(.+)$/.exec(line)?.[1] ?? line.replace(/^(fatal|error):\s*/, "")
  return `${detail.replace(/[\s:.]+$/, "")}: ${reason.trim()}`
}

/** Failures that no retry with another strategy can fix: bad credentials, no such repository, no network. */
export const hardFailure = (s: GitSession, stderr: string): ToolError | null => {
  const ssh = sshFailure(s, s.url, s.name, stderr)
  if (ssh) return ssh
  const detail = firstLine(stderr)
  if (/Operation too slow/i.test(stderr)) {
    return new ToolError("source.git.timeout", `fetching git repo ${s.name} stalled: ${detail}`, {
      exitCode: 1,
      hint: `the server stopped sending; ${limitVariables.idleTimeoutMs} (seconds) sets how long a transfer may stall (or git's own GIT_HTTP_LOW_SPEED_LIMIT and GIT_HTTP_LOW_SPEED_TIME)`,
    })
  }
  if (/Repository not found|does not appear to be a git repository|not exported|returned error: 404|No such file or directory|not a git repository/i.test(stderr)) {
    return new ToolError("source.git.not_found", `${s.name} is not a git repository, or it does not exist: ${detail}`, {
      hint: "check the URL; a private repository also looks like this without credentials",
    })
  }
  if (/Authentication failed|could not read (Username|Password)|terminal prompts disabled|returned error: 40[13]|HTTP Basic: Access denied|Permission denied \(publickey|Host key verification failed/i.test(stderr)) {
    return new ToolError("source.git.auth", `authentication failed for git repo ${s.name}: ${detail}`, {
      hint: "put a token in the URL (https://user:TOKEN@host/…, never logged), set GITHUB_TOKEN for GitHub, or set up a git credential helper or ssh-agent",
    })
  }
  if (/Could not resolve (host|proxy)|unable to look up|Name or service not known|Connection refused|Failed to connect|unable to connect|timed out|Network is unreachable|No route to host|Connection reset|early EOF|hung up unexpectedly/i.test(stderr)) {
    return new ToolError("source.git.unreachable", `cannot reach git repo ${s.name}: ${withReason(detail, stderr)}`, {
      exitCode: 1,
      hint: sshDestination(s.url)
        ? "check the host name and port (a Host block of ~/.ssh/config may set them; ssh -v HOST shows what ssh does) and your network, then run again"
        : "check the host name, your network and proxy settings (HTTPS_PROXY), then run again",
    })
  }
  if (/transport '[^']*' not allowed/i.test(stderr)) {
    return new ToolError("source.git.protocol", `git refused a transport while fetching ${s.name}: ${detail}`, {
      hint: "only https, http, ssh and git transports are allowed (file:// only for a repository you name yourself, not for submodules of a remote one)",
    })
  }
  return null
}

export const versionError = (s: GitSession, version: string, detail = ""): ToolError =>
  new ToolError(
    "source.git.version",
    `Unable to checkout version '${version}' of git repo ${s.name} - please ensure that the version exists in the repo${detail ? `. Error: ${detail}` : ""}`,
    { hint: "give a branch, a tag, or a commit (full or abbreviated) that exists in the repository: git ls-remote URL lists them" },
  )

/** A ToolError for a failed git step: the specific kinds first, else the scrubbed git message. */
export const gitError = (s: GitSession, step: string, stderr: string): ToolError =>
  hardFailure(s, stderr) ??
  new ToolError("source.git.fetch", `git ${step} failed for ${s.name}: ${firstLine(stderr) || "no error message"}`, {
    exitCode: 1,
    hint: stderr.includes("\n") ? `git said:\n${stderr.split("\n").slice(-6).join("\n")}` : "run again; if it persists, try the same git command by hand",
  })
