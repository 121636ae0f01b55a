// Sweep and detach benchmarks, each against its floor measured in the same run: (a) 64 × 0.5 s trials with -j 8 against
// the ideal 4 s; (b) 64 trivial trials with -j 2 against 64 sequential `mlproject run`s; (c) `run --detach` until it
// returns against a synchronous run of the same trivial entry point.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { measure, median, report } from "./lib.ts"

const binary = join(import.meta.dir, "..", "..", "dist", "mlproject")
const work = mkdtempSync(join(tmpdir(), "mlproject-bench-sweep-"))
const project = join(work, "project")
Bun.spawnSync(["mkdir", "-p", project])
writeFileSync(
  join(project, "MLproject"),
  "name: bench\nentry_points:\n  main:\n    parameters:\n      i: {type: int, default: 0}\n    command: \"true {i}\"\n  sleepy:\n    parameters:\n      i: {type: int, default: 0}\n    command: \"sleep 0.5 # {i}\"\n",
)
const env = { ...process.env, MLPROJECT_HOME: join(work, "home"), MLFLOW_TRACKING_URI: join(work, "mlruns") }
const timed = (argv: string[]): number => {
  const started = performance.now()
  const result = Bun.spawnSync(argv, { cwd: work, env, stdout: "ignore", stderr: "pipe" })
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${result.exitCode}): ${result.stderr.toString()}`)
  return performance.now() - started
}
const rounds = Number(process.env.ROUNDS ?? 3)

try {
  // Warm the caches (parse cache, records folder) once.
  timed([binary, "run", project])
  const sleepy = [...Array(rounds)].map(() => timed([binary, "sweep", project, "-e", "sleepy", "-P", "i=1:64:1", "-j", "8"]))
  const ideal = (64 * 500) / 8
  console.log(`(a) 64 trials of 0.5 s with -j 8, median of ${rounds}: ${median(sleepy).toFixed(0)} ms against the ideal ${ideal} ms: ${(median(sleepy) / ideal).toFixed(2)}x  goal: <= 1.15x`)

  const sweepTrivial = [...Array(rounds)].map(() => timed([binary, "sweep", project, "-P", "i=1:64:1", "-j", "2"]))
  const sequential = [...Array(rounds)].map(() => {
    const started = performance.now()
    for (let i = 1; i <= 64; i++) timed([binary, "run", project, "-P", `i=${i}`])
    return performance.now() - started
  })
  console.log(
    `(b) 64 trivial trials with -j 2: ${median(sweepTrivial).toFixed(0)} ms against 64 sequential runs: ${median(sequential).toFixed(0)} ms: ${(median(sweepTrivial) / median(sequential)).toFixed(2)}x  goal: <= 0.6x`,
  )

  const medians = measure(
    [
      { name: "mlproject run (true)", argv: [binary, "run", project], cwd: work, env },
      { name: "mlproject run --detach (true)", argv: [binary, "run", project, "--detach"], cwd: work, env },
    ],
    Number(process.env.DETACH_ROUNDS ?? 30),
  )
  report("(c) run --detach until it returns, against a synchronous run", medians, "mlproject run (true)", { "mlproject run --detach (true)": "<= 1.2x" })
} finally {
  Bun.spawnSync(["sleep", "1"])
  rmSync(work, { recursive: true, force: true })
}
