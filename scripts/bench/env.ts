// Environment benchmarks: (a) a cold virtualenv with 5 local wheels against venv + pip by hand; (b) a cache hit's overhead.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { activatedEnv } from "../../src/env/activate.ts"
import { prepareEnvironment } from "../../src/env/index.ts"
import { loadProject } from "../../src/project/load.ts"
import { offlinePip, packageNames, wheelhouse } from "../../test/lib/wheels.ts"
import { measure, report } from "./lib.ts"

const python = "3.11"

/**
 * Child mode: `--child hit|cold|local DIR` loads the project (as every run does), prepares its environment
 * (or not, for local) and runs `bash -c true` the way the local backend would.
 */
const child = async (mode: string, dir: string): Promise<void> => {
  let env: Record<string, string | undefined> = process.env
  const { project } = loadProject(dir)
  if (mode !== "local") {
    const prepared = await prepareEnvironment({ project, manager: "virtualenv", emit: () => {}, env, rebuild: mode === "cold" })
    env = activatedEnv(prepared, env)
  }
  const code = await Bun.spawn(["bash", "-c", "true"], { env: env as Record<string, string>, cwd: dir }).exited
  process.exit(code)
}

if (process.argv[2] === "--child") {
  await child(process.argv[3] ?? "", process.argv[4] ?? "")
}

const work = mkdtempSync(join(tmpdir(), "mlproject-bench-env-"))
const project = join(work, "project")
mkdirSync(project)
writeFileSync(join(project, "MLproject"), 'name: bench\nentry_points:\n  main:\n    command: "true"\n')
writeFileSync(join(project, "python_env.yaml"), `python: "${python}"\nbuild_dependencies: []\ndependencies:\n  - -r requirements.txt\n`)
writeFileSync(join(project, "requirements.txt"), `${packageNames.join("\n")}\n`)
const wheels = wheelhouse()
const pyenvRoot = process.env.PYENV_ROOT ?? join(process.env.HOME ?? "/root", ".pyenv")
const interpreter = Bun.spawnSync(["bash", "-c", `ls -d ${pyenvRoot}/versions/${python}.* | sort -V | tail -1`]).stdout.toString().trim()
const env = { ...offlinePip(wheels), MLPROJECT_HOME: join(work, "home") }
const self = import.meta.path
const venvByHand = join(work, "by-hand")
const rounds = Number(process.env.ROUNDS ?? 5)
const hitRounds = Number(process.env.HIT_ROUNDS ?? 30)

try {
  const cold = measure(
    [
      {
        name: "python -m venv + pip install",
        argv: ["bash", "-c", `rm -rf ${venvByHand} && ${interpreter}/bin/python -m venv ${venvByHand} && ${venvByHand}/bin/python -m pip install -q --no-index --find-links ${wheels} ${packageNames.join(" ")}`],
        env,
      },
      { name: "prepareEnvironment (cold)", argv: [process.execPath, self, "--child", "cold", project], env },
    ],
    rounds,
    1,
  )
  report(`(a) cold virtualenv, Python ${interpreter.split("/").at(-1)}, 5 local wheels; median of ${rounds}`, cold, "python -m venv + pip install", {
    "prepareEnvironment (cold)": "<= 0.5x",
  })

  const hit = measure(
    [
      { name: "local: bash -c true", argv: [process.execPath, self, "--child", "local", project], env },
      { name: "cache hit + bash -c true", argv: [process.execPath, self, "--child", "hit", project], env },
    ],
    hitRounds,
  )
  report(`(b) load project + cache hit + run, against load project + run (local); median of ${hitRounds}`, hit, "local: bash -c true", {
    "cache hit + bash -c true": "<= 1.2x",
  })

  // The same comparison through the compiled binary, once `mlproject run` prepares environments.
  const binary = join(import.meta.dir, "..", "..", "dist", "mlproject")
  const runEnv = { ...env, MLFLOW_TRACKING_URI: `file://${join(work, "mlruns")}` }
  const baseline = process.env.BASELINE_BINARY
  const viaBinary = existsSync(binary) && Bun.spawnSync([binary, "run", project, "--env-manager", "virtualenv"], { env: { ...process.env, ...runEnv }, cwd: work }).exitCode === 0
  if (!viaBinary) {
    console.log("(b') mlproject run --env-manager virtualenv: not measured (the binary does not prepare environments yet)")
  } else {
    const runs = measure(
      [
        { name: "mlproject run --env-manager local", argv: [binary, "run", project, "--env-manager", "local"], cwd: work, env: runEnv },
        { name: "mlproject run (virtualenv, cached)", argv: [binary, "run", project], cwd: work, env: runEnv },
        // BASELINE_BINARY=<an earlier build> times it in the same interleaved rounds: "no slower than before" in one run.
        ...(baseline
          ? [
              { name: "baseline build: --env-manager local", argv: [baseline, "run", project, "--env-manager", "local"], cwd: work, env: runEnv },
              { name: "baseline build: virtualenv, cached", argv: [baseline, "run", project], cwd: work, env: runEnv },
            ]
          : []),
      ],
      hitRounds,
    )
    report(`(b') the compiled binary, median of ${hitRounds}`, runs, "mlproject run --env-manager local", { "mlproject run (virtualenv, cached)": "<= 1.2x" })
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
