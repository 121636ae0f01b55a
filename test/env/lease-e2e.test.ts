// A run holds a lease on the environment it runs in: env gc, cache gc and another run's --rebuild-env leave it alone.
import { afterAll, expect, test } from "bun:test"
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli, startRun } from "../lib/cli.ts"
import { isolatedEnv, removeEnvHomes } from "../lib/env-project.ts"
import { tmpdirFor } from "../lib/tmp.ts"

afterAll(removeEnvHomes)

// Prints "ready", then waits for the test to say "go", then uses a package from the environment.
const program = "import os, sys, time, mlp_alpha; print('ready', flush=True); [time.sleep(0.05) for _ in iter(lambda: os.path.exists(sys.argv[1]), True)]; print(mlp_alpha.__name__)"

test("env gc --all, cache gc and --rebuild-env skip an environment a live run uses; once the run ends gc removes it", async () => {
  await using dir = tmpdirFor("mlproject-lease-")
  dir.write("project/python_env.yaml", 'python: "3.11"\nbuild_dependencies: []\ndependencies: [mlp_alpha]\n')
  dir.write("project/MLproject", `name: lease\nentry_points:\n  main:\n    parameters:\n      go: string\n    command: "python -c \\"${program}\\" {go}"\n`)
  const go = join(dir.path, "go")
  const env = isolatedEnv()
  const live = startRun(dir.path, ["project", "-P", `go=${go}`], env)
  await live.ready
  const ready = live.events.find((e) => e.type === "env.ready") as { key: string }
  const prefix = join(env.MLPROJECT_HOME as string, "envs", ready.key)

  const gc = await cli(["env", "gc", "--all", "--json"], { env })
  expect(gc.code).toBe(0)
  expect(gc.events.find((e) => e.type === "env.collected")).toMatchObject({ removed: 0, busy: 1 })
  const listed = await cli(["env", "list", "--json"], { env })
  expect((listed.events.find((e) => e.type === "env.listed") as unknown as { envs: Array<{ key: string; in_use: number }> }).envs).toEqual([
    expect.objectContaining({ key: ready.key, in_use: 1 }),
  ])
  const cacheGc = await cli(["cache", "gc", "--max-size", "0", "--kind", "envs", "--json"], { env })
  expect(cacheGc.code).toBe(0)
  expect(cacheGc.events.filter((e) => e.type === "cache.removed")).toEqual([])
  expect(cacheGc.events.find((e) => e.type === "cache.collected")).toMatchObject({ removed: 0, busy: 1 })
  const rebuild = await cli(["run", "project", "-P", `go=${go}`, "--rebuild-env", "--json"], { cwd: dir.path, env })
  expect(rebuild.code).toBe(1)
  expect(rebuild.events.find((e) => e.type === "error")).toMatchObject({ code: "env.busy" })
  expect(existsSync(join(prefix, "bin", "python"))).toBe(true)

  writeFileSync(go, "")
  expect(await live.child.exited).toBe(0)
  await live.reading
  expect(live.events.at(-1)).toMatchObject({ type: "run.finished", status: "FINISHED" })
  expect(live.events.some((e) => e.type === "log" && e.line === "mlp_alpha")).toBe(true)

  const after = await cli(["env", "gc", "--all", "--json"], { env })
  expect(after.events.find((e) => e.type === "env.collected")).toMatchObject({ removed: 1, busy: 0 })
  expect(existsSync(prefix)).toBe(false)
}, 180_000)
