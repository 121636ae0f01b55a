// Durations (`30d`, `12h`, `90m`) and sizes (`10G`, `500M`) given on the command line; a bad one is a usage error.
import { ToolError } from "../errors.ts"

const ageUnits: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }

// No entry can be older than the epoch: a longer duration is a slip (an extra digit), not a wish to keep everything.
const maxAgeDays = 36_500

/** "30d", "12h", "90m", "2w", "45s" → milliseconds. */
export const parseAge = (text: string, flag = "--older-than"): number => {
  const match = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim())
  if (!match) throw new ToolError("usage", `invalid duration '${text}' for ${flag}`, { hint: "use a number and a unit: 45s, 90m, 12h, 30d, 2w" })
  const ms = Number(match[1]) * (ageUnits[match[2] as string] as number)
  if (ms > maxAgeDays * (ageUnits.d as number)) {
    throw new ToolError("usage", `duration '${text}' for ${flag} is too long: expected at most ${maxAgeDays}d (100 years)`, { hint: "use a number and a unit: 45s, 90m, 12h, 30d, 2w" })
  }
  return ms
}

// Binary units, as `du -h` and docker print them: 1K = 1024 bytes.
const sizeUnits: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/** "10G", "500M", "1.5g", "200MiB", "4096" → bytes. */
export const parseSize = (text: string, flag = "--max-size"): number => {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim())
  const hint = "use a number and an optional unit: 500M, 10G, 1.5T (K, M, G, T are powers of 1024)"
  if (!match) throw new ToolError("usage", `invalid size '${text}' for ${flag}`, { hint })
  const bytes = Math.floor(Number(match[1]) * (sizeUnits[(match[2] as string).toLowerCase()] as number))
  // Sizes are summed and compared exactly, which numbers past 2^53 (8 PiB) no longer do.
  if (bytes > 2 ** 53) throw new ToolError("usage", `size '${text}' for ${flag} is too large: expected at most 8192T (8 PiB)`, { hint })
  return bytes
}
