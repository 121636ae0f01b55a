// `mlproject log param|metric|tag|artifact|batch …`: writes into the active run from an entry point in any language.
import { concerningRun, ToolError } from "../errors.ts"
import type { Emit } from "../events/event.ts"
import { parsePythonFloat } from "../tracking/metric-line.ts"
import { activeRun, logToRun, type LogRequest, type LogResult, type LogTarget } from "../tracking/rest-log.ts"
import type { Parsed } from "./args.ts"
import type { Command, CommandContext } from "./context.ts"

export type RunLoggedEvent = { type: "run.logged" } & LogResult

const usage = (message: string) => new ToolError("usage", message, { hint: "see 'mlproject log --help'" })

const forms: Record<string, string> = {
  param: "log param KEY VALUE",
  metric: "log metric KEY VALUE [--step N] [--timestamp MS]",
  tag: "log tag KEY VALUE",
  artifact: "log artifact FILE|DIR [--path DIR]",
  batch: "log batch FILE|- [--flush-lines N] [--flush-interval DURATION]",
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

const toRequest = (parsed: Parsed, now: number): LogRequest => {
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
  throw usage(kind === "" ? "say what to log: param, metric, tag, artifact or batch" : `unknown kind '${kind}': expected param, metric, tag, artifact or batch`)
}

const logged = async (parsed: Parsed, target: LogTarget, context: CommandContext): Promise<LogResult> => {
  const [kind, ...args] = parsed.positionals
  if (kind !== "batch") return logToRun(target, toRequest(parsed, Date.now()), context.env, { signal: context.interrupt })
  const [source = ""] = arity(kind, args, 1)
  // A batch is a loop over thousands of lines, not run-once startup code: let the JIT compile it as soon as it would.
  Bun.unsafe.setJITPolicy(1)
  // Loaded for batches only: `log metric` in a training loop pays for its own path alone, once per step.
  const [{ logInput }, { parseDuration }] = await Promise.all([import("../tracking/log-stream.ts"), import("../util/duration.ts")])
  return logInput(target, source, context.env, {
    flushLines: wholeNumber("flush-lines", parsed.values["flush-lines"], 1000, 1),
    flushMs: parsed.values["flush-interval"] === undefined ? 1000 : parseDuration(parsed.values["flush-interval"], "--flush-interval"),
    signal: context.interrupt,
    sendSignal: context.forceInterrupt,
  })
}

// Until src/events/event.ts lists run.logged, the event goes through this one cast.
const emitLogged = (emit: Emit, event: RunLoggedEvent): void => (emit as unknown as (event: RunLoggedEvent) => void)(event)

export const logCommand: Command = {
  name: "log",
  usage: "mlproject log param|metric|tag|artifact|batch ARGS [options]",
  summary: [
    "Log to the active run (MLFLOW_RUN_ID in MLFLOW_TRACKING_URI, as `mlproject run` gives its entry point):",
    ...Object.values(forms).map((form) => `  mlproject ${form}`),
    "A batch is MLflow's log-batch JSON: {\"metrics\":[{\"key\",\"value\",\"timestamp\"?,\"step\"?}],\"params\":[{\"key\",\"value\"}],\"tags\":[…]},",
    "or JSON lines (a training loop's pipe), logged as they arrive: one object a line, {\"key\":\"loss\",\"value\":0.5,\"step\":3}",
    "(a metric; \"timestamp\" defaults to when the line was read), {\"kind\":\"param\"|\"tag\",\"key\",\"value\"}, or a whole",
    "log-batch object. Sent every --flush-lines lines or --flush-interval, and at the end; a bad line stops",
    "with exit 2 after the lines before it were logged; an interrupt logs the lines read and exits 130.",
    "Negative values go after --: mlproject log metric delta -- -0.5",
  ].join("\n"),
  maxPositionals: 3,
  options: [
    { long: "step", kind: "value", metavar: "N", description: "metric step (default 0)" },
    { long: "timestamp", kind: "value", metavar: "MS", description: "metric time in milliseconds since the epoch (default now)" },
    { long: "path", kind: "value", metavar: "DIR", description: "artifact folder inside the run's artifacts (default: the root)" },
    { long: "flush-lines", kind: "value", metavar: "N", description: "batch from JSON lines: send once N lines wait (default 1000)" },
    { long: "flush-interval", kind: "value", metavar: "DURATION", description: "batch from JSON lines: send lines that waited this long (default 1s; 250ms, 5s)" },
    { long: "run-id", kind: "value", metavar: "RUN_ID", env: "MLFLOW_RUN_ID", description: "the run to log to" },
  ],
  async execute(parsed, context) {
    const target = activeRun(context.env, context.cwd, parsed.values["run-id"])
    try {
      emitLogged(context.emit, { type: "run.logged", ...(await logged(parsed, target, context)) })
    } catch (error) {
      throw concerningRun(error, target.runId)
    }
    return 0
  },
}
