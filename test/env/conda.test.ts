// conda environments through a recording conda stand-in (test/lib/fake-conda): command lines, prefix, activation.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { activatedEnv, wrapCommand } from "../../src/env/activate.ts"
import { prepareEnvironment, type PrepareInput } from "../../src/env/index.ts"
import { envProject, installedPython, isolatedEnv, recorder, removeEnvHomes } from "../lib/env-project.ts"

afterAll(removeEnvHomes, 60_000)

const standIn = resolve(import.meta.dir, "..", "lib", "fake-conda", "conda")
type Call = { exe: string; argv: string[]; cwd: string }

/** A conda installation folder whose bin/ holds the stand-in under the names given. */
const condaHome = (names: string[] = ["conda"]) => {
  const home = mkdtempSync(join(tmpdir(), "mlproject-condahome-"))
  mkdirSync(join(home, "bin"))
  for (const name of names) symlinkSync(standIn, join(home, "bin", name))
  const log = join(home, "calls.jsonl")
  const calls = (): Call[] =>
    existsSync(log)
      ? readFileSync(log, "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Call)
      : []
  return { home, log, calls }
}

const prepare = (project: PrepareInput["project"], env: PrepareInput["env"], options: { rebuild?: boolean; verbose?: boolean } = {}) => {
  const rec = recorder()
  return { rec, result: prepareEnvironment({ project, manager: "conda", emit: rec.emit, env, rebuild: options.rebuild ?? false, verbose: options.verbose }) }
}

const failure = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    return error as { code: string; message: string; hint?: string; exitCode: number }
  }
  throw new Error("expected a failure")
}

const condaYaml = "name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.10\n  - pip\n  - pip:\n      - -r requirements.txt\n"

describe("conda environments", () => {
  test("MLFLOW_CONDA_HOME's conda creates a prefix in our cache with `env create --prefix --file`; variables run inside it", async () => {
    await using p = envProject({ "conda.yaml": condaYaml, "requirements.txt": "mlp_alpha\n" })
    const conda = condaHome()
    const env = isolatedEnv({ MLFLOW_CONDA_HOME: conda.home, FAKE_CONDA_LOG: conda.log })
    const { rec, result } = prepare(p.project, env, { verbose: true })
    const prepared = await result
    expect(prepared).toMatchObject({ manager: "conda", tag: "conda", cached: false, python: installedPython("3.10") })
    expect(prepared.key).toMatch(/^conda-[0-9a-f]{16}$/)
    expect(prepared.prefix).toBe(join(String(env.MLPROJECT_HOME), "envs", prepared.key))
    // conda's documented CLI: conda env create -p/--prefix PATH -f/--file FILE (run from the project folder).
    expect(conda.calls()).toEqual([{ exe: "conda", argv: ["env", "create", "--prefix", prepared.prefix, "--file", join(p.dir, "conda.yaml")], cwd: p.dir }])
    expect(rec.of("log").some((e) => String(e.line).includes("Successfully installed mlp_alpha"))).toBe(true)
    expect(prepared.vars).toMatchObject({ CONDA_PREFIX: prepared.prefix, CONDA_DEFAULT_ENV: prepared.prefix, CONDA_SHLVL: "1" })
    expect(prepared.vars.PATH?.startsWith(`${prepared.prefix}/bin:`)).toBe(true)
    const run = Bun.spawnSync(["bash", "-c", wrapCommand(prepared, 'python -c "import sys, mlp_alpha; print(sys.prefix)"')], {
      env: activatedEnv(prepared, env) as Record<string, string>,
    })
    expect(run.stdout.toString().trim()).toBe(prepared.prefix)

    // Same conda.yaml, reformatted and renamed: the same environment, and conda is not called again.
    p.write("conda.yaml", `# a comment\nname: other-name\n${condaYaml.split("\n").slice(1).join("\n")}`)
    const again = await prepare(p.project, env).result
    expect(again).toMatchObject({ cached: true, key: prepared.key })
    expect(conda.calls()).toHaveLength(1)
  }, 60_000)

  test("MLFLOW_CONDA_CREATE_ENV_CMD=mamba creates with mamba from CONDA_EXE's folder; hooks in activate.d run before the command", async () => {
    await using p = envProject({ "conda.yaml": "dependencies:\n  - python=3.11\n  - activation-hook\n" })
    const conda = condaHome(["conda", "mamba"])
    const env = isolatedEnv({ CONDA_EXE: join(conda.home, "bin", "conda"), MLFLOW_CONDA_CREATE_ENV_CMD: "mamba", FAKE_CONDA_LOG: conda.log })
    const prepared = await prepare(p.project, env).result
    expect(conda.calls().map((c) => [c.exe, ...c.argv])).toEqual([["mamba", "env", "create", "--prefix", prepared.prefix, "--file", join(p.dir, "conda.yaml")]])
    expect(prepared.scripts).toEqual([join(prepared.prefix, "etc", "conda", "activate.d", "activation-hook.sh")])
    const run = Bun.spawnSync(["bash", "-c", wrapCommand(prepared, 'echo "hook ran: $ACTIVATION_HOOK_RAN"')], {
      env: activatedEnv(prepared, env) as Record<string, string>,
      stderr: "pipe",
    })
    // The hook's own output goes to stderr, as MLflow sends `conda activate` there: stdout is the command's.
    expect(run.stdout.toString()).toBe("hook ran: 1\n")
    expect(run.stderr.toString()).toBe("hook says hello\n")
  }, 60_000)

  test("conda's own error is shown and the failed prefix removed", async () => {
    await using p = envProject({ "conda.yaml": "dependencies:\n  - python=3.11\n  - does-not-exist\n" })
    const conda = condaHome()
    const env = isolatedEnv({ MLFLOW_CONDA_HOME: conda.home, FAKE_CONDA_LOG: conda.log })
    const { rec, result } = prepare(p.project, env)
    const error = await failure(result)
    expect(error.code).toBe("env.build.failed")
    expect(error.exitCode).toBe(1)
    expect(error.message).toContain("PackagesNotFoundError: The following packages are not available from current channels:")
    expect(error.hint).toStartWith("full log: ")
    expect(existsSync(String(rec.of("env.creating")[0]?.prefix))).toBe(false)
  }, 60_000)

  test("no conda anywhere: MLflow's message, exit 2", async () => {
    await using p = envProject({ "conda.yaml": condaYaml, "requirements.txt": "" })
    const error = await failure(prepare(p.project, isolatedEnv({ PATH: "/usr/bin:/bin" })).result)
    expect(error.code).toBe("env.conda.missing")
    expect(error.exitCode).toBe(2)
    expect(error.message).toStartWith("Could not find Conda executable at conda. Ensure Conda is installed as per the instructions at")
  })

  test("a create command that does not exist: MLflow's MLFLOW_CONDA_CREATE_ENV_CMD message, exit 2", async () => {
    await using p = envProject({ "conda.yaml": condaYaml, "requirements.txt": "" })
    const conda = condaHome()
    const error = await failure(prepare(p.project, isolatedEnv({ MLFLOW_CONDA_HOME: conda.home, MLFLOW_CONDA_CREATE_ENV_CMD: "micromamba" })).result)
    expect(error.message).toStartWith(`You have set the env variable MLFLOW_CONDA_CREATE_ENV_CMD, but ${join(conda.home, "bin", "micromamba")} does not exist`)
    expect(error.exitCode).toBe(2)
  })

  test("a python_env project cannot use conda (MLflow's message)", async () => {
    await using p = envProject({ "python_env.yaml": 'python: "3.11"\n' })
    const error = await failure(prepare(p.project, isolatedEnv()).result)
    expect(error.message).toBe("python_env project cannot be executed using conda. Set `--env-manager` to 'virtualenv' or 'local' to execute this project.")
  })
})
