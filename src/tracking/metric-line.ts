// Metric file lines `<ms> <value> <step>`, with the value written as Python's repr(float) writes it.
import { isDigitAt } from "../util/ascii.ts"
import type { Metric } from "./types.ts"

/**
 * Python's repr(float): the shortest digits that round-trip (as JS picks them), laid out Python's way:
 * positional with a trailing `.0` when the decimal exponent is in [-4, 16), else `1e-05` / `1.5e+16`.
 */
export const formatPythonFloat = (value: number): string => {
  // Most metrics, and the cheap case: where both write positional digits (JS from 1e-6 to below 1e21, Python from 1e-4
  // to below 1e16), JS's shortest round-trip digits are Python's, and only a whole number's ".0" differs.
  const magnitude = Math.abs(value)
  if (magnitude >= 1e-4 && magnitude < 1e16) {
    const text = String(value)
    return text.includes(".") ? text : `${text}.0`
  }
  if (Number.isNaN(value)) return "nan"
  if (value === Infinity) return "inf"
  if (value === -Infinity) return "-inf"
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0"
  const [mantissa = "", exponentText = "0"] = Math.abs(value).toExponential().split("e")
  const digits = mantissa.replace(".", "")
  const exponent = Number(exponentText)
  const sign = value < 0 ? "-" : ""
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : ""
    const expSign = exponent < 0 ? "-" : "+"
    return `${sign}${digits[0]}${fraction}e${expSign}${String(Math.abs(exponent)).padStart(2, "0")}`
  }
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0")
  const fraction = digits.slice(exponent + 1)
  return `${sign}${whole}.${fraction === "" ? "0" : fraction}`
}


/** /^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$/, scanned once from the left. */
const isDecimalFloat = (text: string): boolean => {
  let i = text[0] === "-" || text[0] === "+" ? 1 : 0
  const skipDigits = (underscores: boolean) => {
    while (isDigitAt(text, i) || (underscores && text[i] === "_")) i++
  }
  if (isDigitAt(text, i)) {
    i++
    skipDigits(true)
    if (text[i] === ".") {
      i++
      skipDigits(true)
    }
  } else if (text[i] === "." && isDigitAt(text, i + 1)) {
    i += 2
    skipDigits(true)
  } else return false
  if (text[i] === "e" || text[i] === "E") {
    i++
    if (text[i] === "-" || text[i] === "+") i++
    if (!isDigitAt(text, i)) return false
    skipDigits(false)
  }
  return i === text.length
}

const specialFloats: Record<string, number> = { nan: NaN, inf: Infinity, infinity: Infinity }

/** Python's float(text) for what MLflow writes (repr forms, `nan`, `inf`), or NaN-free null when invalid. */
export const parsePythonFloat = (text: string): number | null => {
  const trimmed = text.trim()
  const unsigned = (trimmed.startsWith("-") || trimmed.startsWith("+") ? trimmed.slice(1) : trimmed).toLowerCase()
  const special = specialFloats[unsigned]
  if (special !== undefined) return trimmed.startsWith("-") ? -special : special
  if (!isDecimalFloat(trimmed)) return null
  return Number(trimmed.replaceAll("_", ""))
}

/** One appended line, `\n` included, exactly as MLflow's FileStore writes it. */
export const formatMetricLine = (metric: Metric): string =>
  `${metric.timestamp} ${formatPythonFloat(metric.value)} ${metric.step}\n`

/**
 * One stored line; MLflow accepts 2 fields (pre-1.0, step 0) or 3. Returns null when malformed so the
 * caller can name the file.
 */
export const parseMetricLine = (key: string, line: string): Metric | null => {
  const parts = line.trim().split(" ")
  if (parts.length !== 2 && parts.length !== 3) return null
  const [timestampText = "", valueText = "", stepText = "0"] = parts
  const timestamp = /^[-+]?[0-9]+$/.test(timestampText) ? Number(timestampText) : NaN
  const step = /^[-+]?[0-9]+$/.test(stepText) ? Number(stepText) : NaN
  const value = parsePythonFloat(valueText)
  if (value === null || Number.isNaN(timestamp) || Number.isNaN(step)) return null
  return { key, value, timestamp, step }
}

/**
 * The metric a run reports as latest: MLflow takes max by (step, timestamp, value), where Python's
 * tuple comparison treats NaN as neither larger nor smaller, so a NaN value never wins a tie.
 */
export const latestMetric = (metrics: readonly Metric[]): Metric | undefined =>
  metrics.reduce<Metric | undefined>((best, m) => (best === undefined || isLater(m, best) ? m : best), undefined)

const isLater = (a: Metric, b: Metric): boolean => {
  if (a.step !== b.step) return a.step > b.step
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp
  return a.value > b.value
}
