// `mlproject run` of a python_env project through the compiled binary: a real venv from local wheels, cached, tagged.
import { afterAll, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { cli } from "../lib/cli.ts"
import { isolatedEnv, removeEnvHomes } from "../lib/env-project.ts"
import { readRun } from "../lib/mlruns.ts"
import { tmpdirFor } from "../lib/tmp.ts"

afterAll(removeEnvHomes)

const program = "import sys, mlp_alpha, mlp_beta; print(sys.prefix); print(mlp_alpha.__file__); print(sys.argv[1])"

test("a python_env project runs inside its own cached virtualenv and is tagged virtualenv", async () => {
  await using dir = tmpdirFor()
  dir.write("project/python_env.yaml", 'python: "3.11"\nbuild_dependencies: []\ndependencies:\n  - -r requirements.txt\n')
  dir.write("project/requirements.txt", "mlp_alpha==1.0.0\nmlp_beta\n")
  dir.write("project/MLproject", `name: venv\nentry_points:\n  main:\n    parameters:\n      word: string\n    command: "python -c '${program}' {word}"\n`)
  const env = isolatedEnv()
  const first = await cli(["run", "project", "-P", "word=it's ok", "--json"], { cwd: dir.path, env })
  expect(first.code, first.stdout).toBe(0)
  expect(first.events.some((e) => e.type === "env.creating")).toBe(true)
  const ready = first.events.find((e) => e.type === "env.ready") as Record<string, unknown>
  expect(ready).toMatchObject({ manager: "virtualenv", cached: false })
  const lines = first.events.filter((e) => e.type === "log" && e.stream === "stdout").map((e) => e.line as string)
  const prefix = lines[0] as string
  expect(prefix.startsWith(join(env.MLPROJECT_HOME as string, "envs"))).toBe(true)
  expect(lines[1]?.startsWith(prefix)).toBe(true)
  expect(lines[2]).toBe("it's ok")
  const done = first.events.at(-1) as Record<string, unknown>
  expect(done).toMatchObject({ type: "run.finished", status: "FINISHED" })
  expect(readRun(join(dir.path, "mlruns"), "0", done.run_id as string).tags["mlflow.project.env"]).toBe("virtualenv")

  const second = await cli(["run", "project", "-P", "word=again", "--json"], { cwd: dir.path, env })
  expect(second.code).toBe(0)
  expect(second.events.find((e) => e.type === "env.ready")).toMatchObject({ manager: "virtualenv", cached: true, key: ready.key })
  expect(second.events.some((e) => e.type === "env.creating")).toBe(false)

  // The cached load keeps python_env.yaml as parsed: an edit to it must still be what the next run builds.
  dir.write("project/python_env.yaml", 'python: "3.11"\nbuild_dependencies: []\ndependencies:\n  - mlp_beta\n  - -r requirements.txt\n')
  const edited = await cli(["run", "project", "-P", "word=edited", "--json"], { cwd: dir.path, env })
  expect(edited.code, edited.stdout).toBe(0)
  const rebuilt = edited.events.find((e) => e.type === "env.ready") as Record<string, unknown>
  expect(rebuilt).toMatchObject({ manager: "virtualenv", cached: false })
  expect(rebuilt.key).not.toBe(ready.key)
}, 180_000)

test("a python_env project with --env-manager local runs in the current environment, with no env tag", async () => {
  await using dir = tmpdirFor()
  dir.write("project/python_env.yaml", 'python: "3.11"\ndependencies: [mlp_alpha]\n')
  dir.write("project/MLproject", "entry_points:\n  main:\n    command: 'echo local'\n")
  const result = await cli(["run", "project", "--env-manager", "local", "--json"], { cwd: dir.path, env: isolatedEnv() })
  expect(result.code).toBe(0)
  expect(result.events.some((e) => e.type === "env.creating")).toBe(false)
  const done = result.events.at(-1) as Record<string, unknown>
  expect(readRun(join(dir.path, "mlruns"), "0", done.run_id as string).tags).not.toHaveProperty("mlflow.project.env")
})

test("a missing requirements file is refused before any run exists", async () => {
  await using dir = tmpdirFor()
  dir.write("project/python_env.yaml", 'python: "3.11"\ndependencies: ["-r missing.txt"]\n')
  dir.write("project/MLproject", "entry_points:\n  main:\n    command: 'true'\n")
  const result = await cli(["run", "project"], { cwd: dir.path, env: isolatedEnv() })
  expect(result.code).toBe(2)
  expect(result.stderr).toContain("missing.txt")
  expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
})
