// `mlproject sweep URI -P a=0.1,0.5 -P b=0.1:0.9:0.2 [--random N --seed S] [-j N] [--metric M --minimize|--maximize]`.
import { ToolError } from "../errors.ts"
import { runSweep } from "../run/sweep.ts"
import { gridTrials, parseAxis, randomTrials } from "../run/sweep-grid.ts"
import type { Parsed } from "./args.ts"
import type { Command } from "./context.ts"
import { runOptions, toRequest } from "./run.ts"

// A sweep owns its trials' runs: these run flags make no sense for it.
const notForSweeps = new Set(["run-id", "dry-run", "detach"])

const wholeNumber = (flag: string, raw: string | undefined, fallback: number, max: number): number => {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || value < 1 || value > max) throw new ToolError("usage", `${flag} ${raw}: expected a whole number from 1 to ${max}`)
  return value
}

const goalOf = (parsed: Parsed): "minimize" | "maximize" => {
  if (parsed.flags.minimize && parsed.flags.maximize) throw new ToolError("usage", "--minimize and --maximize cannot both be given")
  return parsed.flags.maximize ? "maximize" : "minimize"
}

export const sweepCommand: Command = {
  name: "sweep",
  usage: "mlproject sweep [URI] [-e ENTRY_POINT] -P NAME=VALUES ... [options]",
  summary: [
    "Run an entry point over a grid of parameter values (or random picks from it) as child runs of one parent run",
    "(mlflow.parentRunId), up to -j at a time, each under its own supervisor; the project is fetched, loaded and its",
    "environment built once. VALUES is a list (0.1,0.5,1.0), a range START:STOP:STEP (both ends included) or one value.",
    "With --metric, the trials are ranked by that metric and the best run is named on the parent run.",
    "Exit codes: 0 every trial finished, 1 a trial failed, 2 invalid input, 130 interrupted (running trials are KILLED).",
  ].join("\n"),
  maxPositionals: 1,
  options: [
    ...runOptions.filter((option) => !notForSweeps.has(option.long)),
    { long: "jobs", short: "j", kind: "value", metavar: "N", description: "how many trials run at once (default 1)" },
    { long: "random", kind: "value", metavar: "N", description: "run N trials picked at random from the grid instead of all of it" },
    { long: "seed", kind: "value", metavar: "S", description: "the seed of --random (default 0): the same seed picks the same trials" },
    { long: "metric", kind: "value", metavar: "NAME", description: "rank the trials by this metric (read back from the store)" },
    { long: "minimize", kind: "flag", description: "the best trial has the lowest --metric (the default)" },
    { long: "maximize", kind: "flag", description: "the best trial has the highest --metric" },
    { long: "fail-fast", kind: "flag", description: "stop at the first failed trial: the running ones are cancelled, no more start" },
  ],
  async execute(parsed, context) {
    const base = toRequest(parsed, context.env)
    if (base.params.length === 0) throw new ToolError("usage", "a sweep needs at least one -P NAME=VALUES", { hint: "for example -P alpha=0.1,0.5,1.0 -P l1=0.1:0.9:0.2" })
    const axes = base.params.map(([name, spec]) => parseAxis(name, spec))
    const count = parsed.values.random === undefined ? null : wholeNumber("--random", parsed.values.random, 1, 1_000_000)
    const seed = parsed.values.seed === undefined ? 0 : Number(parsed.values.seed)
    if (!Number.isSafeInteger(seed)) throw new ToolError("usage", `--seed ${parsed.values.seed}: expected a whole number`)
    const trials = count === null ? gridTrials(axes) : randomTrials(axes, count, seed)
    const metric = parsed.values.metric
    if (metric === undefined && (parsed.flags.minimize || parsed.flags.maximize)) throw new ToolError("usage", "--minimize and --maximize need --metric NAME")
    return runSweep(
      {
        base: { ...base, params: [] },
        trials,
        parallel: wholeNumber("--jobs", parsed.values.jobs, 1, 256),
        metric: metric === undefined ? null : { name: metric, goal: goalOf(parsed) },
        failFast: parsed.flags["fail-fast"] ?? false,
      },
      context,
    )
  },
}
