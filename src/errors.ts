// The one error type our code throws on purpose, with its stable code and its exit code.

export type ErrorLocation = { file: string; line?: number; column?: number }

export class ToolError extends Error {
  override name = "ToolError"
  readonly code: string
  readonly hint?: string
  readonly location?: ErrorLocation
  /** 2 for bad usage or invalid input, 1 for a failure while doing valid work. */
  readonly exitCode: number

  constructor(
    code: string,
    message: string,
    options: { hint?: string; location?: ErrorLocation; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.hint = options.hint
    this.location = options.location
    this.exitCode = options.exitCode ?? 2
  }
}

/** Throws a usage/input error (exit 2). Reads well in expressions: `x ?? fail(...)`. */
export const fail = (code: string, message: string, options: ConstructorParameters<typeof ToolError>[2] = {}): never => {
  throw new ToolError(code, message, options)
}

export const isToolError = (value: unknown): value is ToolError => value instanceof ToolError
