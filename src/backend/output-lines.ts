// Where a remote backend's output lines go: `log` events (--json, --events), the detached run's log file, or the terminal.
import { writeSync } from "node:fs"
import { stdoutFd } from "../util/fd-out.ts"
import type { Output, RunControl } from "./types.ts"

export const lineWriter = (output: Output, emit: RunControl["emit"]): ((line: string) => void) => {
  if (output.to === "events") return (line) => emit({ type: "log", stream: "stdout", line })
  if (output.to === "file") return (line) => void writeSync(output.fd, `${line}\n`)
  return (line) => stdoutFd.write(`${line}\n`)
}
