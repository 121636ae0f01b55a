// The text of `runs list`: one table of the listed runs, with the params and metrics that tell them apart.
import type { Event } from "./event.ts"

type Listed = Extract<Event, { type: "run.listed" }>
type Summary = Extract<Event, { type: "runs.listed" }>
type Paint = (code: string, text: string) => string

/** A value column at most this wide (header included); longer text ends in `…`. */
const cellWidth = 18
const nameWidth = 24
/** Without a terminal to measure, a table stays this wide. */
const defaultWidth = 160

const cut = (text: string, width: number): string => {
  const flat = text.replace(/[\t\n]/g, " ")
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat
}

/** Six significant digits, as a person compares metrics; NaN and infinities as Python prints them. */
export const metricText = (value: number | null): string => {
  if (value === null || Number.isNaN(value)) return "nan"
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf"
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)))
}

export const durationText = (start: number, end: number | null): string => {
  if (end === null) return "-"
  const ms = Math.max(0, end - start)
  if (ms < 1000) return `${ms} ms`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, "0")}h`
}

const startText = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace("T", " ")

type Column = { header: string; cell(run: Listed): string }

/** Keys whose value is not the same in every run (all of them when there is one run), in code-point order. */
const varying = (runs: Listed[], values: (run: Listed) => Record<string, string>): string[] => {
  const keys = [...new Set(runs.flatMap((run) => Object.keys(values(run))))].sort()
  if (runs.length <= 1) return keys
  return keys.filter((key) => new Set(runs.map((run) => values(run)[key] ?? "\0")).size > 1)
}

/** The params and metrics the filter and order-by name: shown before any other. */
const namedKeys = (summary: Summary): Set<string> => {
  try {
    // Loaded here: every command's renderer imports this file, and only `runs list` needs the search grammar.
    const { parseQuery } = require("../tracking/search-runs.ts") as typeof import("../tracking/search-runs.ts")
    const query = parseQuery(summary.filter ?? undefined, summary.order_by)
    return new Set([...query.orderBy, ...query.filter].map((k) => `${k.type}:${k.key}`))
  } catch {
    return new Set()
  }
}

export const runsTableText = (runs: Listed[], summary: Summary, options: { width?: number; paint: Paint }): { table: string; note: string } => {
  const where = `experiment${summary.experiment_ids.length === 1 ? "" : "s"} ${summary.experiment_ids.join(", ")}`
  if (runs.length === 0) return { table: "", note: `no runs in ${where}${summary.filter ? ` match ${summary.filter}` : ""}` }
  const metricValues = (run: Listed) => Object.fromEntries(Object.entries(run.metrics).map(([k, m]) => [k, metricText(m.value)]))
  const params = varying(runs, (run) => run.params)
  const metrics = varying(runs, metricValues)
  const both = new Set(params.filter((key) => metrics.includes(key)))
  const named = namedKeys(summary)
  const candidates = [
    ...params.map((key): Column & { id: string } => ({ id: `param:${key}`, header: both.has(key) ? `params.${key}` : key, cell: (run) => run.params[key] ?? "-" })),
    ...metrics.map((key): Column & { id: string } => ({ id: `metric:${key}`, header: both.has(key) ? `metrics.${key}` : key, cell: (run) => (run.metrics[key] ? metricValues(run)[key] ?? "-" : "-") })),
  ]
  const fixed: Column[] = [
    { header: "RUN ID", cell: (run) => run.run_id },
    { header: "NAME", cell: (run) => cut(run.run_name || "-", nameWidth) },
    { header: "STATUS", cell: (run) => run.status + (run.lifecycle_stage === "deleted" ? " (deleted)" : "") },
    { header: "START (UTC)", cell: (run) => startText(run.start_time) },
    { header: "DURATION", cell: (run) => durationText(run.start_time, run.end_time) },
  ]
  const widthOf = (column: Column) => Math.max(column.header.length, ...runs.map((run) => column.cell(run).length))
  const room = Math.max(options.width ?? defaultWidth, 40)
  let used = fixed.reduce((sum, column) => sum + widthOf(column) + 2, 0)
  // Named keys claim room first; the rest keep params-then-metrics order.
  const ordered = [...candidates.filter((c) => named.has(c.id)), ...candidates.filter((c) => !named.has(c.id))]
  const chosen = new Set<string>()
  for (const candidate of ordered) {
    const width = Math.min(widthOf({ header: cut(candidate.header, cellWidth), cell: (run) => cut(candidate.cell(run), cellWidth) }), cellWidth) + 2
    if (used + width > room) continue
    used += width
    chosen.add(candidate.id)
  }
  const shownColumns: Column[] = [
    ...fixed,
    ...ordered
      .filter((c) => chosen.has(c.id))
      .map((c) => ({ header: cut(c.header, cellWidth), cell: (run: Listed) => cut(c.cell(run), cellWidth) })),
  ]
  const widths = shownColumns.map(widthOf)
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] as number))).join("  ")
  const header = options.paint("1", line(shownColumns.map((c) => c.header)))
  const rows = runs.map((run) => line(shownColumns.map((c) => c.cell(run))))
  const hidden = candidates.length - chosen.size
  const notes = [
    `${runs.length} run${runs.length === 1 ? "" : "s"} in ${where}${summary.more ? ` (more match: raise --max)` : ""}`,
    ...(hidden > 0 ? [`${hidden} more param/metric column${hidden === 1 ? "" : "s"} did not fit: 'runs show ID' or --json has them`] : []),
  ]
  return { table: `${[header, ...rows].join("\n")}\n`, note: notes.join("; ") }
}
