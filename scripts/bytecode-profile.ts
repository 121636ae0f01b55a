// Records which functions the common command lines use (BUN_BYTECODE_ORDER_OUT), for the build's bytecode layout.
// Each is run in a throwaway sandbox: its own project, tracking stores and MLPROJECT_HOME, nothing of the user's.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

// Startup code runs once: a higher tier-up threshold keeps it in the interpreter instead of compiling it (about 1 ms
// and 1.5 MiB of a run). src/bin.ts restores the normal policy once the command has run for a moment.
export const startupJitPolicy = 10

type Profiled = { name: string; argv: string[]; env?: Record<string, string> }

const project = 'name: profile\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n    command: "true {alpha}"\n'

/** Runs `binary` once per command line, most common first; returns the order files written, in that order. */
export const recordProfiles = (binary: string, outDir: string): string[] => {
  const sandbox = mkdtempSync(join(tmpdir(), "mlproject-profile-"))
  try {
    const dir = join(sandbox, "project")
    mkdirSync(dir)
    writeFileSync(join(dir, "MLproject"), project)
    const base = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: sandbox, MLPROJECT_HOME: join(sandbox, "home"), MLFLOW_TRACKING_URI: `file://${join(sandbox, "mlruns")}` }
    const runOnce = (argv: string[], env: Record<string, string>, order?: string) =>
      Bun.spawnSync([binary, ...argv], { cwd: sandbox, env: { ...base, ...env, ...(order ? { BUN_BYTECODE_ORDER_OUT: order } : {}) }, stdout: "pipe", stderr: "pipe" })
    // A run to log into, made without recording: `log metric` is profiled as an entry point calls it.
    const made = runOnce(["run", dir, "--json"], {})
    const runId = made.stdout.toString().match(/"type":"run\.finished","run_id":"([0-9a-f]+)"/)?.[1]
    const profiled: Profiled[] = [
      { name: "run", argv: ["run", dir, "-P", "alpha=0.1"] },
      { name: "describe", argv: ["describe", dir] },
      ...(runId ? [{ name: "log-metric", argv: ["log", "metric", "loss", "0.25"], env: { MLFLOW_RUN_ID: runId } }] : []),
      { name: "run-sqlite", argv: ["run", dir], env: { MLFLOW_TRACKING_URI: `sqlite:///${join(sandbox, "mlflow.db")}` } },
      { name: "run-json", argv: ["run", dir, "--json"] },
      { name: "validate", argv: ["validate", dir] },
      { name: "help", argv: ["--help"] },
    ]
    mkdirSync(outDir, { recursive: true })
    const written: string[] = []
    for (const { name, argv, env } of profiled) {
      const order = join(outDir, `${name}.order`)
      const result = runOnce(argv, env ?? {}, order)
      if (result.exitCode !== 0) {
        console.error(`bytecode profile '${name}' skipped: mlproject ${argv.join(" ")} exited ${result.exitCode}: ${result.stderr.toString().trim()}`)
        continue
      }
      written.push(order)
    }
    return written
  } finally {
    rmSync(sandbox, { recursive: true, force: true })
  }
}
