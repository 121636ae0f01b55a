// A real OpenSSH sshd on 127.0.0.1 serving git over ssh, and client homes (config, known_hosts, keys, ssh-agent) for it.
import { stopGroup } from "./stop-group.ts"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir, userInfo } from "node:os"
import { join } from "node:path"
import { freePort, sh } from "./git.ts"

const sshdPath = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"].find((path) => existsSync(path))
const nssWrapper = ["/usr/lib/x86_64-linux-gnu/libnss_wrapper.so", "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so"].find((path) => existsSync(path))

/** Whether this machine can run these tests (CI installs openssh-server and libnss-wrapper: .ci/run). */
export const sshAvailable = Boolean(sshdPath && nssWrapper && Bun.which("ssh") && Bun.which("ssh-agent"))
/** Outside CI a machine without them skips the ssh tests with a note; under CI they run (and fail if they cannot). */
export const skipSsh = !sshAvailable && !process.env.CI
export const sshSkipReason = "ssh tests skipped: needs sshd (openssh-server), ssh-agent and libnss-wrapper (.ci/run installs them)"

/** A new ed25519 key pair: `path` (private, 0600) and `path.pub`. */
export const keyPair = (path: string): { path: string; pub: string } => {
  sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mlproject-test", "-f", path])
  return { path, pub: readFileSync(`${path}.pub`, "utf8").trim() }
}

export type Sshd = {
  port: number
  /** The login name (the current user: sshd runs as that user and serves its logins only). */
  user: string
  /**
   * With `home: true`, the logins' home folder on the server (the current user and `git`, both this process's uid):
   * scp-style paths without a leading `/` (`git@host:repos/p.git`) are found under it, as on a Git host.
   */
  home?: string
  /** The server's host public key line (`ssh-ed25519 AAAA…`), for known_hosts. */
  hostKey: string
  /** Public key lines the server accepts: add one with `authorize`. */
  authorize(pub: string): void
  /** "Connection from" lines in sshd's log so far: one per ssh connection (ls-remote and fetch each make one). */
  connections(): Promise<number>
  log(): string
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Starts `sshd -D` with its own config, host key and authorized_keys on a free loopback port; stops it on dispose.
 * `protocol: 0` refuses git's GIT_PROTOCOL variable, as an sshd without `AcceptEnv GIT_PROTOCOL` does (git then
 * speaks protocol v0, where a commit is fetched by sha only if the server allows it).
 */
export const sshd = async (options: { protocol?: 0 | 2; home?: boolean } = {}): Promise<Sshd> => {
  if (!sshdPath) throw new Error("sshd is not installed (apt-get install openssh-server)")
  const dir = mkdtempSync(join(tmpdir(), "mlproject-sshd-"))
  const home = options.home ? serverHome(dir) : undefined
  const hostKey = keyPair(join(dir, "host_ed25519")).pub
  const authorized = join(dir, "authorized_keys")
  writeFileSync(authorized, "")
  const logFile = join(dir, "sshd.log")
  // Privilege separation needs this folder when sshd runs as root; Debian's init script makes it, nothing does here.
  if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 })
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort()
    const config = join(dir, "sshd_config")
    writeFileSync(
      config,
      [
        `ListenAddress 127.0.0.1:${port}`,
        `HostKey ${join(dir, "host_ed25519")}`,
        `AuthorizedKeysFile ${authorized}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password",
        "LogLevel VERBOSE",
        "MaxStartups 100",
        // Git asks for protocol v2 through this variable (ssh -o SendEnv), as GitHub's and GitLab's servers accept it.
        ...(options.protocol === 0 ? [] : ["AcceptEnv GIT_PROTOCOL"]),
        "",
      ].join("\n"),
    )
    writeFileSync(logFile, "")
    const child = Bun.spawn([sshdPath, "-D", "-f", config, "-E", logFile], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      detached: true,
      ...(home ? { env: { ...process.env, ...home.env } } : {}),
    })
    let up = false
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      if (readFileSync(logFile, "utf8").includes(`Server listening on 127.0.0.1 port ${port}`)) {
        up = true
        break
      }
      await Bun.sleep(50)
    }
    if (!up) {
      child.kill()
      await child.exited
      continue
    }
    return {
      port,
      user: sh(["id", "-un"]),
      home: home?.path,
      hostKey,
      authorize: (pub) => writeFileSync(authorized, `${readFileSync(authorized, "utf8")}${pub}\n`),
      connections: async () => {
        await Bun.sleep(60)
        return (readFileSync(logFile, "utf8").match(/Connection from 127\.0\.0\.1/g) ?? []).length
      },
      log: () => readFileSync(logFile, "utf8"),
      async [Symbol.asyncDispose]() {
        await stopGroup(child)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  throw new Error(`sshd did not start: ${existsSync(logFile) ? readFileSync(logFile, "utf8") : ""}`)
}

/**
 * The server's passwd through nss_wrapper (sshd resolves logins with getpwnam): the current user and `git`, both with
 * this uid, get `dir/home` as their home, so a relative path is looked up there and never in the real home.
 */
const serverHome = (dir: string): { path: string; env: Record<string, string> } => {
  if (!nssWrapper) throw new Error("libnss-wrapper is not installed (apt-get install libnss-wrapper)")
  const path = join(dir, "home")
  mkdirSync(path)
  const { uid, gid, username } = userInfo()
  const entry = (name: string) => `${name}:x:${uid}:${gid}:test:${path}:/bin/sh\n`
  // The system's own entries follow ours (the first match wins): sshd also looks up its privilege separation user.
  const system = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "")
  writeFileSync(join(dir, "passwd"), entry(username) + (username === "git" ? "" : entry("git")) + system("/etc/passwd"))
  writeFileSync(join(dir, "group"), system("/etc/group"))
  return { path, env: { LD_PRELOAD: nssWrapper, NSS_WRAPPER_PASSWD: join(dir, "passwd"), NSS_WRAPPER_GROUP: join(dir, "group") } }
}

export type SshHome = {
  /** HOME for the binary: `.ssh/config` with Host `alias`, maybe `.ssh/known_hosts`, keys. */
  path: string
  /** The Host alias in `.ssh/config` (HostName 127.0.0.1, the server's Port): scp-style URIs cannot carry a port. */
  alias: string
  /** Environment for the binary: HOME, and the passwd entry ssh reads its home from (ssh ignores $HOME). */
  env: Record<string, string>
  /** The agent's socket, when the key is held by a test ssh-agent. */
  agentSocket?: string
  /** The private key's text, to check it never shows. */
  secret: string
  [Symbol.asyncDispose](): Promise<void>
}

export type SshHomeOptions = {
  /** Where the client key lives: ~/.ssh/id_ed25519, a file named only in ~/.ssh/config, a test ssh-agent, or a key the server does not accept. */
  key: "default" | "config" | "agent" | "unauthorized"
  /** known_hosts: the server's key, nothing, or another key for that host and port. */
  knownHosts?: "right" | "none" | "wrong"
}

/**
 * A client home for `server`. ssh reads `~` from the passwd entry, never from $HOME, so the environment preloads
 * nss_wrapper with a passwd file naming this folder as the current user's home: ssh then reads this `.ssh/` only.
 */
export const sshHome = async (server: Sshd, options: SshHomeOptions): Promise<SshHome> => {
  if (!nssWrapper) throw new Error("libnss-wrapper is not installed (apt-get install libnss-wrapper)")
  const path = mkdtempSync(join(tmpdir(), "mlproject-ssh-home-"))
  const ssh = join(path, ".ssh")
  mkdirSync(ssh, { mode: 0o700 })
  const alias = "sshtest"
  const keyFile = options.key === "default" ? join(ssh, "id_ed25519") : options.key === "config" ? join(path, "keys", "deploy_key") : join(path, "agent-key")
  mkdirSync(join(path, "keys"), { recursive: true })
  const key = keyPair(keyFile)
  const secret = readFileSync(keyFile, "utf8")
  if (options.key !== "unauthorized") server.authorize(key.pub)
  const config = [`Host ${alias}`, "  HostName 127.0.0.1", `  Port ${server.port}`, ...(options.key === "config" ? [`  IdentityFile ${keyFile}`, "  IdentitiesOnly yes"] : []), ""]
  writeFileSync(join(ssh, "config"), config.join("\n"))
  const knownHosts = options.knownHosts ?? "right"
  if (knownHosts !== "none") {
    const other = knownHosts === "wrong" ? keyPair(join(path, "other_host_key")).pub : server.hostKey
    writeFileSync(join(ssh, "known_hosts"), `[127.0.0.1]:${server.port} ${other}\n`)
  }
  const { uid, gid } = userInfo()
  const username = server.user
  writeFileSync(join(path, "passwd"), `${username}:x:${uid}:${gid}:test:${path}:/bin/sh\n`)
  writeFileSync(join(path, "group"), `${username}:x:${gid}:\n`)
  const env: Record<string, string> = {
    HOME: path,
    LD_PRELOAD: nssWrapper,
    NSS_WRAPPER_PASSWD: join(path, "passwd"),
    NSS_WRAPPER_GROUP: join(path, "group"),
  }
  let agent: { pid: number } | undefined
  let agentSocket: string | undefined
  if (options.key === "agent") {
    agentSocket = join(path, "agent.sock")
    const out = sh(["ssh-agent", "-s", "-a", agentSocket])
    agent = { pid: Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1]) }
    sh(["ssh-add", "-q", keyFile], { env: { SSH_AUTH_SOCK: agentSocket } })
    // The agent holds the key now: no key file is left anywhere in this home.
    rmSync(keyFile)
    rmSync(`${keyFile}.pub`)
    env.SSH_AUTH_SOCK = agentSocket
  }
  chmodSync(ssh, 0o700)
  return {
    path,
    alias,
    env,
    agentSocket,
    secret,
    async [Symbol.asyncDispose]() {
      if (agent?.pid) {
        try {
          process.kill(agent.pid, "SIGTERM")
        } catch {}
      }
      rmSync(path, { recursive: true, force: true })
    },
  }
}
