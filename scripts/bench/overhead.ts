// Run overhead: `mlproject run` of a `true` entry point (recorded in a file store) against `bash -c true`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { measure, report } from "./lib.ts"

const binary = join(import.meta.dir, "..", "..", "dist", "mlproject")
const work = mkdtempSync(join(tmpdir(), "mlproject-bench-"))
const project = join(work, "project")
Bun.spawnSync(["mkdir", "-p", project])
writeFileSync(join(project, "MLproject"), "name: bench\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n    command: \"true {alpha}\"\n")
const rounds = Number(process.env.ROUNDS ?? 40)
const baseline = process.env.BASELINE_BINARY

try {
  const medians = measure(
    [
      { name: "bash -c true", argv: ["bash", "-c", "true"], cwd: work },
      { name: "mlproject run (true)", argv: [binary, "run", project, "-P", "alpha=0.1"], cwd: work },
      { name: "mlproject run --json (true)", argv: [binary, "run", project, "--json"], cwd: work },
      // A project run for the first time parses its MLproject: the parse cache off shows that cost.
      { name: "mlproject run, parse cache off", argv: [binary, "run", project, "-P", "alpha=0.1"], cwd: work, env: { MLPROJECT_PARSE_CACHE: "false" } },
      // BASELINE_BINARY=<an earlier build> measures it in the same interleaved rounds: "no slower than before" in one run.
      ...(baseline ? [{ name: "baseline build: run (true)", argv: [baseline, "run", project, "-P", "alpha=0.1"], cwd: work }] : []),
    ],
    rounds,
  )
  report(`run overhead, median of ${rounds} interleaved runs (file store in ${work}/mlruns)`, medians, "bash -c true", {
    "mlproject run (true)": "overhead <= 25 ms",
  })
} finally {
  rmSync(work, { recursive: true, force: true })
}
