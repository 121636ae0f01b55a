// The command line behind src/bin.ts: argv → command → exit code. The only place that sets the process exit code.
import { openSync, writeSync } from "node:fs"
import { ToolError } from "./errors.ts"
import { errorEvent } from "./events/error-event.ts"
import type { Emit } from "./events/event.ts"
import { human } from "./events/human.ts"
import { json, tee } from "./events/json.ts"
import { version } from "./version.ts"
import { stderrFd, stdoutFd, writeAll } from "./util/fd-out.ts"
import { parseArgs } from "./cli/args.ts"
import { closest } from "./util/closest.ts"
import { commonOptions, type Command, type CommandContext } from "./cli/context.ts"

const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./cli/run.ts")).runCommand,
  validate: async () => (await import("./cli/validate.ts")).validateCommand,
  describe: async () => (await import("./cli/describe.ts")).describeCommand,
  env: async () => (await import("./cli/env.ts")).envCommand,
  cache: async () => (await import("./cli/cache.ts")).cacheCommand,
  log: async () => (await import("./cli/log.ts")).logCommand,
  runs: async () => (await import("./cli/runs.ts")).runsCommand,
  sweep: async () => (await import("./cli/sweep.ts")).sweepCommand,
  status: async () => (await import("./cli/status.ts")).statusCommand,
  wait: async () => (await import("./cli/wait.ts")).waitCommand,
  cancel: async () => (await import("./cli/cancel.ts")).cancelCommand,
  logs: async () => (await import("./cli/logs.ts")).logsCommand,
  pack: async () => (await import("./cli/pack.ts")).packCommand,
  "migrate-store": async () => (await import("./cli/migrate-store.ts")).migrateStoreCommand,
  // Started by `run --detach` only; not listed in the help.
  supervise: async () => (await import("./cli/supervise.ts")).superviseCommand,
}

const topHelp = `Usage: mlproject <command> [options]

Run MLflow Projects from one self-contained executable.

Commands:
  run [URI]        run an entry point of a project and record it in an MLflow tracking store
  validate [URI]   check a project's MLproject file and list every error and warning
  describe [URI]   show a project's environment, entry points and parameters
  log KIND ...     log a param, metric, tag, artifact or batch to the active run (MLFLOW_RUN_ID)
  runs show ID     show a run's status, params, metrics and tags
  sweep [URI]      run an entry point over a grid of parameter values, as child runs of one parent run
  status ID...     each run's status, backend, times and exit code
  wait ID...       wait until runs have ended (exit 0 all finished, 1 any failed, 124 --timeout)
  cancel ID...     stop runs (their whole process tree or container) and record them KILLED
  logs ID          the output of a run started with --detach (--follow to keep reading)
  runs list        list runs as a table, filtered and ordered with MLflow's search syntax
  env list|gc      show or remove cached python_env/conda environments
  cache list|gc    show or trim every cache under $MLPROJECT_HOME (projects, downloads, envs, images, ...)
  pack URI -o F    write one .mlpack file (project, wheels, image) that runs on a node without network
  migrate-store SRC DST
                   copy an mlruns file store's experiments and runs into a sqlite, PostgreSQL or MySQL store

Options:
  --version        print the version
  -h, --help       show this help ('mlproject <command> --help' for a command's options)
  --json           print one JSON object per line instead of text

URI is a project folder (default '.'), a Git URL, an archive or a .mlpack file.`

const usageOfEvents = (target: string, reason: string): ToolError =>
  new ToolError("usage", `--events ${target}: ${reason}`, { hint: "give a writable file, '-' for stdout, or fd:N for a descriptor this process inherited open for writing" })

/**
 * A sink that fails mid-run (a full disk, a reader that went away) must not end or crash the run: the failure is
 * said once on stderr and the sink goes quiet.
 */
const lossyWriter = (target: string, write: (text: string) => unknown): { write(text: string): void } => {
  let broken = false
  return {
    write(text) {
      if (broken) return
      try {
        write(text)
      } catch (error) {
        broken = true
        stderrFd.write(`mlproject: warning: --events ${target}: writing failed (${(error as NodeJS.ErrnoException).code ?? String(error)}); no more events are written there\n`)
      }
    },
  }
}

/**
 * Writes JSON lines to `-` (stdout), `fd:N` or a file, for a wrapper following a run a person is watching. An empty
 * write proves the target usable before anything runs (it fails on a closed descriptor, a read-only one, /dev/full).
 */
const eventsSink = (target: string): Emit => {
  if (target === "-") return json(stdoutFd)
  let fd: number
  if (target.startsWith("fd:")) {
    fd = Number(target.slice(3))
    // Descriptors are C ints: a larger number is no descriptor at all (and node refuses it with ERR_OUT_OF_RANGE).
    if (!/^\d+$/.test(target.slice(3)) || fd > 2 ** 31 - 1) throw usageOfEvents(target, "expected fd:N with a descriptor number from 0 to 2147483647")
  } else {
    try {
      fd = openSync(target, "a")
    } catch (error) {
      throw usageOfEvents(target, `cannot open for writing (${(error as NodeJS.ErrnoException).code})`)
    }
  }
  try {
    writeSync(fd, new Uint8Array(0))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw usageOfEvents(target, code === "EBADF" ? "not open for writing (EBADF)" : `cannot be written (${code})`)
  }
  // writeAll: a descriptor shared with a non-blocking reader takes part of a line, or none, while the reader is behind.
  return json(lossyWriter(target, (text) => writeAll(fd, text)))
}

type Interrupts = { interrupt: AbortSignal; forceInterrupt: AbortSignal }

/** SIGINT/SIGTERM/SIGHUP become aborts: the first asks the run to stop, the second forces it. */
const interrupts = (): Interrupts => {
  const first = new AbortController()
  const second = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => (first.signal.aborted ? second.abort(signal) : first.abort(signal))
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal)
  return { interrupt: first.signal, forceInterrupt: second.signal }
}

/**
 * Whatever an interrupt made fail (a fetch rejected with the signal's name, an AbortError, a killed git, a wrapped
 * failure) ends the command as the interrupt it was: exit 130, the original error kept as the cause.
 */
const interruptedError = (signal: AbortSignal, error: unknown): ToolError =>
  error instanceof ToolError && error.exitCode === 130
    ? error
    : new ToolError("interrupted", `interrupted by ${String(signal.reason ?? "a signal")}: stopped`, { exitCode: 130, cause: error })

// The command's interrupt signals, once it has them: the exit below needs to know whether one came.
let signals: Interrupts | null = null
const interrupted = (): boolean => signals?.interrupt.aborted ?? false

const main = async (argv: string[]): Promise<number> => {
  const wantsJson = argv.includes("--json")
  let emit: Emit = wantsJson ? json(stdoutFd) : human(stdoutFd, stderrFd)
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
      const near = closest(first, Object.keys(commands).filter((name) => name !== "supervise"))
      throw new ToolError("usage", `unknown command '${first}'`, {
        hint: `${near ? `did you mean '${near}'? ` : ""}commands: run, sweep, validate, describe, log, runs, status, wait, cancel, logs, env, cache, pack, migrate-store (see 'mlproject --help')`,
      })
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
    const { event, exitCode } = errorEvent(signals?.interrupt.aborted ? interruptedError(signals.interrupt, error) : error)
    emit(event)
    return exitCode
  }
}

process.exitCode = await main(process.argv.slice(2))
// Signal handlers must not keep a finished command alive.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal)
// After an interrupt nothing may hold the exit: work that could not be cancelled (an SDK call that takes no signal)
// was abandoned, and its open socket would keep the process alive until the call gave up by itself. Our output is
// written synchronously (src/util/fd-out.ts): nothing is left to flush.
if (interrupted()) process.exit()
