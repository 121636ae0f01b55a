// A sweep's trials from its `-P` specs: lists (`0.1,0.5`), ranges (`0.1:0.9:0.2`), the grid of all, or seeded random picks.
import { ToolError } from "../errors.ts"

export type Axis = { name: string; values: string[] }
export type Trial = Array<[string, string]>

// A range of more values than this is a slip (a step of 1e-9), not a sweep anyone means to run.
const maxValues = 10_000

const decimals = (text: string): number => (text.includes(".") ? text.length - text.indexOf(".") - 1 : 0)

/** `start:stop:step`, both ends included, each value written with as many decimals as the spec used (0.3, not 0.30000000000000004). */
const range = (name: string, spec: string): string[] | null => {
  const parts = spec.split(":")
  if (parts.length !== 3) return null
  // Only three numbers make a range: a URL or `host:port:x` is a value like any other.
  if (!parts.every((part) => /^\s*-?\d+(?:\.\d+)?\s*$/.test(part))) return null
  const [start, stop, step] = parts.map(Number) as [number, number, number]
  if (step <= 0) throw new ToolError("usage", `-P ${name}=${spec}: the step must be above zero (got ${step})`, { hint: "write the range from low to high with a positive step" })
  if (stop < start) throw new ToolError("usage", `-P ${name}=${spec}: the range ends (${stop}) before it starts (${start})`)
  const places = Math.max(...parts.map(decimals))
  const count = Math.floor((stop - start) / step + 1e-9) + 1
  if (count > maxValues) throw new ToolError("usage", `-P ${name}=${spec}: ${count} values is more than a sweep takes (at most ${maxValues})`)
  return Array.from({ length: count }, (_, i) => (start + i * step).toFixed(places))
}

/** One `-P name=spec`: a range, a comma list, or a single value (passed to every trial). */
export const parseAxis = (name: string, spec: string): Axis => {
  const values = range(name, spec) ?? spec.split(",").map((value) => value.trim())
  if (values.some((value) => value === "")) throw new ToolError("usage", `-P ${name}=${spec}: a list has an empty value`, { hint: "write values separated by commas: -P alpha=0.1,0.5" })
  return { name, values: [...new Set(values)] }
}

/** Every combination of the axes' values, the first axis varying slowest (as nested for-loops would write them). */
export const gridTrials = (axes: Axis[]): Trial[] =>
  axes.reduce<Trial[]>((trials, axis) => trials.flatMap((trial) => axis.values.map((value): Trial => [...trial, [axis.name, value]])), [[]])

/** mulberry32: small, seeded, the same sequence on every machine. */
const seeded = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` distinct trials of the grid picked at random (all of it, shuffled, when it has fewer); the seed repeats a pick. */
export const randomTrials = (axes: Axis[], count: number, seed: number): Trial[] => {
  const all = gridTrials(axes)
  const random = seeded(seed)
  // Fisher-Yates on the whole grid: every subset of `count` is as likely as any other.
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[all[i], all[j]] = [all[j] as Trial, all[i] as Trial]
  }
  return all.slice(0, count)
}
