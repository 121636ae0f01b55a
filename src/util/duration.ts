// Time limits given on the command line (`--timeout 90s`, `2h`, `1.5`): milliseconds that a timer can still hold.
import { ToolError } from "../errors.ts"
import { maxTimerMs, timerLimitText } from "./ranges.ts"

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

const hint = "use a number of seconds or a number and a unit: 500ms, 45s, 90m, 2h, 1d"

/** "45s", "90m", "2h", "1d", "500ms", or a plain number of seconds → milliseconds; above zero and within a timer's range. */
export const parseDuration = (text: string, flag: string): number => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim())
  if (!match) throw new ToolError("usage", `invalid duration '${text}' for ${flag}`, { hint })
  const ms = Math.round(Number(match[1]) * (units[match[2] ?? "s"] as number))
  if (ms <= 0) throw new ToolError("usage", `duration '${text}' for ${flag} must be above zero`, { hint })
  if (ms > maxTimerMs) throw new ToolError("usage", `duration '${text}' for ${flag} is too long: at most ${timerLimitText} seconds`, { hint })
  return ms
}
