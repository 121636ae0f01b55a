// Run overhead: `mlproject run` of a `true {alpha}` entry point, into a file store and into sqlite, against its floor:
// a compiled Bun hello-world plus `bash -c true` (the least any tool that starts and then runs a shell command costs).
// Usage: bun scripts/bench/overhead.ts  (ROUNDS=N; BASELINE_BINARY=<an earlier build> measures it in the same rounds)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { compileHelloWorld, goal, measure, peakRssMiB, readBackFromDisk, report, useOwnHome, type Case } from "./lib.ts"

const binary = join(import.meta.dir, "..", "..", "dist", "mlproject")
const work = mkdtempSync(join(tmpdir(), "mlproject-bench-"))
const project = join(work, "project")
useOwnHome(work)
Bun.spawnSync(["mkdir", "-p", project])
writeFileSync(join(project, "MLproject"), "name: bench\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n    command: \"true {alpha}\"\n")
const rounds = Number(process.env.ROUNDS ?? 40)
const baseline = process.env.BASELINE_BINARY
const fileStore = { MLFLOW_TRACKING_URI: `file://${join(work, "mlruns")}` }
const sqlite = { MLFLOW_TRACKING_URI: `sqlite:///${join(work, "mlflow.db")}` }
const hello = await compileHelloWorld()

const runs = (bin: string, label: string): Case[] => [
  { name: `${label} (true)`, argv: [bin, "run", project, "-P", "alpha=0.1"], cwd: work, env: fileStore },
  { name: `${label} --json (true)`, argv: [bin, "run", project, "--json"], cwd: work, env: fileStore },
  // A project run for the first time parses its MLproject: the parse cache off shows that cost.
  { name: `${label}, parse cache off`, argv: [bin, "run", project, "-P", "alpha=0.1"], cwd: work, env: { ...fileStore, MLPROJECT_PARSE_CACHE: "false" } },
  { name: `${label} into sqlite (true)`, argv: [bin, "run", project, "-P", "alpha=0.1"], cwd: work, env: sqlite },
]

try {
  // The sqlite database exists before the measured runs: creating its schema is a one-time cost, not run overhead.
  for (const env of [fileStore, sqlite]) Bun.spawnSync([binary, "run", project], { cwd: work, env: { ...process.env, ...env }, stdout: "ignore", stderr: "ignore" })
  const cases: Case[] = [
    { name: "hello-world (compiled Bun)", argv: [hello], cwd: work },
    { name: "bash -c true", argv: ["bash", "-c", "true"], cwd: work },
    ...runs(binary, "mlproject run"),
    // BASELINE_BINARY=<an earlier build> measures it in the same interleaved rounds: "no slower than before" in one run.
    ...(baseline ? runs(baseline, "baseline build: run") : []),
  ]
  const rssCases = cases.filter((c) => c.name.endsWith("(true)"))
  // Peak RSS first in the state the binaries are in (this build as the build wrote it), then timing and RSS again
  // with every binary read back from disk, as an installed one is: the times compare code, not page caches.
  const rss = new Map(rssCases.map((c) => [c.name, peakRssMiB(c)]))
  readBackFromDisk([hello, binary, ...(baseline ? [baseline] : [])])
  const medians = measure(cases, rounds)
  const floor = (medians.get("hello-world (compiled Bun)") ?? NaN) + (medians.get("bash -c true") ?? NaN)
  const at = (name: string) => medians.get(name) ?? NaN
  report(`run overhead, median of ${rounds} interleaved runs (stores in ${work}); floor = hello-world + bash -c true = ${floor.toFixed(2)} ms`, medians, "hello-world (compiled Bun)")
  console.log(`  peak RSS (max of 5 runs), binaries as built: ${[...rss].map(([name, mib]) => `${name} ${mib.toFixed(1)} MiB`).join(", ")}`)
  const reread = new Map(rssCases.map((c) => [c.name, peakRssMiB(c)]))
  console.log(`  peak RSS (max of 5 runs), binaries read back from disk: ${[...reread].map(([name, mib]) => `${name} ${mib.toFixed(1)} MiB`).join(", ")}`)
  goal("floor: run (true) into a file store", at("mlproject run (true)") / floor, 2.5)
  goal("floor: run (true) into sqlite", at("mlproject run into sqlite (true)") / floor, 3)
  for (const [state, of] of [["as built", rss], ["read back from disk", reread]] as const) {
    goal(`peak RSS of run (true), file store, binary ${state}`, of.get("mlproject run (true)") ?? NaN, 40, "MiB")
    goal(`peak RSS of run (true), sqlite, binary ${state}`, of.get("mlproject run into sqlite (true)") ?? NaN, 40, "MiB")
  }
} finally {
  rmSync(work, { recursive: true, force: true })
  rmSync(dirname(hello), { recursive: true, force: true })
}
