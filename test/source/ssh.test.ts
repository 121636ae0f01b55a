// Git over ssh, end to end: the compiled binary against a real sshd, with the user's ~/.ssh set-up, agent and failures.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { appendFileSync, chmodSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli, type CliResult } from "../lib/cli.ts"
import { freePort, gitRepo, type GitRepo } from "../lib/git.ts"
import { readRun } from "../lib/mlruns.ts"
import { skipSsh, sshd, sshHome, sshSkipReason, type Sshd, type SshHome, type SshHomeOptions } from "../lib/sshd.ts"

let repo: GitRepo
let server: Sshd

if (skipSsh) test.skip(sshSkipReason, () => {})

beforeAll(async () => {
  if (skipSsh) return
  repo = gitRepo({ commits: 300, branches: { feature: 250 }, tags: { light: 100 }, annotated: { "v1.0": 200 } })
  server = await sshd()
})

afterAll(async () => {
  await server?.[Symbol.asyncDispose]()
  await repo?.[Symbol.asyncDispose]()
})

/** The binary run with `home` as the user's home and its own fetch cache; none of this process's ssh settings leak in. */
const run = (home: SshHome, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> =>
  cli([...args, "--json"], {
    cwd: home.path,
    env: { SSH_AUTH_SOCK: undefined, GIT_SSH_COMMAND: undefined, GIT_SSH: undefined, MLPROJECT_HOME: join(home.path, "cache"), ...home.env, ...env },
  })

const withHome = (options: SshHomeOptions) => sshHome(server, options)
const scpUri = (home: SshHome) => `${server.user}@${home.alias}:${repo.path}`
const sshUri = () => `ssh://${server.user}@127.0.0.1:${server.port}${repo.path}`

const finished = (result: CliResult) => {
  const last = result.events.at(-1) as Record<string, unknown>
  expect(last, result.stdout + result.stderr).toMatchObject({ type: "run.finished", status: "FINISHED" })
  return last.run_id as string
}
const tagsOf = (home: SshHome, runId: string) => readRun(join(home.path, "mlruns"), "0", runId).tags
const printed = (result: CliResult) => result.events.filter((e) => e.type === "log").map((e) => e.line)
const errorOf = (result: CliResult) => result.events.find((e) => e.type === "error") as unknown as { code: string; message: string; hint?: string }

/** Everything a run showed or recorded: output, events and the tags of every run in the store. */
const everything = (home: SshHome, result: CliResult) => {
  const store = join(home.path, "mlruns", "0")
  const runs = (() => {
    try {
      return readdirSync(store).filter((name) => /^[0-9a-f]{32}$/.test(name))
    } catch {
      return []
    }
  })()
  return [result.stdout, result.stderr, ...runs.map((id) => JSON.stringify(tagsOf(home, id)))].join("\n")
}

describe.skipIf(skipSsh)("ssh sources", () => {
  test("scp-style through a Host alias of ~/.ssh/config (its Port), the key in ~/.ssh/id_ed25519; tags record the URI as given", async () => {
    await using home = await withHome({ key: "default" })
    const uri = scpUri(home)
    const result = await run(home, ["run", uri, "--env-manager", "local"])
    const tags = tagsOf(home, finished(result))
    expect(printed(result)).toEqual(["300"])
    expect(tags["mlflow.source.name"]).toBe(uri)
    expect(tags["mlflow.source.git.repoURL"]).toBe(uri)
    expect(tags["mlflow.source.git.commit"]).toBe(repo.head)
  })

  test.each([
    ["a full sha", () => repo.commit(123), 123, undefined],
    ["a short sha", () => repo.commit(77).slice(0, 9), 77, undefined],
    ["a branch", () => "feature", 250, "feature"],
    ["an annotated tag", () => "v1.0", 200, undefined],
    ["a lightweight tag", () => "light", 100, undefined],
  ])("ssh://user@host:PORT/… with #subdir and -v %s", async (_label, version, commit, branch) => {
    await using home = await withHome({ key: "default" })
    const uri = `${sshUri()}#sub/dir`
    const result = await run(home, ["run", uri, "-v", version(), "--env-manager", "local"])
    const tags = tagsOf(home, finished(result))
    expect(printed(result)).toEqual([String(commit)])
    expect(tags["mlflow.source.name"]).toBe(uri)
    expect(tags["mlflow.source.git.repoURL"]).toBe(sshUri())
    expect(tags["mlflow.source.git.commit"]).toBe(repo.commit(commit))
    expect(tags["mlflow.source.git.branch"]).toBe(branch as string)
  })

  test("the fetch cache: a second run of a full sha makes no ssh connection; a branch makes one", async () => {
    await using home = await withHome({ key: "default" })
    const sha = repo.commit(222)
    const before = await server.connections()
    finished(await run(home, ["run", sshUri(), "-v", sha, "--env-manager", "local"]))
    const afterFirst = await server.connections()
    expect(afterFirst).toBeGreaterThan(before)
    const second = await run(home, ["run", sshUri(), "-v", sha, "--env-manager", "local"])
    finished(second)
    expect(await server.connections()).toBe(afterFirst)
    expect(second.events.find((e) => e.type === "fetch.done")).toMatchObject({ commit: sha, cached: true })
    finished(await run(home, ["run", sshUri(), "-v", "feature", "--env-manager", "local"]))
    const afterBranch = await server.connections()
    finished(await run(home, ["run", sshUri(), "-v", "feature", "--env-manager", "local"]))
    expect(await server.connections()).toBe(afterBranch + 1)
  })

  test("a server that speaks only protocol v0 (no AcceptEnv GIT_PROTOCOL): a full sha of an old commit still runs", async () => {
    await using old = await sshd({ protocol: 0 })
    await using home = await sshHome(old, { key: "default" })
    const uri = `ssh://${old.user}@127.0.0.1:${old.port}${repo.path}`
    const result = await run(home, ["run", uri, "-v", repo.commit(42), "--env-manager", "local"])
    expect(tagsOf(home, finished(result))["mlflow.source.git.commit"]).toBe(repo.commit(42))
    expect(printed(result)).toEqual(["42"])
  })

  test("git@127.0.0.1:repos/p.git: a path relative to the login's home, the port from a Host 127.0.0.1 block of ~/.ssh/config", async () => {
    await using hosted = await sshd({ home: true })
    await using home = await sshHome(hosted, { key: "default" })
    mkdirSync(join(hosted.home as string, "repos"))
    symlinkSync(repo.path, join(hosted.home as string, "repos", "p.git"))
    appendFileSync(join(home.path, ".ssh", "config"), `Host 127.0.0.1\n  Port ${hosted.port}\n`)
    const uri = "git@127.0.0.1:repos/p.git"
    const result = await run(home, ["run", `${uri}#sub/dir`, "-v", "light", "--env-manager", "local"])
    const tags = tagsOf(home, finished(result))
    expect(printed(result)).toEqual(["100"])
    expect(tags["mlflow.source.git.repoURL"]).toBe(uri)
    expect(tags["mlflow.source.git.commit"]).toBe(repo.commit(100))
    expect(hosted.log()).toContain("Accepted publickey for git")
  })

  test("describe and validate of ssh URIs", async () => {
    await using home = await withHome({ key: "default" })
    const validated = await run(home, ["validate", scpUri(home), "-v", "light"])
    expect(validated.code, validated.stdout).toBe(0)
    expect(validated.events.find((e) => e.type === "project.validated")).toMatchObject({ source: scpUri(home), commit: repo.commit(100), ok: true })
    const described = await run(home, ["describe", `${sshUri()}#sub/dir`, "-v", repo.commit(5)])
    expect(described.code, described.stdout).toBe(0)
    expect(described.events.find((e) => e.type === "project.described")).toMatchObject({ source: `${sshUri()}#sub/dir`, commit: repo.commit(5), name: "subdir" })
  })
})

describe.skipIf(skipSsh)("the user's ssh set-up is honoured", () => {
  test("a key held by ssh-agent (SSH_AUTH_SOCK), no key file anywhere; the socket path never shows", async () => {
    await using home = await withHome({ key: "agent" })
    for (const uri of [scpUri(home), sshUri()]) {
      const result = await run(home, ["run", uri, "-v", "light", "--env-manager", "local"])
      finished(result)
      const shown = everything(home, result)
      expect(shown).not.toContain(home.agentSocket as string)
      expect(shown).not.toContain(home.secret.split("\n")[1] as string)
    }
    // Without the agent the same home has no key at all.
    const denied = await run(home, ["run", scpUri(home), "-v", "light", "--env-manager", "local"], { SSH_AUTH_SOCK: undefined })
    expect(denied.code).toBe(2)
    expect(errorOf(denied).code).toBe("source.git.auth")
  })

  test("a key named only by IdentityFile in a Host block of ~/.ssh/config", async () => {
    await using home = await withHome({ key: "config" })
    finished(await run(home, ["run", scpUri(home), "-v", "feature", "--env-manager", "local"]))
    // ssh:// to 127.0.0.1 is not that Host block: no key, refused.
    const other = await run(home, ["run", sshUri(), "-v", "feature", "--env-manager", "local"])
    expect(errorOf(other)).toMatchObject({ code: "source.git.auth", message: expect.stringContaining("Permission denied (publickey)") })
  })

  test.each(["GIT_SSH_COMMAND", "GIT_SSH"])("%s set by the user is the ssh that runs, as given", async (variable) => {
    await using home = await withHome({ key: "default" })
    const log = join(home.path, "wrapper.log")
    const wrapper = join(home.path, "my-ssh")
    writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec ssh "$@"\n`)
    chmodSync(wrapper, 0o755)
    finished(await run(home, ["run", sshUri(), "-v", repo.commit(9), "--env-manager", "local"], { [variable]: wrapper, ...(variable === "GIT_SSH" ? { GIT_SSH_VARIANT: "ssh" } : {}) }))
    const calls = readFileSync(log, "utf8")
    expect(calls).toContain(`127.0.0.1`)
    expect(calls).not.toContain("BatchMode")
  })
})

describe.skipIf(skipSsh)("ssh failures end in bounded time with ssh's reason and a fix", () => {
  test.each([
    ["scp-style", (home: SshHome) => scpUri(home)],
    ["ssh://", () => sshUri()],
  ])("an unknown host key (%s): exit 2, never accepted on the user's behalf", async (_label, uri) => {
    await using home = await withHome({ key: "default", knownHosts: "none" })
    const result = await run(home, ["run", uri(home), "--env-manager", "local"])
    expect(result.code).toBe(2)
    expect(result.ms).toBeLessThan(20_000)
    const error = errorOf(result)
    expect(error.code).toBe("source.git.host_key")
    expect(error.message).toContain("Host key verification failed.")
    // The alias resolved as ssh resolves it: the real host and port to scan.
    expect(error.hint).toContain(`ssh-keyscan -p ${server.port} 127.0.0.1 >> ~/.ssh/known_hosts`)
    expect(error.hint).not.toContain("token")
    expect(readdirSync(join(home.path, ".ssh"))).not.toContain("known_hosts")
  })

  test("a changed host key (known_hosts holds another key for that host:port)", async () => {
    await using home = await withHome({ key: "default", knownHosts: "wrong" })
    const before = readFileSync(join(home.path, ".ssh", "known_hosts"), "utf8")
    const result = await run(home, ["run", scpUri(home), "--env-manager", "local"])
    expect(result.code).toBe(2)
    const error = errorOf(result)
    expect(error.code).toBe("source.git.host_key")
    expect(error.message).toContain(`Host key for [127.0.0.1]:${server.port} has changed`)
    expect(error.message).toContain("Host key verification failed.")
    expect(error.hint).toContain(`ssh-keygen -R '[127.0.0.1]:${server.port}'`)
    expect(readFileSync(join(home.path, ".ssh", "known_hosts"), "utf8")).toBe(before)
  })

  test("a key the server refuses: exit 2, ssh's words, never the key", async () => {
    await using home = await withHome({ key: "unauthorized" })
    const result = await run(home, ["run", scpUri(home), "--env-manager", "local"])
    expect(result.code).toBe(2)
    const error = errorOf(result)
    expect(error.code).toBe("source.git.auth")
    expect(error.message).toContain("Permission denied (publickey).")
    expect(error.hint).toContain("ssh-agent")
    expect(error.hint).not.toContain("token")
    expect(everything(home, result)).not.toContain(home.secret.split("\n")[1] as string)
  })

  test("an unreachable host: exit 1 with 'Connection refused'", async () => {
    await using home = await withHome({ key: "default" })
    const port = freePort()
    const result = await run(home, ["run", `ssh://${server.user}@127.0.0.1:${port}${repo.path}`, "--env-manager", "local"])
    expect(result.code).toBe(1)
    expect(errorOf(result)).toMatchObject({ code: "source.git.unreachable", message: expect.stringContaining(`port ${port}: Connection refused`) })
  })

  test("with a terminal, an unknown host key still asks nothing: batch mode, not a prompt that waits", async () => {
    await using home = await withHome({ key: "default", knownHosts: "none" })
    const env = Object.fromEntries(Object.entries({ ...process.env, MLPROJECT_HOME: join(home.path, "cache"), ...home.env }).filter((e): e is [string, string] => e[1] !== undefined && !/^(SSH_AUTH_SOCK|GIT_SSH)/.test(e[0])))
    const binary = join(import.meta.dir, "..", "..", "dist", "mlproject")
    // `script` gives the binary (and so ssh) a controlling terminal; without batch mode ssh would ask "(yes/no)?" on it.
    const child = Bun.spawn(["timeout", "30", "script", "-qec", `${binary} validate '${scpUri(home)}' --json`, "/dev/null"], { cwd: home.path, env, stdin: "pipe", stdout: "pipe", stderr: "pipe" })
    const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited])
    expect(code).toBe(2)
    expect(out).toContain("source.git.host_key")
    expect(out).not.toContain("(yes/no")
  })
})
