// New experiment and run ids, made the way MLflow's FileStore makes them, and the id shapes it accepts.
import { alnumOr, isAlnumAt, isAscii } from "../util/ascii.ts"
import { randomInt, randomUUID } from "../util/random.ts"

const experimentIdWidth = 18

/**
 * MLflow's `_generate_unique_integer_id`: the last 18 decimal digits of a uuid4 as an integer; each
 * leading zero is dropped and one random digit appended, so the id keeps 18 digits and never starts
 * with 0.
 */
export const generateExperimentId = (): string => {
  const tail = BigInt(`0x${randomUUID().replaceAll("-", "")}`).toString().slice(-experimentIdWidth)
  const leadingZeros = tail.length - tail.replace(/^0+/, "").length
  const refill = Array.from({ length: leadingZeros }, () => String(randomInt(10))).join("")
  return BigInt(tail + refill).toString()
}

/** uuid4().hex: 32 lowercase hex characters. */
export const generateRunId = (): string => randomUUID().replaceAll("-", "")

// MLflow's _EXPERIMENT_ID_REGEX and _RUN_ID_REGEX (Python's \w is Unicode-aware; ids are ASCII in practice). For ASCII
// text each ASCII twin gives the same answer, so the Unicode pattern is compiled only for an id that is not ASCII.
const experimentIdShape = /^[a-zA-Z0-9][\p{L}\p{N}_-]{0,63}$/u
const runIdShape = /^[a-zA-Z0-9][\p{L}\p{N}_-]{0,255}$/u
// /^[a-zA-Z0-9][A-Za-z0-9_-]{0,max}$/, false for any text that is not ASCII.
const asciiId = (id: string, max: number): boolean => id.length <= max + 1 && isAlnumAt(id, 0) && alnumOr(id, "_-", 1)

/** Also keeps ids from naming anything but a direct child folder (no `.`, `..`, `/`). */
export const isExperimentId = (id: string): boolean => asciiId(id, 63) || (!isAscii(id) && experimentIdShape.test(id))
export const isRunId = (id: string): boolean => asciiId(id, 255) || (!isAscii(id) && runIdShape.test(id))
