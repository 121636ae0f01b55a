// A slow or stalled git fetch through the compiled binary: an interrupt stops git and its helpers within the grace
// period over git://, http and file; a stall ends by itself (git's low-speed check, our watchdog); ssh gets a timeout.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { chmodSync, existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { cli, liveCli } from "../lib/cli.ts"
import { gitRepo, type GitRepo } from "../lib/git.ts"
import { silentServer } from "../lib/stall.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const graceS = 1
const boundMs = graceS * 1000 + 1000

let repo: GitRepo
beforeAll(() => {
  repo = gitRepo({ commits: 3, files: { MLproject: "entry_points:\n  main:\n    command: echo hi\n" } })
})
afterAll(async () => {
  await repo[Symbol.asyncDispose]()
})

/** Live processes (zombies aside) whose command line contains `marker`: what an interrupt must not leave behind. */
const processesWith = (marker: string): string[] =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .flatMap((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
        if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return []
        const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ")
        return command.includes(marker) ? [`${entry}: ${command}`] : []
      } catch {
        return []
      }
    })

/** Leftovers may take a moment to be reaped once killed. */
const settled = async (marker: string): Promise<string[]> => {
  for (let i = 0; i < 20 && processesWith(marker).length > 0; i++) await Bun.sleep(25)
  return processesWith(marker)
}

describe("an interrupt during a stalled fetch stops git and every helper it started, exit 130", () => {
  test.each(["git", "http"] as const)("over %s:// (a server that accepts and says nothing)", async (scheme) => {
    await using dir = tmpdirFor()
    await using server = silentServer()
    const url = `${scheme}://127.0.0.1:${server.port}/repo.git`
    const run = liveCli(["run", url, "--json", "--grace", String(graceS)], { cwd: dir.path })
    await server.connected()
    // http: git → git remote-http → git-remote-http, the last holding the connection.
    if (scheme === "http") for (let i = 0; i < 40 && processesWith(`127.0.0.1:${server.port}`).length < 2; i++) await Bun.sleep(25)
    expect(processesWith(`127.0.0.1:${server.port}`).length).toBeGreaterThan(0)
    const { code, ms } = await run.interrupt("SIGINT")
    expect(code).toBe(130)
    expect(ms).toBeLessThan(boundMs)
    expect(run.events.find((e) => e.type === "error")).toMatchObject({ code: "source.interrupted" })
    expect(await settled(`127.0.0.1:${server.port}`)).toEqual([])
  })

  test("over file (a local repository whose upload-pack hangs while packing)", async () => {
    await using dir = tmpdirFor()
    const started = join(dir.path, "started")
    const hook = dir.write("slow-pack-hook", `#!/bin/sh\ntouch '${started}'\nsleep 300\n`)
    chmodSync(hook, 0o755)
    // upload-pack honours packObjectsHook from protected (global) config only.
    const config = dir.write("gitconfig", `[uploadpack]\n\tpackObjectsHook = ${hook}\n`)
    const run = liveCli(["run", repo.path, "-v", repo.head, "--json", "--grace", String(graceS)], { cwd: dir.path, env: { GIT_CONFIG_GLOBAL: config } })
    for (let i = 0; i < 400 && !existsSync(started); i++) await Bun.sleep(25)
    expect(existsSync(started)).toBe(true)
    const { code, ms } = await run.interrupt("SIGINT")
    expect(code).toBe(130)
    expect(ms).toBeLessThan(boundMs)
    expect(await settled(hook)).toEqual([])
    expect(await settled(repo.path)).toEqual([])
  })
})

describe("a stalled fetch ends by itself", () => {
  test("over http: git's low-speed check at the idle timeout (MLPROJECT_HTTP_IDLE_TIMEOUT), a clear error", async () => {
    await using dir = tmpdirFor()
    await using server = silentServer()
    const started = performance.now()
    const run = await cli(["run", `http://127.0.0.1:${server.port}/repo.git`, "--json"], { cwd: dir.path, env: { MLPROJECT_HTTP_IDLE_TIMEOUT: "1" } })
    expect(run.code).toBe(1)
    expect(performance.now() - started).toBeLessThan(8000)
    const error = run.events.find((e) => e.type === "error") as Record<string, string>
    expect(error.code).toBe("source.git.timeout")
    expect(error.message).toContain(`http://127.0.0.1:${server.port}/repo.git`)
    expect(error.message).toContain("Operation too slow")
    expect(error.hint).toContain("MLPROJECT_HTTP_IDLE_TIMEOUT")
  })

  test("over http: the user's own GIT_HTTP_LOW_SPEED_* win over ours", async () => {
    await using dir = tmpdirFor()
    await using server = silentServer()
    const started = performance.now()
    const run = await cli(["run", `http://127.0.0.1:${server.port}/repo.git`, "--json"], {
      cwd: dir.path,
      env: { MLPROJECT_HTTP_IDLE_TIMEOUT: "60", GIT_HTTP_LOW_SPEED_LIMIT: "1000", GIT_HTTP_LOW_SPEED_TIME: "1" },
    })
    expect(run.code).toBe(1)
    expect(performance.now() - started).toBeLessThan(8000)
    expect(run.events.find((e) => e.type === "error")).toMatchObject({ code: "source.git.timeout" })
  })

  test("over git://: git silent for MLPROJECT_GIT_IDLE_TIMEOUT is stopped", async () => {
    await using dir = tmpdirFor()
    await using server = silentServer()
    const started = performance.now()
    const run = await cli(["run", `git://127.0.0.1:${server.port}/repo.git`, "--json"], { cwd: dir.path, env: { MLPROJECT_GIT_IDLE_TIMEOUT: "1" } })
    expect(run.code).toBe(1)
    expect(performance.now() - started).toBeLessThan(6000)
    const error = run.events.find((e) => e.type === "error") as Record<string, string>
    expect(error.code).toBe("source.git.timeout")
    expect(error.message).toBe(`git ls-remote of git://127.0.0.1:${server.port}/repo.git said nothing for 1 s: stopped`)
    expect(error.hint).toContain("MLPROJECT_GIT_IDLE_TIMEOUT")
    expect(await settled(`127.0.0.1:${server.port}`)).toEqual([])
  })
})

describe("ssh gets a connect timeout and keepalives, unless the user chose their own ssh command", () => {
  /** An `ssh` on PATH that records its arguments and fails as an unreachable host would. */
  const fakeSsh = (dir: { path: string; write(relative: string, content: string): string }) => {
    const log = join(dir.path, "ssh.log")
    chmodSync(dir.write("bin/ssh", `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\necho "ssh: connect to host 127.0.0.1 port 9: Connection refused" >&2\nexit 255\n`), 0o755)
    return { path: `${join(dir.path, "bin")}:${process.env.PATH}`, log: () => readFileSync(log, "utf8") }
  }

  test("by default: ConnectTimeout from MLPROJECT_HTTP_CONNECT_TIMEOUT", async () => {
    await using dir = tmpdirFor()
    const ssh = fakeSsh(dir)
    const run = await cli(["run", "ssh://git@127.0.0.1:9/repo.git", "--json"], { cwd: dir.path, env: { PATH: ssh.path, MLPROJECT_HTTP_CONNECT_TIMEOUT: "7" } })
    expect(run.code).toBe(1)
    expect(ssh.log()).toContain("-o ConnectTimeout=7 -o ServerAliveInterval=15 -o ServerAliveCountMax=4")
  })

  test("GIT_SSH_COMMAND set by the user is left alone", async () => {
    await using dir = tmpdirFor()
    const ssh = fakeSsh(dir)
    const run = await cli(["run", "ssh://git@127.0.0.1:9/repo.git", "--json"], { cwd: dir.path, env: { PATH: ssh.path, GIT_SSH_COMMAND: "ssh -o BatchMode=yes" } })
    expect(run.code).toBe(1)
    expect(ssh.log()).toContain("-o BatchMode=yes")
    expect(ssh.log()).not.toContain("ConnectTimeout")
  })
})
