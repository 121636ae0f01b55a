// An error as the `error` event reports it, with the exit code it means; anything not a ToolError is a bug.
import { ToolError } from "../errors.ts"
import { version } from "../version.ts"
import type { Event } from "./event.ts"

export type ErrorEvent = Extract<Event, { type: "error" }>

export const errorEvent = (error: unknown, runId?: string): { event: ErrorEvent; exitCode: number } => {
  const concerned = runId ?? (error instanceof ToolError ? error.runId : undefined)
  const run = concerned ? { run_id: concerned } : {}
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
        ...run,
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
      ...run,
    },
  }
}

/** The short reason an error gives, for a warning about a write that could not be made. */
export const errorReason = (error: unknown): string => (error instanceof Error ? error.message : String(error))
