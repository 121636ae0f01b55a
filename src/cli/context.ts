// What every command receives from the entry point: the event sink, the process edge and interrupts.
import type { RunContext } from "../run/context.ts"
import type { OptionSpec } from "./args.ts"

/** What every command receives from the entry point; the run core takes the same shape (src/run/context.ts). */
export type CommandContext = RunContext

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
