// MLflow's rules for param, tag and metric keys, value lengths, batch sizes and experiment names.
import { ToolError } from "../errors.ts"
import type { Metric, Tag } from "./types.ts"
import { alnumOr, isAscii } from "../util/ascii.ts"

// Limits of mlflow/utils/validation.py (MLflow 2.x/3.x).
export const limits = {
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 8000,
  experimentNameLength: 500,
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  metricsPerBatch: 1000,
  entitiesPerBatch: 1000,
} as const

// MLflow (non-Windows) allows alphanumerics (Python's Unicode \w), _ - . space / and colon. An ASCII key is checked
// by the ASCII twin (the same answer), so the Unicode pattern is compiled only for a key that needs it.
const keyShape = /^[/\p{L}\p{N}_.\- :]*$/u
const hasKeyShape = (key: string): boolean => alnumOr(key, "/_.- :") || (!isAscii(key) && keyShape.test(key))

/** posixpath.normpath: the file a key would name, to refuse keys that alias another key or escape. */
export const normalizePosixPath = (path: string): string => {
  if (path === "") return "."
  const initialSlashes = path.startsWith("//") && !path.startsWith("///") ? 2 : path.startsWith("/") ? 1 : 0
  const parts: string[] = []
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue
    const last = parts[parts.length - 1]
    if (part !== ".." || (initialSlashes === 0 && last === undefined) || last === "..") parts.push(part)
    else if (last !== undefined) parts.pop()
  }
  const joined = "/".repeat(initialSlashes) + parts.join("/")
  return joined === "" ? "." : joined
}

const invalidKey = (kind: string, key: string, reason: string): ToolError =>
  new ToolError("tracking.key.invalid", `Invalid ${kind} name: '${key}'. ${reason}`, { exitCode: 2 })

/** Keys become file paths under params/, tags/ or metrics/, so they must name exactly one file inside. */
export const validateKey = (kind: "param" | "tag" | "metric", key: string): void => {
  if (!hasKeyShape(key))
    throw invalidKey(
      kind,
      key,
      "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).",
    )
  const normalized = normalizePosixPath(key)
  if (normalized !== key || normalized === "." || normalized.startsWith("..") || normalized.startsWith("/"))
    throw invalidKey(
      kind,
      key,
      `Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${normalized}'`,
    )
  if (key.length > limits.keyLength)
    throw new ToolError("tracking.key.too_long", `${capitalize(kind)} key '${key.slice(0, 250)}' exceeds the maximum length of ${limits.keyLength} characters`, { exitCode: 2 })
}

const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1)

const validateValueLength = (kind: "param" | "tag", entry: Tag, limit: number): void => {
  if (entry.value.length <= limit) return
  throw new ToolError(
    "tracking.value.too_long",
    `${capitalize(kind)} '${entry.key}' has a value of ${entry.value.length} characters; MLflow stores at most ${limit}`,
    { hint: "MLflow truncates such values; mlproject refuses them so nothing is lost silently", exitCode: 2 },
  )
}

export type KeyCheck = typeof validateKey

/** validateKey that remembers the keys it passed: a stream of JSON lines names the same few keys again and again. */
export const rememberingKeyCheck = (): KeyCheck => {
  const passed = { param: new Set<string>(), tag: new Set<string>(), metric: new Set<string>() }
  return (kind, key) => {
    if (passed[kind].has(key)) return
    validateKey(kind, key)
    passed[kind].add(key)
  }
}

export const validateParam = (param: Tag, checkKey: KeyCheck = validateKey): void => {
  checkKey("param", param.key)
  validateValueLength("param", param, limits.paramValueLength)
}

export const validateTag = (tag: Tag, checkKey: KeyCheck = validateKey): void => {
  checkKey("tag", tag.key)
  validateValueLength("tag", tag, limits.tagValueLength)
}

export const validateMetric = (metric: Metric, checkKey: KeyCheck = validateKey): void => {
  checkKey("metric", metric.key)
  const problem = !Number.isSafeInteger(metric.timestamp) || metric.timestamp < 0
    ? `timestamp ${metric.timestamp} must be a nonnegative integer (milliseconds)`
    : !Number.isSafeInteger(metric.step)
      ? `step ${metric.step} must be an integer`
      : typeof metric.value !== "number"
        ? `value ${String(metric.value)} must be a number`
        : undefined
  if (problem) throw new ToolError("tracking.metric.invalid", `Metric '${metric.key}': ${problem}`, { exitCode: 2 })
}

const checkBatchLimit = (what: string, count: number, limit: number): void => {
  if (count <= limit) return
  throw new ToolError(
    "tracking.batch.too_large",
    `A batch logging request can contain at most ${limit} ${what}. Got ${count} ${what}. Please split up ${what} across multiple requests and try again.`,
    { exitCode: 2 },
  )
}

/** Everything MLflow's log_batch checks before it writes anything. */
export const validateBatch = (params: readonly Tag[], tags: readonly Tag[], metrics: readonly Metric[]): void => {
  // A batch names the same few keys many times (1,000 metrics of 10 keys): each key is checked once.
  const checkKey = rememberingKeyCheck()
  for (const metric of metrics) validateMetric(metric, checkKey)
  for (const param of params) validateParam(param, checkKey)
  for (const tag of tags) validateTag(tag, checkKey)
  checkBatchLimit("metrics", metrics.length, limits.metricsPerBatch)
  checkBatchLimit("params", params.length, limits.paramsPerBatch)
  checkBatchLimit("tags", tags.length, limits.tagsPerBatch)
  checkBatchLimit("metrics, params, and tags", metrics.length + params.length + tags.length, limits.entitiesPerBatch)
  checkDuplicateParams(params)
}

/** Params a run is created with: each checked, and no key twice. */
export const validateNewParams = (params: readonly Tag[]): void => {
  const checkKey = rememberingKeyCheck()
  for (const param of params) validateParam(param, checkKey)
  checkDuplicateParams(params)
}

const checkDuplicateParams = (params: readonly Tag[]): void => {
  if (params.length < 2) return
  const seen = new Set<string>()
  const duplicates = params.filter((p) => seen.size === seen.add(p.key).size).map((p) => p.key)
  if (duplicates.length > 0)
    throw new ToolError(
      "tracking.param.duplicate",
      `Duplicate parameter keys have been submitted: ${duplicates.map((k) => `'${k}'`).join(", ")}. Please ensure the request contains only one param value per param key.`,
      { exitCode: 2 },
    )
}

export const validateExperimentName = (name: string): void => {
  if (name === "") throw new ToolError("tracking.experiment.name_invalid", "Invalid experiment name: ''", { exitCode: 2 })
  if (name.length > limits.experimentNameLength)
    throw new ToolError(
      "tracking.experiment.name_invalid",
      `Experiment name exceeds the maximum length of ${limits.experimentNameLength} characters`,
      { exitCode: 2 },
    )
}
