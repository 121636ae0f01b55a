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
