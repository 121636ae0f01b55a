// What every command receives from the entry point: the event sink, the process edge and interrupts.
import type { Emit } from "../events/event.ts"
import type { OptionSpec } from "./args.ts"

export type CommandContext = {
  emit: Emit
  env: Record<string, string | undefined>
  cwd: string
  /** True when the entry point's output must arrive as `log` events (JSON or --events), not the raw terminal. */
  captureOutput: boolean
  /** Aborted with the signal name ("SIGINT", …) on the first interrupt. */
  interrupt: AbortSignal
  /** Aborted on a second interrupt: stop waiting for a graceful exit. */
  forceInterrupt: AbortSignal
}

export type Command = {
  name: string
  usage: string
  summary: string
  options: OptionSpec[]
  maxPositionals: number
  /** Returns the process exit code. */
  execute(parsed: import("./args.ts").Parsed, context: CommandContext): Promise<number>
}

/** Options every command accepts. */
export const commonOptions: OptionSpec[] = [
  { long: "json", kind: "flag", description: "print one JSON object per line instead of text" },
  { long: "events", kind: "value", metavar: "FILE|-|fd:N", description: "also write the JSON-lines event stream there" },
  { long: "help", short: "h", kind: "flag", description: "show this help" },
]
