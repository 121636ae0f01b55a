// Startup benchmark: `mlproject --version`, `describe <example>` and `log metric` (one call inside an active run, into a
// file store) against a compiled Bun hello-world, the floor, and `bash -c true` for scale.
// Usage: bun scripts/bench/startup.ts  (ROUNDS=N; BASELINE_BINARY=<an earlier build> measures it in the same rounds)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { compileHelloWorld, goal, measure, readBackFromDisk, report, useOwnHome, type Case } from "./lib.ts"

const root = join(import.meta.dir, "..", "..")
const binary = join(root, "dist", "mlproject")
const example = join(root, "examples", "hello")
const rounds = Number(process.env.ROUNDS ?? 60)
const baseline = process.env.BASELINE_BINARY

const hello = await compileHelloWorld()
const work = mkdtempSync(join(tmpdir(), "mlproject-bench-startup-"))
useOwnHome(work)

/** A FINISHED run in a fresh file store, for `log metric` to write into as an entry point would (MLFLOW_RUN_ID set). */
const activeRun = (bin: string, name: string): Record<string, string> => {
  const project = join(work, name)
  Bun.spawnSync(["mkdir", "-p", project])
  writeFileSync(join(project, "MLproject"), 'name: bench\nentry_points:\n  main:\n    command: "true"\n')
  const trackingUri = `file://${join(work, name, "mlruns")}`
  const run = Bun.spawnSync([bin, "run", project, "--json"], { cwd: work, env: { ...process.env, MLFLOW_TRACKING_URI: trackingUri }, stdout: "pipe", stderr: "pipe" })
  const finished = run.stdout.toString().trim().split("\n").map((line) => JSON.parse(line)).find((e) => e.type === "run.finished")
  if (run.exitCode !== 0 || !finished) throw new Error(`creating the run for log metric failed: ${run.stderr.toString()}`)
  return { MLFLOW_TRACKING_URI: trackingUri, MLFLOW_RUN_ID: finished.run_id as string }
}

const casesOf = (bin: string, label: string): Case[] => [
  { name: `${label} --version`, argv: [bin, "--version"] },
  { name: `${label} describe examples/hello`, argv: [bin, "describe", example] },
  { name: `${label} log metric (per call)`, argv: [bin, "log", "metric", "loss", "0.25"], env: activeRun(bin, label.replaceAll(" ", "-")) },
]

try {
  const ours = "mlproject"
  // The floor, this build and the baseline all start as installed binaries do (see readBackFromDisk).
  readBackFromDisk([hello, binary, ...(baseline ? [baseline] : [])])
  const medians = measure(
    [
      { name: "hello-world (compiled Bun)", argv: [hello] },
      { name: "bash -c true", argv: ["bash", "-c", "true"] },
      ...casesOf(binary, ours),
      ...(baseline ? casesOf(baseline, "baseline") : []),
    ],
    rounds,
  )
  const floor = medians.get("hello-world (compiled Bun)") ?? NaN
  const at = (name: string) => medians.get(name) ?? NaN
  report(`startup, median of ${rounds} interleaved runs (floor: compiled hello-world ${floor.toFixed(2)} ms)`, medians, "hello-world (compiled Bun)")
  goal("hello-world: mlproject --version", at(`${ours} --version`) / floor, 1.5)
  goal("hello-world: mlproject describe examples/hello", at(`${ours} describe examples/hello`) / floor, 2)
  goal("mlproject --version: log metric per call", at(`${ours} log metric (per call)`) / at(`${ours} --version`), 1.5)
} finally {
  rmSync(work, { recursive: true, force: true })
  rmSync(dirname(hello), { recursive: true, force: true })
}
