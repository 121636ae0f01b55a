// Runs matched and ordered as MLflow's SearchUtils.filter and sort do, over any store's runs seen through RunView.
import { ToolError } from "../errors.ts"
import { attributeName, parseFilter, type Clause } from "./search-filter.ts"
import { compareRuns, parseOrderBy, type OrderKey, type SortValue } from "./search-order.ts"
import { runNameTag, type Run, type RunInfo } from "./types.ts"

/** What the search reads of a run; a file store reads each key's file only when a clause asks for it. */
export type RunView = {
  info: RunInfo
  param(key: string): string | undefined
  tag(key: string): string | undefined
  /** The latest value of the metric. */
  metric(key: string): number | undefined
}

export const viewOf = (run: Run): RunView => ({
  info: run.info,
  param: (key) => run.data.params[key],
  tag: (key) => run.data.tags[key],
  metric: (key) => run.data.metrics[key]?.value,
})

export type RunQuery = { filter: Clause[]; orderBy: OrderKey[] }

/** Parses both halves; a ToolError names the column of the first thing MLflow would refuse. */
export const parseQuery = (filter: string | undefined, orderBy: readonly string[] = []): RunQuery => ({
  filter: parseFilter(filter),
  orderBy: orderBy.map(parseOrderBy),
})

/** RunInfo's attributes as MLflow reads them; a run written before run_name existed takes its name from the tag. */
const attributeOf = (view: RunView, key: string): string | number | null => {
  const name = attributeName(key)
  const info = view.info
  if (name === "run_name") return info.run_name !== "" ? info.run_name : (view.tag(runNameTag) ?? "")
  const value = info[name as keyof RunInfo]
  return value === undefined ? null : value
}

const valueOf = (view: RunView, type: Clause["type"], key: string): string | number | null => {
  if (type === "metric") return view.metric(key) ?? null
  if (type === "param") return view.param(key) ?? null
  if (type === "tag") return view.tag(key) ?? null
  if (type === "attribute") return attributeOf(view, key)
  throw new ToolError("unsupported", "datasets.* filters need a tracking server: mlproject's file-store search does not read dataset inputs", {
    hint: "filter on params, metrics, tags or attributes, or search through an MLflow tracking server",
  })
}

/**
 * SQL LIKE: `%` any run of characters, `_` one character, everything else literal. (MLflow's file store passes the
 * rest of the pattern to Python's re unescaped, so `.` matches anything and `(` crashes; its SQL stores do this.)
 */
export const likePattern = (pattern: string, ignoreCase: boolean): RegExp => {
  const body = [...pattern].map((char) => (char === "%" ? "[\\s\\S]*" : char === "_" ? "[\\s\\S]" : char.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&"))).join("")
  return new RegExp(`^${body}$`, ignoreCase ? "iu" : "u")
}

const predicate = (clause: Clause): ((lhs: string | number) => boolean) => {
  const { comparator, value } = clause
  if (comparator === "LIKE" || comparator === "ILIKE") {
    const pattern = likePattern(String(value), comparator === "ILIKE")
    return (lhs) => pattern.test(String(lhs))
  }
  if (comparator === "IN" || comparator === "NOT IN") {
    const list = new Set(value as readonly string[])
    return comparator === "IN" ? (lhs) => list.has(String(lhs)) : (lhs) => !list.has(String(lhs))
  }
  const rhs = value as string | number
  // Python's comparisons: NaN is unequal to everything, != included.
  const compare: Record<string, (lhs: string | number) => boolean> = {
    "=": (lhs) => lhs === rhs,
    "!=": (lhs) => lhs !== rhs,
    "<": (lhs) => lhs < rhs,
    "<=": (lhs) => lhs <= rhs,
    ">": (lhs) => lhs > rhs,
    ">=": (lhs) => lhs >= rhs,
  }
  return compare[comparator] as (lhs: string | number) => boolean
}

/** Whether a run matches every clause; a clause on a value the run lacks never matches (except IS NULL). */
export const matcher = (clauses: readonly Clause[]): ((view: RunView) => boolean) => {
  // Attributes first: they are in meta.yaml already, so a run they rule out costs a file store no further read.
  const ordered = [...clauses.filter((c) => c.type === "attribute"), ...clauses.filter((c) => c.type !== "attribute")]
  const tests = ordered.map((clause) => {
    if (clause.comparator === "IS NULL") return (view: RunView) => valueOf(view, clause.type, clause.key) === null
    if (clause.comparator === "IS NOT NULL") return (view: RunView) => valueOf(view, clause.type, clause.key) !== null
    const test = predicate(clause)
    return (view: RunView) => {
      const lhs = valueOf(view, clause.type, clause.key)
      return lhs !== null && test(lhs)
    }
  })
  return (view) => tests.every((test) => test(view))
}

/** The values a run sorts by, one per order-by key. */
export const sortKeys = (orderBy: readonly OrderKey[], view: RunView): SortValue[] => orderBy.map((key) => valueOf(view, key.type, key.key))

/** Filter, order and cut in memory: what MLflow's file store does with the runs it read. */
export const selectRuns = <V extends RunView>(views: readonly V[], query: RunQuery, maxResults?: number): V[] => {
  const matches = matcher(query.filter)
  const sorted = views
    .filter(matches)
    .map((view) => ({ view, info: view.info, keys: sortKeys(query.orderBy, view) }))
    .sort(compareRuns(query.orderBy))
    .map((entry) => entry.view)
  return maxResults === undefined ? sorted : sorted.slice(0, maxResults)
}
