// Entry point: argv → command → exit code. The only place that sets the process exit code.
import { openSync, writeSync } from "node:fs"
import { ToolError } from "./errors.ts"
import type { Emit, Event } from "./events/event.ts"
import { human } from "./events/human.ts"
import { json, tee } from "./events/json.ts"
import { version } from "./version.ts"
import { parseArgs } from "./cli/args.ts"
import { commonOptions, type Command, type CommandContext } from "./cli/context.ts"

const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./cli/run.ts")).runCommand,
  validate: async () => (await import("./cli/validate.ts")).validateCommand,
  describe: async () => (await import("./cli/describe.ts")).describeCommand,
  env: async () => (await import("./cli/env.ts")).envCommand,
  log: async () => (await import("./cli/log.ts")).logCommand,
  runs: async () => (await import("./cli/runs.ts")).runsCommand,
}

const topHelp = `Usage: mlproject <command> [options]

Run MLflow Projects from one self-contained executable.

Commands:
  run [URI]        run an entry point of a project and record it in an MLflow tracking store
  validate [URI]   check a project's MLproject file and list every error and warning
  describe [URI]   show a project's environment, entry points and parameters
  log KIND ...     log a param, metric, tag, artifact or batch to the active run (MLFLOW_RUN_ID)
  runs show ID     show a run's status, params, metrics and tags
  env list|gc      show or remove cached python_env/conda environments

Options:
  --version        print the version
  -h, --help       show this help ('mlproject <command> --help' for a command's options)
  --json           print one JSON object per line instead of text

URI is a project folder (default '.').`

/** Writes JSON lines to `-` (stdout), `fd:N` or a file, for a wrapper following a run a person is watching. */
const eventsSink = (target: string): Emit => {
  if (target === "-") return json(process.stdout)
  if (target.startsWith("fd:")) {
    const fd = Number(target.slice(3))
    if (!Number.isInteger(fd) || fd < 0) throw new ToolError("usage", `--events ${target}: expected fd:N with a descriptor number`)
    return json({ write: (text: string) => writeSync(fd, text) })
  }
  try {
    const fd = openSync(target, "a")
    return json({ write: (text: string) => writeSync(fd, text) })
  } catch (error) {
    throw new ToolError("usage", `--events ${target}: cannot open for writing (${(error as NodeJS.ErrnoException).code})`)
  }
}

const errorEvent = (error: unknown): { event: Event; exitCode: number } => {
  if (error instanceof ToolError) {
    return {
      exitCode: error.exitCode,
      event: {
        type: "error",
        code: error.code,
        message: error.message,
        ...(error.hint ? { hint: error.hint } : {}),
        ...(error.location?.file ? { file: error.location.file } : {}),
        ...(error.location?.line ? { line: error.location.line } : {}),
        ...(error.location?.column ? { column: error.location.column } : {}),
      },
    }
  }
  const detail = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error)
  return {
    exitCode: 1,
    event: {
      type: "error",
      code: "internal",
      message: `internal error (a bug in mlproject ${version}): ${detail}`,
      hint: "please report it with the command you ran",
    },
  }
}

type Interrupts = { interrupt: AbortSignal; forceInterrupt: AbortSignal }

/**
 * A call stopped by an interrupt rejects with the signal's reason (the signal name) or an AbortError: that is the
 * user's interrupt, not a bug, and ends the command with exit 130 whatever was waiting.
 */
const interruption = (error: unknown, signals: Interrupts | null): ToolError | null => {
  if (!signals?.interrupt.aborted || error instanceof ToolError) return null
  const name = (error as Error)?.name
  if (error !== signals.interrupt.reason && error !== signals.forceInterrupt.reason && name !== "AbortError" && name !== "TimeoutError") return null
  return new ToolError("interrupted", `interrupted by ${String(signals.interrupt.reason)}: stopped`, { exitCode: 130 })
}

/** SIGINT/SIGTERM/SIGHUP become aborts: the first asks the run to stop, the second forces it. */
const interrupts = (): Interrupts => {
  const first = new AbortController()
  const second = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => (first.signal.aborted ? second.abort(signal) : first.abort(signal))
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal)
  return { interrupt: first.signal, forceInterrupt: second.signal }
}

// The command's interrupt signals, once it has them: the exit below needs to know whether one came.
let signals: Interrupts | null = null
const interrupted = (): boolean => signals?.interrupt.aborted ?? false

const main = async (argv: string[]): Promise<number> => {
  const wantsJson = argv.includes("--json")
  let emit: Emit = wantsJson ? json(process.stdout) : human(process.stdout, process.stderr)
  try {
    const [first, ...rest] = argv
    if (first === "--version" || first === "-V") return emit({ type: "version", version }), 0
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      const target = first === "help" ? rest[0] : undefined
      if (!target) return emit({ type: "help", command: "", text: topHelp }), 0
      return main([target, "--help"])
    }
    if (first === "--json" && rest.length === 0) return emit({ type: "help", command: "", text: topHelp }), 0
    const load = commands[first]
    if (!load) {
      throw new ToolError("usage", `unknown command '${first}'`, { hint: "commands: run, validate, describe, log, runs, env (see 'mlproject --help')" })
    }
    const command = await load()
    const options = [...command.options, ...commonOptions]
    const parsed = parseArgs(command.name, rest, options, command.maxPositionals)
    if (parsed.flags.help) {
      const { helpText } = await import("./cli/args.ts")
      return emit({ type: "help", command: command.name, text: helpText(command.usage, command.summary, options) }), 0
    }
    const events = parsed.values.events
    if (events !== undefined) emit = tee(emit, eventsSink(events))
    signals = interrupts()
    const context: CommandContext = {
      emit,
      env: process.env,
      cwd: process.cwd(),
      captureOutput: wantsJson || events !== undefined,
      ...signals,
    }
    return await command.execute(parsed, context)
  } catch (error) {
    const { event, exitCode } = errorEvent(interruption(error, signals) ?? error)
    emit(event)
    return exitCode
  }
}

process.exitCode = await main(process.argv.slice(2))
// Signal handlers must not keep a finished command alive.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal)
// After an interrupt nothing may hold the exit: work that could not be cancelled (an SDK call that takes no signal)
// was abandoned, and its open socket would keep the process alive until the call gave up by itself.
if (interrupted()) {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))))
  process.exit()
}
