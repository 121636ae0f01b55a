// `mlproject env list|gc`: what is listed, what gc removes and what it must leave alone.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, utimesSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { dirname, join } from "node:path"
import { envCommand } from "../../src/cli/env.ts"
import { parseArgs } from "../../src/cli/args.ts"
import type { CommandContext } from "../../src/cli/context.ts"
import { entryPaths, envRoot } from "../../src/env/cache.ts"
import type { EnvEntry } from "../../src/env/events.ts"
import { parseAge } from "../../src/env/gc.ts"
import { prepareEnvironment } from "../../src/env/index.ts"
import { takeLease } from "../../src/util/lease.ts"
import { acquireLock } from "../../src/util/lock.ts"
import { hostTag } from "../../src/util/owner.ts"
import { envListedText } from "../../src/events/env-text.ts"
import { envProject, installedPython, isolatedEnv, recorder, removeEnvHomes } from "../lib/env-project.ts"

afterAll(removeEnvHomes, 60_000)

const envCli = async (argv: string[], env: Record<string, string | undefined>) => {
  const rec = recorder()
  const parsed = parseArgs("env", argv, envCommand.options, envCommand.maxPositionals)
  const never = new AbortController().signal
  const context = { emit: rec.emit, env, cwd: process.cwd(), captureOutput: true, interrupt: never, forceInterrupt: never } as unknown as CommandContext
  const code = await envCommand.execute(parsed, context)
  return { code, rec }
}

const build = async (python: string, env: Record<string, string | undefined>) => {
  await using p = envProject({ "python_env.yaml": `python: "${python}"\n` })
  // Awaited here: the project folder is removed when this function returns.
  return await prepareEnvironment({ project: p.project, manager: "virtualenv", emit: () => {}, env, rebuild: false })
}

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000)

const deadPid = async (): Promise<number> => {
  const child = Bun.spawn(["true"])
  await child.exited
  return child.pid
}

/** What a build killed by SIGKILL leaves: its prefix, and its lock file naming a process that is gone. */
const crashedBuild = async (root: string, key: string): Promise<string> => {
  mkdirSync(join(root, key, "bin"), { recursive: true })
  writeFileSync(entryPaths(root, key).lock, JSON.stringify({ pid: await deadPid(), start: null, host: hostname(), since: Date.now(), token: "t", children: [] }))
  return join(root, key)
}

describe("mlproject env", () => {
  test("list shows key, manager, python, size and last use; crash leftovers are marked", async () => {
    const env = isolatedEnv()
    const prepared = await build("3.11", env)
    const root = envRoot(env)
    await crashedBuild(root, "virtualenv-00000000000000aa")
    // Named like ours, but no manifest and no lock: someone else's folder.
    mkdirSync(join(root, "virtualenv-00000000000000ff"))
    const { code, rec } = await envCli(["list"], env)
    expect(code).toBe(0)
    const listed = rec.of("env.listed")[0] as unknown as { root: string; envs: EnvEntry[] }
    expect(listed.root).toBe(root)
    expect(listed.envs.map((e) => [e.key, e.manager, e.python, e.complete, e.owned])).toEqual([
      ["virtualenv-00000000000000aa", "virtualenv", null, false, true],
      ["virtualenv-00000000000000ff", "virtualenv", null, false, false],
      [prepared.key, prepared.manager, installedPython("3.11"), true, true],
    ])
    const built = listed.envs[2] as EnvEntry
    expect(built.bytes).toBeGreaterThan(1_000_000)
    expect(built.prefix).toBe(prepared.prefix)
    const text = envListedText({ type: "env.listed", ...listed })
    expect(text).toContain("KEY")
    expect(text).toContain(`${prepared.key}  ${prepared.manager}`)
    expect(text).toContain("incomplete (crashed or building)")
    expect(text).toContain("not ours (left alone)")
    expect(text).toContain("just now")
  }, 60_000)

  test("gc removes environments unused for longer than --older-than and crash leftovers, keeps the rest and those being built", async () => {
    const env = isolatedEnv()
    const old = await build("3.11", env)
    const recent = await build("3.12", env)
    const root = envRoot(env)
    utimesSync(entryPaths(root, old.key).manifest, daysAgo(40), daysAgo(40))
    const leftover = await crashedBuild(root, "virtualenv-00000000000000bb")
    const foreign = join(root, "conda-00000000000000dd")
    mkdirSync(foreign)
    const building = join(root, "uv-00000000000000cc")
    mkdirSync(building)
    // A live build holds its lock: gc must not touch it.
    const lock = await acquireLock(entryPaths(root, "uv-00000000000000cc").lock)
    try {
      const { code, rec } = await envCli(["gc", "--older-than", "30d"], env)
      expect(code).toBe(0)
      expect(rec.of("env.removed").map((e) => `${e.key} ${e.reason}`).sort()).toEqual([`${old.key} unused`, "virtualenv-00000000000000bb incomplete"].sort())
      expect(rec.of("env.collected")[0]).toMatchObject({ removed: 2, kept: 1, busy: 1, unknown: 1 })
      expect(existsSync(old.prefix)).toBe(false)
      expect(existsSync(entryPaths(root, old.key).manifest)).toBe(false)
      expect(existsSync(entryPaths(root, old.key).log)).toBe(false)
      expect(existsSync(leftover)).toBe(false)
      expect(existsSync(entryPaths(root, "virtualenv-00000000000000bb").lock)).toBe(false)
      expect(existsSync(foreign)).toBe(true)
      expect(existsSync(recent.prefix)).toBe(true)
      expect(existsSync(building)).toBe(true)
    } finally {
      lock.release()
    }
    const all = await envCli(["gc", "--all"], env)
    // Once its lock is released without a manifest, nothing says the folder is ours (a failed build removes its own).
    expect(all.rec.of("env.removed").map((e) => e.key)).toEqual([recent.key])
    expect(all.rec.of("env.collected")[0]).toMatchObject({ unknown: 2 })
    expect(existsSync(building)).toBe(true)
    expect(existsSync(recent.prefix)).toBe(false)
    expect(existsSync(foreign)).toBe(true)
  }, 60_000)

  test("a live lease keeps an environment through gc --all; a lease whose process is gone does not", async () => {
    const env = isolatedEnv()
    const used = await build("3.11", env)
    const stale = await build("3.12", env)
    const root = envRoot(env)
    const lease = takeLease(entryPaths(root, used.key).leases)
    const deadLease = join(entryPaths(root, stale.key).leases, `${hostTag()}-${await deadPid()}-1-00000000.lease`)
    mkdirSync(dirname(deadLease), { recursive: true })
    writeFileSync(deadLease, "")
    try {
      const { rec } = await envCli(["gc", "--all"], env)
      expect(rec.of("env.removed").map((e) => e.key)).toEqual([stale.key])
      expect(rec.of("env.collected")[0]).toMatchObject({ removed: 1, busy: 1 })
      expect(existsSync(used.prefix)).toBe(true)
      expect(existsSync(entryPaths(root, used.key).manifest)).toBe(true)
      expect(existsSync(dirname(deadLease))).toBe(false)
    } finally {
      lease.release()
    }
    const { rec } = await envCli(["gc", "--all"], env)
    expect(rec.of("env.removed").map((e) => e.key)).toEqual([used.key])
    expect(existsSync(entryPaths(root, used.key).leases)).toBe(false)
  }, 60_000)

  test("a removed environment is rebuilt on the next use, not resurrected by its last-use stamp", async () => {
    const env = isolatedEnv()
    const first = await build("3.11", env)
    await envCli(["gc", "--all"], env)
    const again = await build("3.11", env)
    expect(again).toMatchObject({ key: first.key, cached: false })
  }, 60_000)

  test("usage errors", async () => {
    const env = isolatedEnv()
    await expect(envCli([], env)).rejects.toMatchObject({ code: "usage", message: "mlproject env needs an action: list or gc" })
    await expect(envCli(["prune"], env)).rejects.toMatchObject({ code: "usage", message: "unknown action 'prune' for mlproject env" })
    await expect(envCli(["gc", "--older-than", "soon"], env)).rejects.toMatchObject({ code: "usage" })
    await expect(envCli(["gc", "--all", "--older-than", "1d"], env)).rejects.toMatchObject({ code: "usage" })
    await expect(envCli(["list", "--all"], env)).rejects.toMatchObject({ code: "usage" })
    const empty = await envCli(["list"], env)
    expect(envListedText(empty.rec.events[0] as never)).toBe(`no environments in ${envRoot(env)}\n`)
  })

  test.each([
    ["45s", 45_000],
    ["90m", 5_400_000],
    ["12h", 43_200_000],
    ["30d", 2_592_000_000],
    ["2w", 1_209_600_000],
    ["1.5d", 129_600_000],
  ])("--older-than %s", (text, ms) => {
    expect(parseAge(text)).toBe(ms)
  })
})
