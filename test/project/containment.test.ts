// Through the binary: what stays allowed (symlinks inside, FOLDER#SUBDIR roots), where refusals point, and the loader's plain words.
import { describe, expect, test } from "bun:test"
import { mkdirSync, symlinkSync } from "node:fs"
import { join } from "node:path"
import { cli } from "../lib/cli.ts"
import { sh } from "../lib/git.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const validated = (events: Array<Record<string, unknown>>) =>
  events.find((e) => e.type === "project.validated") as { ok: boolean; diagnostics: Array<Record<string, unknown>> }

describe("symlinks that stay inside the project are followed, as in MLflow", () => {
  test("MLproject, python_env.yaml, a requirements file and a script entry point, all symlinked within the folder", async () => {
    await using dir = tmpdirFor()
    dir.write("real/MLproject.yaml", "name: linked\npython_env: python_env.yaml\nentry_points:\n  main: {command: echo main}\n")
    dir.write("real/env.yaml", "dependencies:\n  - -r requirements.txt\n")
    dir.write("real/reqs.txt", "\n")
    dir.write("scripts/run.sh", "echo script ran\n")
    symlinkSync("real/MLproject.yaml", join(dir.path, "MLproject"))
    symlinkSync("real/env.yaml", join(dir.path, "python_env.yaml"))
    symlinkSync("real/reqs.txt", join(dir.path, "requirements.txt"))
    symlinkSync("scripts/run.sh", join(dir.path, "train.sh"))
    const validate = await cli(["validate", dir.path, "--json"])
    expect(validate.code).toBe(0)
    await using cwd = tmpdirFor()
    const run = await cli(["run", dir.path, "-e", "train.sh", "--env-manager", "local", "--json"], { cwd: cwd.path })
    expect(run.code).toBe(0)
    expect(run.events.some((e) => e.type === "log" && e.line === "script ran")).toBe(true)
  })

  test("an env file in the parent folder is outside DIR, but inside the root of DIR#sub", async () => {
    await using repo = tmpdirFor()
    repo.write("environment.yaml", "dependencies: []\n")
    repo.write("src/load/MLproject", "name: load\npython_env: ../../environment.yaml\nentry_points:\n  main: {command: echo hi}\n")
    const alone = await cli(["validate", join(repo.path, "src", "load"), "--json"])
    expect(alone.code).toBe(2)
    const problem = validated(alone.events).diagnostics.find((d) => d.severity === "error")
    expect(problem).toMatchObject({ code: "python_env.invalid", file: join(repo.path, "src", "load", "MLproject") })
    expect(String(problem?.message)).toContain(`../../environment.yaml resolves to ${join(repo.path, "environment.yaml")}, outside the project folder ${join(repo.path, "src", "load")}`)
    expect(String(problem?.hint)).toContain("FOLDER#SUBDIR")
    const rooted = await cli(["validate", `${repo.path}#src/load`, "--json"])
    expect(rooted.code).toBe(0)
    const described = await cli(["describe", `${repo.path}#src/load`, "--json"])
    expect(described.events.find((e) => e.type === "project.described")).toMatchObject({ env: { kind: "python_env", file: `${join(repo.path, "src", "load")}/../../environment.yaml` } })
  })

  // A monorepo step (`conda_env: ../../environment.yaml`) runs as under `mlflow run`: the Git work tree is the root.
  test.each([[false], [true]])("inside a Git work tree (with --version: %p) the repository is the root: ../ env files inside it work", async (withVersion) => {
    await using repo = tmpdirFor()
    repo.write("environment.yaml", "dependencies: []\n")
    repo.write("src/load/MLproject", "name: load\npython_env: ../../environment.yaml\nentry_points:\n  main: {command: echo hi}\n")
    await using outside = tmpdirFor()
    outside.write("outside.yaml", "dependencies: []\n")
    symlinkSync(join(outside.path, "outside.yaml"), join(repo.path, "leak.yaml"))
    repo.write("src/leak/MLproject", "name: leak\npython_env: ../../leak.yaml\nentry_points:\n  main: {command: echo hi}\n")
    sh(["git", "init", "-q", "--initial-branch=main", repo.path])
    sh(["git", "-C", repo.path, "add", "-A"])
    sh(["git", "-C", repo.path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one"])
    await using cwd = tmpdirFor()
    const version = withVersion ? ["-v", "main"] : []
    const step = await cli(["run", join(repo.path, "src", "load"), ...version, "--dry-run", "--json"], { cwd: cwd.path })
    expect(step.code).toBe(0)
    const rooted = await cli(["run", `${repo.path}#src/load`, ...version, "--dry-run", "--json"], { cwd: cwd.path })
    expect(rooted.code).toBe(0)
    // Leaving the repository is still refused.
    const leak = await cli(["run", join(repo.path, "src", "leak"), ...version, "--dry-run", "--json"], { cwd: cwd.path })
    expect(leak.code).toBe(2)
    expect(String(leak.events.at(-1)?.message)).toContain("outside the project folder")
  })

  test("a Git work tree at the home folder is no project root: there the folder named is", async () => {
    await using home = tmpdirFor()
    home.write("environment.yaml", "dependencies: []\n")
    home.write("src/load/MLproject", "name: load\npython_env: ../../environment.yaml\nentry_points:\n  main: {command: echo hi}\n")
    sh(["git", "init", "-q", "--initial-branch=main", home.path])
    const run = await cli(["run", join(home.path, "src", "load"), "--dry-run", "--json"], { cwd: home.path, env: { HOME: home.path } })
    expect(run.code).toBe(2)
    expect(String(run.events.at(-1)?.message)).toContain("outside the project folder")
  })

  test("--env-manager local never reads the env file, so a python_env.yaml that leaves the project does not stop it", async () => {
    await using outside = tmpdirFor()
    outside.write("secret.yaml", "python: '3.11'\n")
    await using dir = tmpdirFor()
    dir.write("MLproject", "name: x\nentry_points:\n  main: {command: echo ok}\n")
    symlinkSync(join(outside.path, "secret.yaml"), join(dir.path, "python_env.yaml"))
    await using cwd = tmpdirFor()
    expect((await cli(["run", dir.path, "--json"], { cwd: cwd.path })).code).toBe(2)
    const local = await cli(["run", dir.path, "--env-manager", "local", "--json"], { cwd: cwd.path })
    expect(local.code).toBe(0)
  })
})

describe("events name files by absolute path", () => {
  test("warning.file and error.file are absolute, whatever the current folder", async () => {
    await using dir = tmpdirFor()
    dir.write("p/MLproject", "name: x\nentry_points:\n  main:\n    parameters:\n      a: {type: flaot, default: 1}\n    command: echo {a}\n  bad:\n    command: echo {nope}\n")
    const described = await cli(["describe", "p", "--json"], { cwd: dir.path })
    expect(described.events.find((e) => e.type === "warning")).toMatchObject({ code: "parameter.type", file: join(dir.path, "p", "MLproject"), line: 5 })
    const failed = await cli(["run", "p", "-e", "bad", "--json"], { cwd: dir.path })
    expect(failed.code).toBe(2)
    expect(failed.events.at(-1)).toMatchObject({ type: "error", code: "entry_point.invalid", file: join(dir.path, "p", "MLproject"), line: 8 })
    const diagnostics = validated((await cli(["validate", "p", "--json"], { cwd: dir.path })).events).diagnostics
    expect(diagnostics.every((d) => d.file === join(dir.path, "p", "MLproject"))).toBe(true)
  })
})

describe("a folder with nothing to run says so", () => {
  test("no MLproject and no script: 'no MLproject in DIR' from run and validate", async () => {
    await using dir = tmpdirFor()
    dir.write("README.md", "hello\n")
    const run = await cli(["run", dir.path, "--json"], { cwd: dir.path })
    expect(run.code).toBe(2)
    expect(run.events.at(-1)).toMatchObject({ type: "error", code: "project.no_mlproject", message: `no MLproject in ${dir.path}, and no .py, .sh or .R script to run with -e` })
    const validate = await cli(["validate", dir.path, "--json"])
    expect(validate.code).toBe(2)
    expect(validated(validate.events).diagnostics).toMatchObject([{ severity: "error", code: "project.nothing_to_run", file: dir.path }])
  })

  test("no MLproject but a script: validate is happy, run -e script.py works, run without -e names the choice", async () => {
    await using dir = tmpdirFor()
    dir.write("src/train.sh", "echo trained\n")
    expect((await cli(["validate", dir.path])).code).toBe(0)
    const bare = await cli(["run", dir.path, "--json"], { cwd: dir.path })
    expect(bare.events.at(-1)).toMatchObject({ code: "project.no_mlproject", message: `no MLproject in ${dir.path}, and 'main' is not a .py, .sh or .R file of the project` })
    const script = await cli(["run", dir.path, "-e", "src/train.sh", "--json"], { cwd: dir.path })
    expect(script.code).toBe(0)
  })

  test("a misspelt entry_points is an error even when the folder has scripts; MLproject without entry points and scripts too", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "name: x\nentry_ponts:\n  main: {command: python train.py}\n")
    dir.write("train.py", "")
    const typo = await cli(["validate", dir.path, "--json"])
    expect(typo.code).toBe(2)
    expect(validated(typo.events).diagnostics.filter((d) => d.severity === "error")).toMatchObject([
      { code: "project.no_entry_points", line: 2, column: 1, message: "MLproject declares no entry points: 'entry_ponts' looks like a misspelt 'entry_points'" },
    ])
    await using bare = tmpdirFor()
    bare.write("MLproject", "name: x\nconda_env: conda.yaml\n")
    bare.write("conda.yaml", "name: x\n")
    const none = await cli(["validate", bare.path, "--json"])
    expect(none.code).toBe(2)
    expect(validated(none.events).diagnostics).toMatchObject([{ code: "project.nothing_to_run", line: 1, column: 1 }])
    bare.write("job.py", "")
    expect((await cli(["validate", bare.path])).code).toBe(0)
  })
})

describe("environment problems are found before the run exists", () => {
  test("a requirement pip would refuse: validate locates it in python_env.yaml; run exits 2 and records nothing", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "name: x\npython_env: python_env.yaml\nentry_points:\n  main: {command: echo hi}\n")
    dir.write("python_env.yaml", 'python: "3.11"\ndependencies:\n  - pandas == 2.1.1\n  - mlflow == 2..7.1\n')
    const validate = await cli(["validate", dir.path, "--json"])
    expect(validate.code).toBe(2)
    expect(validated(validate.events).diagnostics).toMatchObject([{ code: "python_env.invalid", file: join(dir.path, "python_env.yaml"), line: 4, column: 5 }])
    await using cwd = tmpdirFor()
    const run = await cli(["run", dir.path, "--json"], { cwd: cwd.path })
    expect(run.code).toBe(2)
    expect(run.events.at(-1)).toMatchObject({ type: "error", code: "python_env.invalid", file: join(dir.path, "python_env.yaml"), line: 4 })
    expect(run.events.some((e) => e.type === "run.created" || e.type === "env.creating")).toBe(false)
  })

  test("an interpreter nobody has: validate and run point at python: in the env file", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "name: x\npython_env: python_env.yaml\nentry_points:\n  main: {command: echo hi}\n")
    dir.write("python_env.yaml", 'dependencies: []\npython: "3.99"\n')
    // No pyenv and no python3.99: what a node without either sees.
    const env = { PATH: "/usr/bin:/bin", PYENV_ROOT: join(dir.path, "no-pyenv") }
    const validate = await cli(["validate", dir.path, "--json"], { env })
    expect(validate.code).toBe(2)
    expect(validated(validate.events).diagnostics).toMatchObject([{ code: "env.pyenv.missing", file: join(dir.path, "python_env.yaml"), line: 2, column: 9 }])
    await using cwd = tmpdirFor()
    const run = await cli(["run", dir.path, "--json"], { cwd: cwd.path, env })
    expect(run.code).toBe(2)
    expect(run.events.at(-1)).toMatchObject({ type: "error", code: "env.pyenv.missing", file: join(dir.path, "python_env.yaml"), line: 2 })
  })

  test("requirements files that reach each other through self links are read once each: no blow-up, no error", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "name: x\npython_env: python_env.yaml\nentry_points:\n  main: {command: echo hi}\n")
    dir.write("python_env.yaml", "dependencies:\n  - -r r.txt\n")
    dir.write("r.txt", "-r l/r.txt\n-r m/r.txt\n-r l/m/l/r.txt\n-r sub/../r.txt\n")
    mkdirSync(join(dir.path, "sub"))
    symlinkSync(".", join(dir.path, "l"))
    symlinkSync(".", join(dir.path, "m"))
    const validate = await cli(["validate", dir.path, "--json"])
    expect(validate.code).toBe(0)
    expect(validate.ms).toBeLessThan(2000)
  })
})
