// MLflow's order_by for run search (SearchUtils.parse_order_by_for_search_runs and sort): keys, directions, ties.
import { numericAttributes, scanner, type EntityType } from "./search-filter.ts"

export type OrderKey = { type: Exclude<EntityType, "dataset">; key: string; ascending: boolean }

/** A value a run sorts by: null when the run has none (a missing metric, a RUNNING run's end_time). */
export type SortValue = string | number | null

export const orderByHint = "order by metrics.rmse, params.alpha DESC, tags.team ASC or attributes.start_time DESC; repeat --order-by for more keys"

/** RunInfo's orderable attributes plus `created` (MLflow's VALID_ORDER_BY_ATTRIBUTE_KEYS: no `run name` alias). */
const orderableAttributes: ReadonlySet<string> = new Set(["run_id", "run_name", "user_id", "status", "artifact_uri", ...numericAttributes])

/**
 * One order-by clause: `KEY`, `KEY ASC` or `KEY DESC` (the direction in any case). As in MLflow, nothing may come
 * before or after it, not even a space.
 */
export const parseOrderBy = (text: string): OrderKey => {
  const s = scanner(text, "order_by")
  if (text.trim() === "") s.fail(0, "the order-by clause is empty", orderByHint)
  if (/^\s/.test(text)) s.fail(0, "remove the space before the key", orderByHint)
  if (/\s$/.test(text)) s.fail(text.length - 1, "remove the space after the clause", orderByHint)
  const { type, key } = s.identifier(orderableAttributes)
  if (type === "dataset") s.fail(0, "runs cannot be ordered by a dataset", orderByHint)
  if (s.pos === text.length) return { type: type as OrderKey["type"], key, ascending: true }
  if (!/\s/.test(text[s.pos] as string)) s.fail(s.pos, "expected ASC or DESC after the key", orderByHint)
  s.skipSpace()
  const at = s.pos
  const direction = s.word()?.toLowerCase()
  if (direction !== "asc" && direction !== "desc") return s.fail(at, "the direction is ASC or DESC", orderByHint)
  if (s.pos !== text.length) s.fail(s.pos, "nothing may follow ASC or DESC (give each key its own --order-by)", orderByHint)
  return { type: type as OrderKey["type"], key, ascending: direction === "asc" }
}

/** Python's str ordering: by code point (JavaScript's `<` compares UTF-16 units, which differs above U+FFFF). */
export const compareText = (a: string, b: string): number => {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return (a.codePointAt(i) as number) - (b.codePointAt(i) as number)
  }
  return a.length - b.length
}

// MLflow's sort key puts every present value first, then NaN, then missing, in both directions.
const rank = (value: SortValue): number => (value === null ? 2 : typeof value === "number" && Number.isNaN(value) ? 1 : 0)

const compareValues = (a: SortValue, b: SortValue, ascending: boolean): number => {
  const ranks = rank(a) - rank(b)
  if (ranks !== 0 || rank(a) !== 0) return ranks
  const order = typeof a === "number" && typeof b === "number" ? (a < b ? -1 : a > b ? 1 : 0) : compareText(String(a), String(b))
  return ascending ? order : -order
}

export type SortableRun = { info: { start_time: number; run_id: string }; keys: readonly SortValue[] }

/**
 * MLflow sorts by start_time descending then run id, then applies each order-by key with a stable sort from the last
 * to the first: the same as comparing the keys in order and falling back to that natural order.
 */
export const compareRuns =
  (orderBy: readonly OrderKey[]) =>
  (a: SortableRun, b: SortableRun): number => {
    for (const [index, key] of orderBy.entries()) {
      const order = compareValues(a.keys[index] ?? null, b.keys[index] ?? null, key.ascending)
      if (order !== 0) return order
    }
    return b.info.start_time - a.info.start_time || compareText(a.info.run_id, b.info.run_id)
  }
