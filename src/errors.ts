// The one error type our code throws on purpose, with its stable code and its exit code.
import type { ErrorCode } from "./error-codes.ts"

export type ErrorLocation = { file: string; line?: number; column?: number }

export class ToolError extends Error {
  override name = "ToolError"
  readonly code: ErrorCode
  readonly hint?: string
  readonly location?: ErrorLocation
  /** 2 for bad usage or invalid input, 1 for a failure while doing valid work, 130 for an interrupt. */
  readonly exitCode: number
  /** The run the failure concerns, when one exists (the `error` event carries it). */
  readonly runId?: string

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; location?: ErrorLocation; exitCode?: number; cause?: unknown; runId?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.hint = options.hint
    this.location = options.location
    this.exitCode = options.exitCode ?? 2
    this.runId = options.runId
  }
}

/** The same error, naming the run it concerns. */
export const concerningRun = (error: unknown, runId: string): unknown =>
  error instanceof ToolError && error.runId === undefined
    ? new ToolError(error.code, error.message, { hint: error.hint, location: error.location, exitCode: error.exitCode, cause: error.cause, runId })
    : error

/** Throws a usage/input error (exit 2). Reads well in expressions: `x ?? fail(...)`. */
export const fail = (code: ErrorCode, message: string, options: ConstructorParameters<typeof ToolError>[2] = {}): never => {
  throw new ToolError(code, message, options)
}

export const isToolError = (value: unknown): value is ToolError => value instanceof ToolError
