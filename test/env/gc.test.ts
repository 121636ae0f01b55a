// `mlproject env list|gc`: what is listed, what gc removes and what it must leave alone.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, utimesSync } from "node:fs"
import { join } from "node:path"
import { envCommand } from "../../src/cli/env.ts"
import { parseArgs } from "../../src/cli/args.ts"
import type { CommandContext } from "../../src/cli/context.ts"
import { entryPaths, envRoot } from "../../src/env/cache.ts"
import type { EnvEntry } from "../../src/env/events.ts"
import { parseAge } from "../../src/env/gc.ts"
import { prepareEnvironment } from "../../src/env/index.ts"
import { acquireLock } from "../../src/util/lock.ts"
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
  return prepareEnvironment({ project: p.project, manager: "virtualenv", emit: () => {}, env, rebuild: false })
}

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000)

describe("mlproject env", () => {
  test("list shows key, manager, python, size and last use; crash leftovers are marked", async () => {
    const env = isolatedEnv()
    const prepared = await build("3.11", env)
    const root = envRoot(env)
    mkdirSync(join(root, "virtualenv-00000000000000aa", "bin"), { recursive: true })
    const { code, rec } = await envCli(["list"], env)
    expect(code).toBe(0)
    const listed = rec.of("env.listed")[0] as unknown as { root: string; envs: EnvEntry[] }
    expect(listed.root).toBe(root)
    expect(listed.envs.map((e) => [e.key, e.manager, e.python, e.complete])).toEqual([
      ["virtualenv-00000000000000aa", "virtualenv", null, false],
      [prepared.key, prepared.manager, installedPython("3.11"), true],
    ])
    const built = listed.envs[1] as EnvEntry
    expect(built.bytes).toBeGreaterThan(1_000_000)
    expect(built.prefix).toBe(prepared.prefix)
    const text = envListedText({ type: "env.listed", ...listed })
    expect(text).toContain("KEY")
    expect(text).toContain(`${prepared.key}  ${prepared.manager}`)
    expect(text).toContain("incomplete (crashed or building)")
    expect(text).toContain("just now")
  }, 60_000)

  test("gc removes environments unused for longer than --older-than and crash leftovers, keeps the rest and those being built", async () => {
    const env = isolatedEnv()
    const old = await build("3.11", env)
    const recent = await build("3.12", env)
    const root = envRoot(env)
    utimesSync(entryPaths(root, old.key).manifest, daysAgo(40), daysAgo(40))
    const leftover = join(root, "virtualenv-00000000000000bb")
    mkdirSync(leftover)
    const building = join(root, "uv-00000000000000cc")
    mkdirSync(building)
    // A live build holds its lock: gc must not touch it.
    const lock = await acquireLock(entryPaths(root, "uv-00000000000000cc").lock)
    try {
      const { code, rec } = await envCli(["gc", "--older-than", "30d"], env)
      expect(code).toBe(0)
      expect(rec.of("env.removed").map((e) => `${e.key} ${e.reason}`).sort()).toEqual([`${old.key} unused`, "virtualenv-00000000000000bb incomplete"].sort())
      expect(rec.of("env.collected")[0]).toMatchObject({ removed: 2, kept: 1, busy: 1 })
      expect(existsSync(old.prefix)).toBe(false)
      expect(existsSync(entryPaths(root, old.key).manifest)).toBe(false)
      expect(existsSync(entryPaths(root, old.key).log)).toBe(false)
      expect(existsSync(leftover)).toBe(false)
      expect(existsSync(recent.prefix)).toBe(true)
      expect(existsSync(building)).toBe(true)
    } finally {
      lock.release()
    }
    const all = await envCli(["gc", "--all"], env)
    expect(all.rec.of("env.removed").map((e) => e.key).sort()).toEqual([recent.key, "uv-00000000000000cc"].sort())
    expect(existsSync(recent.prefix)).toBe(false)
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
