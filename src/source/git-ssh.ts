// Git over ssh: where a URL points (as ssh itself resolves it), and what ssh's refusals mean (host key, key) with their fix.
import { ToolError } from "../errors.ts"
import { tryOutput } from "../util/exec.ts"

export type SshDestination = { host: string; port?: string }

/** The ssh destination of a git URL: `ssh://[user@]host[:port]/…` or scp-style `[user@]host:path`; null for any other. */
export const sshDestination = (url: string): SshDestination | null => {
  const full = /^(?:ssh|git\+ssh|ssh\+git):\/\/(?:[^@/]*@)?(\[[^\]/]+\]|[^:/]+)(?::(\d+))?(?:\/|$)/i.exec(url)
  if (full) return { host: (full[1] as string).replace(/^\[(.*)\]$/, "$1"), ...(full[2] ? { port: full[2] } : {}) }
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url)) return null
  // Git's rule: a colon before any slash makes `host:path` an ssh address.
  const scp = /^(?:[^@/:]+@)?(\[[^\]/]+\]|[^:/]+):/.exec(url)
  return scp ? { host: (scp[1] as string).replace(/^\[(.*)\]$/, "$1") } : null
}

// The host and port ssh really connects to (a Host alias of ~/.ssh/config resolved), looked up after a host-key failure.
const resolved = new WeakMap<object, SshDestination>()

/** Asks `ssh -G` (no connection) where the session's URL leads, for a hint that names the real host and port. */
export const learnDestination = async (session: object, url: string, env: Record<string, string | undefined>): Promise<void> => {
  const destination = sshDestination(url)
  if (!destination || destination.host.startsWith("-")) return
  const output = await tryOutput(["ssh", "-G", ...(destination.port ? ["-p", destination.port] : []), "--", destination.host], { env }).catch(() => null)
  const field = (name: string) => output?.split("\n").find((line) => line.startsWith(`${name} `))?.slice(name.length + 1).trim()
  const host = field("hostname")
  if (host) resolved.set(session, { host, port: field("port") ?? destination.port })
}

const unknown: SshDestination = { host: "HOST", port: "PORT" }
const keyscan = ({ host, port }: SshDestination) => `ssh-keyscan ${port && port !== "22" ? `-p ${port} ` : ""}${host}`
const knownName = ({ host, port }: SshDestination) => (port && port !== "22" ? `[${host}]:${port}` : host)

/**
 * ssh's own refusals: an unknown or changed host key, a key the server refused (exit 2: the user's set-up decides).
 * Also for an ssh submodule of a project fetched over https: then the hint cannot name the host.
 */
export const sshFailure = (session: object, url: string, name: string, stderr: string): ToolError | null => {
  const lines = stderr.split("\n")
  const where = resolved.get(session) ?? sshDestination(url) ?? unknown
  if (/Host key verification failed/i.test(stderr)) {
    const changed = lines.find((line) => /^Host key for .* has changed/i.test(line))
    if (changed) {
      const known = /^Host key for (\S+) has changed/i.exec(changed)?.[1] ?? knownName(where)
      return new ToolError("source.git.host_key", `the host key of git repo ${name} does not match the one in known_hosts: ${changed} Host key verification failed.`, {
        hint: `someone may be intercepting the connection; if the server's key really changed, check the new fingerprint with its admin, then replace the old entry: ssh-keygen -R '${known}' && ${keyscan(where)} >> ~/.ssh/known_hosts`,
      })
    }
    return new ToolError("source.git.host_key", `ssh does not know the host key of git repo ${name}: Host key verification failed.`, {
      hint: `mlproject never accepts a host key for you: check the server's fingerprint (${keyscan(where)} | ssh-keygen -lf -) against the one its admin publishes, then add it: ${keyscan(where)} >> ~/.ssh/known_hosts`,
    })
  }
  const denied = lines.find((line) => /Permission denied \((publickey|password|keyboard-interactive|gssapi)/i.test(line))
  if (denied) {
    return new ToolError("source.git.auth", `ssh refused the key for git repo ${name}: ${denied.trim()}`, {
      hint: "load the key into ssh-agent (ssh-add FILE; a key with a passphrase must be there, mlproject never prompts) or name it with IdentityFile in a Host block of ~/.ssh/config; check the user name in the URI and that the server lists the public key (ssh -v shows the keys offered)",
    })
  }
  return null
}
