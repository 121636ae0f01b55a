// Pack benchmark, one run: a cold `mlproject run FILE.mlpack` of a python_env project (verify + unpack + environment from
// the packed wheels + a trivial entry point) against making the same environment by hand with `python -m venv` and
// `pip install --no-index --find-links` of the same wheels. Goal ≤ 0.5×.
// Usage: bun scripts/bench/pack.ts [--rounds N]
import { copyFileSync, mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { median } from "./lib.ts"

const root = join(import.meta.dir, "..", "..")
const binary = join(root, "dist", "mlproject")
const argv = process.argv.slice(2)
const rounds = argv.includes("--rounds") ? Number(argv[argv.indexOf("--rounds") + 1]) : 3
const python = join(process.env.PYENV_ROOT ?? join(process.env.HOME ?? "/root", ".pyenv"), "versions", "3.11.7", "bin", "python")

const { tmpdirFor } = await import("../../test/lib/tmp.ts")
const { wheelhouse } = await import("../../test/lib/wheels.ts")
const { nativeWheel } = await import("../../test/lib/native-wheel.ts")
await using dir = tmpdirFor("mlproject-bench-pack-")
const wheels = join(dir.path, "wheels")
mkdirSync(wheels)
copyFileSync(join(wheelhouse(), "mlp_alpha-1.0.0-py3-none-any.whl"), join(wheels, "mlp_alpha-1.0.0-py3-none-any.whl"))
await nativeWheel(python, wheels)
dir.write("project/python_env.yaml", "python: '3.11'\nbuild_dependencies: []\ndependencies: [mlp_alpha, mlp_native]\n")
dir.write("project/MLproject", "name: bench\npython_env: python_env.yaml\nentry_points:\n  main:\n    command: python -c 'import mlp_alpha, mlp_native'\n")
const pip = { PIP_CONFIG_FILE: "/dev/null", PIP_NO_INDEX: "1", PIP_FIND_LINKS: wheels, PIP_DISABLE_PIP_VERSION_CHECK: "1" }
const env = { ...process.env, ...pip, MLFLOW_TRACKING_URI: join(dir.path, "mlruns") }

const time = async (command: string[], extra: Record<string, string> = {}): Promise<number> => {
  const started = performance.now()
  const child = Bun.spawn(command, { cwd: dir.path, env: { ...env, ...extra }, stdout: "pipe", stderr: "pipe" })
  const [, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  if (code !== 0) throw new Error(`${command.join(" ")} failed (${code}): ${stderr}`)
  return performance.now() - started
}

const pack = join(dir.path, "bench.mlpack")
await time([binary, "pack", join(dir.path, "project"), "-o", pack])
const ours: number[] = []
const byHand: number[] = []
for (let i = 0; i < rounds; i++) {
  // Cold: a fresh MLPROJECT_HOME has neither the unpacked pack nor the environment.
  const home = join(dir.path, `home-${i}`)
  ours.push(await time([binary, "run", pack], { MLPROJECT_HOME: home }))
  rmSync(home, { recursive: true, force: true })
  const venv = join(dir.path, `venv-${i}`)
  byHand.push(
    await time(["sh", "-c", `"$0" -m venv "$1" && "$1/bin/pip" install -q --no-index --find-links "$2" mlp_alpha mlp_native`, python, venv, wheels]),
  )
  rmSync(venv, { recursive: true, force: true })
}
const [a, b] = [median(ours), median(byHand)]
console.log(`pack: ${rounds} rounds, medians`)
console.log(`  python -m venv + pip install --no-index (baseline)   ${b.toFixed(0).padStart(6)} ms`)
console.log(`  mlproject run FILE.mlpack, cold                       ${a.toFixed(0).padStart(6)} ms  (${(a / b).toFixed(2)}x baseline)  goal: ≤ 0.5x`)
