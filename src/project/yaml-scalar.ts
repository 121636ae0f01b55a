// PyYAML's SafeConstructor for YAML 1.1 scalars (the tags come from util/pyyaml-resolver.ts), so `1e-5` stays a string as in MLflow.
import { isDigitAt, startsWithAnyCase } from "../util/ascii.ts"
import type { Tag } from "../util/pyyaml-resolver.ts"
import type { PyDate, PyDateTime, PyScalar } from "./python-str.ts"

const timestampParts =
  /^([0-9]{4})-([0-9][0-9]?)-([0-9][0-9]?)(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?)?$/

/** Thrown when PyYAML's constructor would raise (ValueError and friends); the caller adds the location. */
export class ScalarError extends Error {}

// trim() removes exactly what /^\s+|\s+$/g does (WhiteSpace and LineTerminator), without a pattern to compile.
const stripped = (text: string): string => text.trim()
const unsigned = (text: string): string => (text.startsWith("-") || text.startsWith("+") ? text.slice(1) : text)

/** Python int(text, base) after PyYAML removed underscores: surrounding whitespace allowed, digits only. */
const pyInt = (text: string, base: 2 | 8 | 10 | 16): bigint => {
  const digits = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[base]
  const t = stripped(text)
  const sign = t.startsWith("-") ? -1n : 1n
  const body = unsigned(t)
  if (!digits.test(body)) throw new ScalarError(`invalid literal for int() with base ${base}: ${JSON.stringify(text)}`)
  const prefix = { 2: "0b", 8: "0o", 10: "", 16: "0x" }[base]
  return sign * BigInt(prefix + body)
}

const constructInt = (text: string): bigint => {
  let value = text.replaceAll("_", "")
  const sign = value.startsWith("-") ? -1n : 1n
  if (value.startsWith("-") || value.startsWith("+")) value = value.slice(1)
  if (value === "0") return 0n
  if (value.startsWith("0b")) return sign * pyInt(value.slice(2), 2)
  if (value.startsWith("0x")) return sign * pyInt(value.slice(2), 16)
  if (value.startsWith("0")) return sign * pyInt(value, 8)
  if (value.includes(":")) {
    return sign * value.split(":").reduce((total, part) => total * 60n + pyInt(part, 10), 0n)
  }
  return sign * pyInt(value, 10)
}

/** Where a run of digits with single underscores between them ([0-9](?:_?[0-9])*) that starts at `at` ends, or -1. */
const digitPartEnd = (text: string, at: number): number => {
  if (!isDigitAt(text, at)) return -1
  let i = at + 1
  for (;;) {
    if (isDigitAt(text, i)) i++
    else if (text[i] === "_" && isDigitAt(text, i + 1)) i += 2
    else return i
  }
}

const floatWords = ["inf", "infinity", "nan"]

/**
 * Python float(text): decimal or exponent form with optional underscores between digits, inf/infinity/nan. Scanned as
 * /^[-+]?(?:(?:D)?\.?D(?:[eE][-+]?D)?|D\.(?:[eE][-+]?D)?|inf|infinity|nan)$/i reads, D being a digit part.
 */
export const isPythonFloat = (text: string): boolean => {
  const t = stripped(text)
  const start = t.startsWith("-") || t.startsWith("+") ? 1 : 0
  if (floatWords.some((word) => t.length - start === word.length && startsWithAnyCase(t.slice(start), word))) return true
  let end = digitPartEnd(t, start)
  if (end !== -1 && t[end] === ".") end = Math.max(digitPartEnd(t, end + 1), end + 1)
  else if (end === -1 && t[start] === ".") end = digitPartEnd(t, start + 1)
  if (end === -1) return false
  if (t[end] === "e" || t[end] === "E") end = digitPartEnd(t, t[end + 1] === "-" || t[end + 1] === "+" ? end + 2 : end + 1)
  return end === t.length
}

/** Python int(text) in base 10: sign, digits with single underscores between them, surrounding whitespace. */
export const isPythonInt = (text: string): boolean => {
  const t = stripped(text)
  return digitPartEnd(t, t.startsWith("-") || t.startsWith("+") ? 1 : 0) === t.length
}

const pyFloat = (text: string): number => {
  if (!isPythonFloat(text)) throw new ScalarError(`could not convert string to float: ${JSON.stringify(text)}`)
  const t = stripped(text).replaceAll("_", "").toLowerCase()
  const body = unsigned(t)
  const negative = t.startsWith("-")
  if (body === "inf" || body === "infinity") return negative ? -Infinity : Infinity
  if (body === "nan") return NaN
  return Number(t)
}

const constructFloat = (text: string): number => {
  let value = text.replaceAll("_", "").toLowerCase()
  const sign = value.startsWith("-") ? -1 : 1
  if (value.startsWith("-") || value.startsWith("+")) value = value.slice(1)
  if (value === ".inf") return sign * Infinity
  if (value === ".nan") return NaN
  if (value.includes(":")) return sign * value.split(":").reduce((total, part) => total * 60 + pyFloat(part), 0)
  return sign * pyFloat(value)
}

const daysIn = (year: number, month: number) =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31

const constructTimestamp = (text: string): PyDate | PyDateTime => {
  const m = timestampParts.exec(text)
  if (!m) throw new ScalarError(`${JSON.stringify(text)} is not a timestamp`)
  const [year, month, day] = [m[1], m[2], m[3]].map(Number) as [number, number, number]
  if (year < 1 || month < 1 || month > 12) throw new ScalarError(`month must be in 1..12 (${text})`)
  if (day < 1 || day > daysIn(year, month)) throw new ScalarError(`day is out of range for month (${text})`)
  if (m[4] === undefined) return { kind: "date", year, month, day }
  const [hour, minute, second] = [m[4], m[5], m[6]].map(Number) as [number, number, number]
  if (hour > 23 || minute > 59 || second > 59) throw new ScalarError(`time is out of range (${text})`)
  const microsecond = m[7] ? Number(m[7].slice(0, 6).padEnd(6, "0")) : 0
  let offset: number | null = null
  if (m[9]) {
    offset = Number(m[10]) * 60 + Number(m[11] ?? 0)
    if (offset >= 24 * 60) throw new ScalarError(`UTC offset must be less than 24 hours (${text})`)
    if (m[9] === "-") offset = -offset
  } else if (m[8] === "Z") offset = 0
  return { kind: "datetime", year, month, day, hour, minute, second, microsecond, offset }
}

const boolValues = new Map([["yes", true], ["no", false], ["true", true], ["false", false], ["on", true], ["off", false]])

/** PyYAML SafeConstructor for one scalar tag; throws ScalarError where PyYAML raises. */
export const constructScalar = (tag: Tag, text: string): PyScalar => {
  switch (tag) {
    case "str":
    case "merge":
      return text
    case "null":
      return null
    case "bool": {
      const value = boolValues.get(text.toLowerCase())
      if (value === undefined) throw new ScalarError(`${JSON.stringify(text)} is not a boolean`)
      return value
    }
    case "int":
      if (unsigned(text.replaceAll("_", "")) === "") throw new ScalarError(`${JSON.stringify(text)} is not an integer`)
      return constructInt(text)
    case "float":
      if (unsigned(text.replaceAll("_", "")) === "") throw new ScalarError(`${JSON.stringify(text)} is not a float`)
      return constructFloat(text)
    case "timestamp":
      return constructTimestamp(text)
    case "value":
      throw new ScalarError("could not determine a constructor for the tag 'tag:yaml.org,2002:value'")
  }
}
