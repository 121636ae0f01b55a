// Real virtualenvs from pyenv's Pythons and a local wheelhouse: build, run inside, cache, rebuild, failures.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { activatedEnv } from "../../src/env/activate.ts"
import { entryPaths } from "../../src/env/cache.ts"
import { prepareEnvironment, type PrepareInput } from "../../src/env/index.ts"
import { envProject, fivePackages, installedPython, isolatedEnv, recorder, removeEnvHomes } from "../lib/env-project.ts"

afterAll(removeEnvHomes, 60_000)

// Builds take a second or two alone, several when the machine is busy.
const slow = 60_000

const prepare = (project: PrepareInput["project"], env: PrepareInput["env"], extra: Partial<PrepareInput> = {}) => {
  const rec = recorder()
  const result = prepareEnvironment({ project, manager: "virtualenv", emit: rec.emit, env, rebuild: false, ...extra })
  return { rec, result }
}

/** Runs `bash -c command` inside the prepared environment, the way the local backend will. */
const inside = (prepared: Awaited<ReturnType<typeof prepareEnvironment>>, env: PrepareInput["env"], command: string, cwd: string) => {
  const child = Bun.spawnSync(["bash", "-c", command], { cwd, env: activatedEnv(prepared, env) as Record<string, string>, stderr: "pipe" })
  return { code: child.exitCode, stdout: child.stdout.toString().trim(), stderr: child.stderr.toString() }
}

const rejection = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    return error as { code: string; message: string; hint?: string; exitCode: number; location?: { file?: string; line?: number } }
  }
  throw new Error("expected a failure")
}

describe("virtualenv environments", () => {
  test("builds with pyenv's Python and five local wheels, runs the command through variables only, then hits the cache", async () => {
    await using p = envProject(fivePackages("3.11"))
    const env = isolatedEnv()
    const first = prepare(p.project, env)
    const prepared = await first.result
    expect(prepared).toMatchObject({ cached: false, python: installedPython("3.11"), tag: "virtualenv" })
    expect(prepared.key).toMatch(/^(virtualenv|uv)-[0-9a-f]{16}$/)
    expect(prepared.vars.VIRTUAL_ENV).toBe(prepared.prefix)
    expect(prepared.vars.PATH?.startsWith(`${prepared.prefix}/bin:`)).toBe(true)
    expect(first.rec.of("env.creating")).toHaveLength(1)
    expect(first.rec.of("env.progress").filter((e) => e.detail === undefined).map((e) => e.step)).toEqual(["creating the virtualenv", "installing dependencies"])
    // Without verbose, pip's output goes to the log file only; progress says what it does.
    expect(first.rec.of("log")).toEqual([])
    expect(readFileSync(String(first.rec.of("env.creating")[0]?.log), "utf8")).toContain("Successfully installed mlp_alpha-1.0.0")
    expect(first.rec.of("env.progress").filter((e) => e.detail !== undefined).every((e) => e.step === "installing dependencies")).toBe(true)
    expect(first.rec.events.at(-1)).toEqual({ type: "env.ready", manager: prepared.manager, key: prepared.key, cached: false })

    const run = inside(prepared, env, 'python -c "import sys, mlp_alpha, mlp_epsilon; print(sys.prefix, mlp_alpha.VERSION)" && command -v pip', p.dir)
    expect(run.stderr).toBe("")
    expect(run.stdout.split("\n")).toEqual([`${prepared.prefix} 1.0.0`, join(prepared.prefix, "bin", "pip")])
    // The seeded pip is a working pip of this environment.
    expect(inside(prepared, env, "pip --version", p.dir).stdout).toContain(`${prepared.prefix}/lib/python3.11/site-packages/pip`)

    const second = prepare(p.project, env)
    const again = await second.result
    expect(again).toMatchObject({ cached: true, key: prepared.key, prefix: prepared.prefix, python: installedPython("3.11") })
    expect(second.rec.events).toEqual([{ type: "env.ready", manager: prepared.manager, key: prepared.key, cached: true }])
  }, slow)

  test("a change to a referenced requirements.txt builds a new environment; --rebuild-env rebuilds the same one", async () => {
    await using p = envProject(fivePackages("3.11"))
    const env = isolatedEnv()
    const first = await prepare(p.project, env).result
    p.write("requirements.txt", "mlp_alpha==2.0.0\n")
    const changed = await prepare(p.project, env).result
    expect(changed.cached).toBe(false)
    expect(changed.key).not.toBe(first.key)
    expect(inside(changed, env, 'python -c "import mlp_alpha; print(mlp_alpha.VERSION)"', p.dir).stdout).toBe("2.0.0")
    expect(existsSync(first.prefix)).toBe(true)

    const rebuild = prepare(p.project, env, { rebuild: true })
    const rebuilt = await rebuild.result
    expect(rebuilt).toMatchObject({ cached: false, key: changed.key })
    expect(rebuild.rec.of("env.creating")).toHaveLength(1)
  }, slow)

  test("an exact X.Y.Z of an older Python; build_dependencies [pip] is satisfied offline by the seeded pip", async () => {
    await using p = envProject({
      "python_env.yaml": `python: "${installedPython("3.8")}"\nbuild_dependencies:\n  - pip\ndependencies:\n  - mlp_beta==1.0.0\n`,
    })
    const env = isolatedEnv()
    const { rec, result } = prepare(p.project, env)
    const prepared = await result
    expect(prepared.python).toBe(installedPython("3.8"))
    expect(rec.of("env.progress").filter((e) => e.detail === undefined).map((e) => e.step)).toEqual(["creating the virtualenv", "installing build_dependencies", "installing dependencies"])
    expect(inside(prepared, env, 'python -c "import sys, mlp_beta; print(sys.version_info[:2])"', p.dir).stdout).toBe("(3, 8)")
  }, slow)

  test("no python in python_env.yaml: the python3 on PATH decides, as in MLflow", async () => {
    await using p = envProject({ "python_env.yaml": "dependencies: [mlp_gamma]\n" })
    const env = isolatedEnv()
    const expected = Bun.spawnSync(["python3", "-c", 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { env: env as Record<string, string> })
    const prepared = await prepare(p.project, env).result
    expect(prepared.python).toBe(expected.stdout.toString().trim())
  }, slow)

  test("conda.yaml with --env-manager virtualenv is converted, with MLflow's warning for dropped conda packages", async () => {
    await using p = envProject({
      "conda.yaml": "name: demo\ndependencies:\n  - python=3.11\n  - numpy\n  - pip:\n      - -r requirements.txt\n",
      "requirements.txt": "mlp_delta\n",
    })
    const env = isolatedEnv()
    const { rec, result } = prepare(p.project, env)
    const prepared = await result
    expect(prepared).toMatchObject({ python: installedPython("3.11"), tag: "virtualenv" })
    expect(rec.of("warning")).toMatchObject([
      { message: "The following conda dependencies will not be installed in the resulting environment: ['numpy']", file: join(p.dir, "conda.yaml") },
    ])
    expect(inside(prepared, env, 'python -c "import mlp_delta"', p.dir).code).toBe(0)
  }, slow)

  test("MLFLOW_ENV_ROOT holds the environments when set", async () => {
    await using p = envProject({ "python_env.yaml": 'python: "3.11"\n' })
    const env = isolatedEnv()
    const root = join(String(env.MLPROJECT_HOME), "elsewhere")
    const prepared = await prepare(p.project, { ...env, MLFLOW_ENV_ROOT: root }).result
    expect(prepared.prefix).toBe(join(root, prepared.key))
    expect(existsSync(join(root, `${prepared.key}.json`))).toBe(true)
  }, slow)
})

describe("virtualenv failures", () => {
  test("pip's own error is shown, its full log is kept, and nothing half-built is left to trust", async () => {
    await using p = envProject({ "python_env.yaml": 'python: "3.11"\ndependencies:\n  - mlp_alpha\n  - mlp_missing==9.9\n' })
    const env = isolatedEnv()
    const { rec, result } = prepare(p.project, env)
    const error = await rejection(result)
    expect(error.code).toBe("env.build.failed")
    expect(error.exitCode).toBe(1)
    expect(error.message).toStartWith("pip install (dependencies) exited with code 1:\nERROR: Could not find a version that satisfies the requirement mlp_missing==9.9")
    const key = String(rec.of("env.creating")[0]?.key)
    const paths = entryPaths(join(String(env.MLPROJECT_HOME), "envs"), key)
    expect(error.hint).toBe(`full log: ${paths.log}`)
    expect(readFileSync(paths.log, "utf8")).toContain("No matching distribution found for mlp_missing==9.9")
    expect(existsSync(paths.prefix)).toBe(false)
    expect(existsSync(paths.manifest)).toBe(false)
    expect(existsSync(paths.lock)).toBe(false)
  }, slow)

  test("an unreadable requirements file is a located input error (exit 2) before anything is built", async () => {
    await using p = envProject({ "python_env.yaml": 'python: "3.11"\ndependencies:\n  - -r reqs/missing.txt\n' })
    const env = isolatedEnv()
    const error = await rejection(prepare(p.project, env).result)
    expect(error).toMatchObject({ code: "env.requirements.unreadable", exitCode: 2, location: { file: join(p.dir, "python_env.yaml") } })
    expect(error.message).toContain("reqs/missing.txt")
    expect(existsSync(join(String(env.MLPROJECT_HOME), "envs"))).toBe(false)
  }, slow)

  test("a Python version pyenv does not know: MLflow's message, exit 2", async () => {
    await using p = envProject({ "python_env.yaml": 'python: "3.99"\n' })
    const error = await rejection(prepare(p.project, isolatedEnv()).result)
    expect(error).toMatchObject({ code: "env.python.unavailable", exitCode: 2 })
    expect(error.message).toBe("Python 3.99 is not available: Could not find python version that matches 3.99")
  }, slow)

  test("a Python version that is not installed, without pyenv: say what to install, exit 2", async () => {
    await using p = envProject({ "python_env.yaml": 'python: "3.99.1"\n' })
    const error = await rejection(prepare(p.project, isolatedEnv({ PATH: "/usr/bin:/bin", PYENV_ROOT: "/nonexistent" })).result)
    expect(error).toMatchObject({ code: "env.pyenv.missing", exitCode: 2 })
    expect(error.hint).toContain("https://github.com/pyenv/pyenv#installation")
  }, slow)

  test("--env-manager uv without uv on PATH: a clear error, exit 2", async () => {
    await using p = envProject({ "python_env.yaml": 'python: "3.11"\n' })
    const error = await rejection(prepare(p.project, isolatedEnv({ PATH: "/usr/bin:/bin" }), { manager: "uv" }).result)
    expect(error).toMatchObject({ code: "env.uv.missing", exitCode: 2 })
    expect(error.hint).toContain("https://docs.astral.sh/uv/")
  }, slow)

  test("an invalid python_env.yaml is reported where it is wrong (exit 2)", async () => {
    await using p = envProject({ "python_env.yaml": "python: 3.10\n" })
    const error = await rejection(prepare(p.project, isolatedEnv()).result)
    expect(error).toMatchObject({ code: "python_env.invalid", exitCode: 2, location: { file: join(p.dir, "python_env.yaml"), line: 1 } })
  }, slow)
})
