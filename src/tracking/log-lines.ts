// The JSON-lines input of `mlproject log batch`: what one line may say, checked as MLflow would check it, named by its line.
//
// A line is one JSON object, of one of two forms, told apart by its "key" field:
//  - with "key": one entry. {"key":"loss","value":0.25,"step":3,"timestamp":1700000000000} is a metric (the default);
//    {"kind":"param","key":"alpha","value":"0.5"} and {"kind":"tag","key":"stage","value":"dev"} are a param and a
//    tag. Entries are strict (an unknown or misspelt field is refused), so a typo never logs the wrong thing silently.
//  - without "key": a whole MLflow log-batch object ({"metrics":[…],"params":[…],"tags":[…]}), read exactly as a
//    log-batch document is read, so a one-line document means what it meant before JSON lines existed.
import { isToolError, ToolError } from "../errors.ts"
import { validateKey, validateMetric, validateParam, validateTag, type KeyCheck } from "./key-rules.ts"
import { batchFromJson, keyValueEntry, metricEntry, type Batch, type Json } from "./rest-json.ts"
import type { Metric, Tag } from "./types.ts"

export const lineFormatHint =
  'one JSON object a line: {"key":"loss","value":0.25,"step":3} (a metric; "timestamp" optional), {"kind":"param","key":"alpha","value":"0.5"}, {"kind":"tag","key":"stage","value":"dev"}, or a log-batch object {"metrics":[…],"params":[…],"tags":[…]}'

const entryFields: ReadonlyMap<unknown, ReadonlySet<string>> = new Map([
  ["metric", new Set(["kind", "key", "value", "step", "timestamp"])],
  ["param", new Set(["kind", "key", "value"])],
  ["tag", new Set(["kind", "key", "value"])],
])

export const isJsonObject = (value: unknown): value is Json => value !== null && typeof value === "object" && !Array.isArray(value)

const invalidLine = (message: string): ToolError => new ToolError("log.batch.invalid", message, { hint: lineFormatHint, exitCode: 2 })

/** What one line logs: one entry (the common case, kept cheap: one object a line) or a whole batch. */
export type LineEntries = { metric: Metric } | { param: Tag } | { tag: Tag } | { batch: Batch }

const entryLine = (json: Json, now: number, checkKey: KeyCheck): LineEntries => {
  const kind = json.kind ?? "metric"
  const allowed = entryFields.get(kind)
  if (!allowed) throw invalidLine(`"kind" must be "metric", "param" or "tag", got ${JSON.stringify(kind)}`)
  for (const unknown in json) {
    if (!allowed.has(unknown))
      throw invalidLine(`a ${kind} line takes ${[...allowed].map((f) => `"${f}"`).join(", ")}; unknown field "${unknown}"`)
  }
  if (kind === "metric") {
    const metric = metricEntry(json, now, "metric")
    validateMetric(metric, checkKey)
    return { metric }
  }
  const entry = keyValueEntry(json, kind as string)
  if (kind === "param") return validateParam(entry, checkKey), { param: entry }
  return validateTag(entry, checkKey), { tag: entry }
}

/** The same error, its message starting with the line it is about (exit 2: the input is wrong). */
export const atLine = (error: unknown, line: number): unknown =>
  isToolError(error) ? new ToolError(error.code, `line ${line}: ${error.message}`, { hint: error.hint, exitCode: 2, cause: error.cause }) : error

const isWholeOrAbsent = (value: unknown, min: number): boolean =>
  value === undefined || (typeof value === "number" && Number.isSafeInteger(value) && value >= min)

/**
 * The common line, {"key":"loss","value":0.25,"step":3} (a number value; step and timestamp absent or whole numbers),
 * checked in one pass: the same checks entryLine, metricEntry and validateMetric make, at a third of their cost on a
 * cold start. null for anything else, which takes the general path and its messages.
 */
const plainMetric = (json: Json, now: number, checkKey: KeyCheck): Metric | null => {
  const { key, value, step, timestamp } = json
  if (typeof key !== "string" || key === "" || typeof value !== "number") return null
  if (!isWholeOrAbsent(step, -Infinity) || !isWholeOrAbsent(timestamp, 0)) return null
  for (const field in json) if (field !== "key" && field !== "value" && field !== "step" && field !== "timestamp") return null
  checkKey("metric", key)
  return { key, value, timestamp: (timestamp as number | undefined) ?? now, step: (step as number | undefined) ?? 0 }
}

/**
 * What one parsed line logs, with every check MLflow's log-batch makes of each entry (key names, value lengths,
 * timestamps), so a bad line is refused before anything after it is sent. `now` is the default timestamp; `checkKey`
 * may remember the keys it passed (rememberingKeyCheck).
 */
export const lineEntries = (json: unknown, line: number, now: number, checkKey: KeyCheck = validateKey): LineEntries => {
  try {
    if (!isJsonObject(json)) throw invalidLine(`expected a JSON object, got ${JSON.stringify(json)?.slice(0, 100)}`)
    if ("key" in json) {
      const metric = plainMetric(json, now, checkKey)
      return metric ? { metric } : entryLine(json, now, checkKey)
    }
    const batch = batchFromJson(json, now)
    for (const metric of batch.metrics) validateMetric(metric, checkKey)
    for (const param of batch.params) validateParam(param, checkKey)
    for (const tag of batch.tags) validateTag(tag, checkKey)
    return { batch }
  } catch (error) {
    throw atLine(error, line)
  }
}

// Python's json.dumps writes a NaN or infinite float as a bare NaN, Infinity or -Infinity, which JSON does not have.
const pythonConstants = /"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g
const pythonValues: Record<string, string> = { NaN: '"nan"', Infinity: '"inf"', "-Infinity": '"-inf"' }

/** JSON.parse of one line (with Python's NaN and Infinity read as "nan" and "inf"), or the line's error. */
export const parseLine = (text: string, line: number): unknown => {
  try {
    return JSON.parse(text)
  } catch (error) {
    if (/NaN|Infinity/.test(text)) {
      try {
        return JSON.parse(text.replace(pythonConstants, (token) => pythonValues[token] ?? token))
      } catch {}
    }
    throw invalidLine(`line ${line}: not valid JSON (${(error as Error).message}): ${text.slice(0, 100)}`)
  }
}
