// Awaits what must fail with our error type and returns that error, so a test asserts its code, message and hint.
import { ToolError } from "../../src/errors.ts"

export const caught = async (promise: Promise<unknown>): Promise<ToolError> => {
  try {
    await promise
  } catch (error) {
    if (error instanceof ToolError) return error
    throw error
  }
  throw new Error("expected a ToolError")
}

/** The ToolError a synchronous call throws (fails the test when it returns or throws something else). */
export const thrown = (fn: () => unknown): ToolError => {
  try {
    fn()
  } catch (error) {
    if (error instanceof ToolError) return error
    throw error
  }
  throw new Error("expected a ToolError")
}
