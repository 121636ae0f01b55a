// `mlproject log param|metric|tag|artifact|batch …`: writes into the active run from an entry point in any language.
import { concerningRun, ToolError } from "../errors.ts"
import type { Emit } from "../events/event.ts"
import { parsePythonFloat } from "../tracking/metric-line.ts"
import { activeRun, logToRun, readBatch, type LogRequest, type LogResult } from "../tracking/rest-log.ts"
import type { Parsed } from "./args.ts"
import type { Command } from "./context.ts"

export type RunLoggedEvent = { type: "run.logged" } & LogResult

const usage = (message: string) => new ToolError("usage", message, { hint: "see 'mlproject log --help'" })

const forms: Record<string, string> = {
  param: "log param KEY VALUE",
  metric: "log metric KEY VALUE [--step N] [--timestamp MS]",
  tag: "log tag KEY VALUE",
  artifact: "log artifact FILE|DIR [--path DIR]",
  batch: "log batch FILE|- (or --json FILE|-)",
}

// MLflow stores both as 64-bit integers; past 2^53 a number no longer holds the exact value, and a timestamp is never negative.
const wholeNumber = (flag: string, raw: string | undefined, fallback: number, min: number): number => {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (raw.trim() === "" || !Number.isSafeInteger(value) || value < min) {
    throw usage(`--${flag} ${raw}: expected a whole number from ${min} to ${Number.MAX_SAFE_INTEGER}`)
  }
  return value
}

const arity = (kind: string, args: string[], count: number): string[] => {
  if (args.length !== count) throw usage(`expected 'mlproject ${forms[kind]}'${args.length > count ? `, got an extra '${args[count]}'` : ""}`)
  return args
}

const toRequest = async (parsed: Parsed, now: number, signal: AbortSignal): Promise<LogRequest> => {
  const [kind = "", ...args] = parsed.positionals
  if (kind === "param" || kind === "tag") {
    const [key = "", value = ""] = arity(kind, args, 2)
    return { kind, key, value }
  }
  if (kind === "metric") {
    const [key = "", raw = ""] = arity(kind, args, 2)
    // Python's float(): what `mlflow.log_metric(key, float(value))` would accept, nan and inf included.
    const value = parsePythonFloat(raw)
    if (value === null) throw usage(`metric '${key}': '${raw}' is not a number (negative numbers go after --: log metric ${key} -- -1.5)`)
    return { kind, key, value, step: wholeNumber("step", parsed.values.step, 0, -Number.MAX_SAFE_INTEGER), timestamp: wholeNumber("timestamp", parsed.values.timestamp, now, 0) }
  }
  if (kind === "artifact") {
    const [localPath = ""] = arity(kind, args, 1)
    return { kind, localPath, artifactPath: parsed.values.path }
  }
  if (kind === "batch") {
    const [source = ""] = arity(kind, args, 1)
    return { kind, batch: await readBatch(source, now, signal) }
  }
  throw usage(kind === "" ? "say what to log: param, metric, tag, artifact or batch" : `unknown kind '${kind}': expected param, metric, tag, artifact or batch`)
}

// Until src/events/event.ts lists run.logged, the event goes through this one cast.
const emitLogged = (emit: Emit, event: RunLoggedEvent): void => (emit as unknown as (event: RunLoggedEvent) => void)(event)

export const logCommand: Command = {
  name: "log",
  usage: "mlproject log param|metric|tag|artifact|batch ARGS [options]",
  summary: [
    "Log to the active run (MLFLOW_RUN_ID in MLFLOW_TRACKING_URI, as `mlproject run` gives its entry point):",
    ...Object.values(forms).map((form) => `  mlproject ${form}`),
    "A batch file is MLflow's log-batch JSON: {\"metrics\":[{\"key\",\"value\",\"timestamp\"?,\"step\"?}],\"params\":[{\"key\",\"value\"}],\"tags\":[…]}.",
    "Negative values go after --: mlproject log metric delta -- -0.5",
  ].join("\n"),
  maxPositionals: 3,
  options: [
    { long: "step", kind: "value", metavar: "N", description: "metric step (default 0)" },
    { long: "timestamp", kind: "value", metavar: "MS", description: "metric time in milliseconds since the epoch (default now)" },
    { long: "path", kind: "value", metavar: "DIR", description: "artifact folder inside the run's artifacts (default: the root)" },
    { long: "run-id", kind: "value", metavar: "RUN_ID", env: "MLFLOW_RUN_ID", description: "the run to log to" },
  ],
  async execute(parsed, context) {
    const target = activeRun(context.env, context.cwd, parsed.values["run-id"])
    try {
      const request = await toRequest(parsed, Date.now(), context.interrupt)
      emitLogged(context.emit, { type: "run.logged", ...(await logToRun(target, request, context.env, { signal: context.interrupt })) })
    } catch (error) {
      throw concerningRun(error, target.runId)
    }
    return 0
  },
}
