// The parsed-project cache of `mlproject run`: a hit changes nothing a run sees; any change to what it was read from misses.
import { expect, test } from "bun:test"
import { readdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { cli } from "../lib/cli.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const lines = (events: Array<Record<string, unknown>>) => events.filter((e) => e.type === "log").map((e) => e.line)

test("a repeated run reuses the parsed project, and edits to the MLproject or its env file are seen at once", async () => {
  await using dir = tmpdirFor()
  const home = join(dir.path, "home")
  const env = { MLPROJECT_HOME: home }
  dir.write("project/env.yml", "name: x\ndependencies: [python=3.11]\n")
  dir.write("project/MLproject", "conda_env: env.yml\nentry_points:\n  main:\n    parameters: {a: {type: flaot, default: 1}}\n    command: echo first {a}\n")
  const first = await cli(["run", "project", "--env-manager", "local", "--json"], { cwd: dir.path, env })
  expect(lines(first.events)).toEqual(["first 1"])
  // The parsed project, and the run key's record of the folder's file digests.
  expect(readdirSync(join(home, "parsed")).filter((n) => n.endsWith(".json"))).toHaveLength(2)
  const again = await cli(["run", "project", "--env-manager", "local", "--json"], { cwd: dir.path, env })
  expect(lines(again.events)).toEqual(["first 1"])
  // The cached warnings are reported on every run, as a fresh parse reports them.
  expect(first.events.filter((e) => e.type === "warning").length).toBeGreaterThan(0)
  expect(again.events.filter((e) => e.type === "warning")).toEqual(first.events.filter((e) => e.type === "warning").map((e) => ({ ...e, time: expect.any(String) })))

  dir.write("project/MLproject", "conda_env: env.yml\nentry_points:\n  main:\n    parameters: {a: {type: flaot, default: 1}}\n    command: echo second {a}\n")
  const edited = await cli(["run", "project", "--env-manager", "local", "--json"], { cwd: dir.path, env })
  expect(lines(edited.events)).toEqual(["second 1"])

  rmSync(join(dir.path, "project", "env.yml"))
  const missing = await cli(["run", "project", "--env-manager", "local"], { cwd: dir.path, env })
  expect(missing.code).toBe(2)
  expect(missing.stderr).toContain("env.yml")
})
