// The loopback server's runs/search: MLflow's filter, order_by and page_token, written apart from src/ so the two can be compared.
//
// A deliberately different implementation from src/tracking/search-*.ts (regular expressions over the clause text,
// a comparator table, MLflow's offset page tokens), so a test that finds both agreeing checks the semantics twice.

export type SearchableRun = {
  info: { run_id: string; run_name: string; user_id: string; status: string; start_time: number; end_time?: number; artifact_uri: string; lifecycle_stage: string }
  params: Map<string, string>
  tags: Map<string, string>
  /** Latest value per key. */
  latest: Map<string, number>
}

export class SearchError extends Error {}

const entityOf: Record<string, string> = { metric: "m", metrics: "m", param: "p", params: "p", parameter: "p", parameters: "p", tag: "t", tags: "t", attribute: "a", attributes: "a", attr: "a", run: "a" }
const numericAttributes = new Set(["start_time", "end_time", "created", "Created"])

const unquote = (text: string): string => (/^(`.*`|".*"|'.*')$/s.test(text) ? text.slice(1, -1) : text)

/** Splits on AND outside quotes. */
const clausesOf = (filter: string): string[] => {
  const out: string[] = []
  let current = ""
  let quote: string | null = null
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i] as string
    if (quote) {
      if (c === quote) quote = null
    } else if (c === "'" || c === '"' || c === "`") quote = c
    else if (/\s/.test(c) && /^\s+and\s+/i.test(filter.slice(i))) {
      out.push(current)
      current = ""
      i += (/^\s+and\s+/i.exec(filter.slice(i)) as RegExpExecArray)[0].length - 1
      continue
    }
    current += c
  }
  if (current.trim() !== "") out.push(current)
  return out
}

type Lhs = string | number | undefined

const lhsOf = (run: SearchableRun, entity: string, key: string): Lhs => {
  if (entity === "m") return run.latest.get(key)
  if (entity === "p") return run.params.get(key)
  if (entity === "t") return run.tags.get(key)
  const name = key === "created" || key === "Created" ? "start_time" : key
  return (run.info as Record<string, string | number | undefined>)[name]
}

const like = (pattern: string, flags: string) =>
  new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replaceAll("%", "[\\s\\S]*").replaceAll("_", "[\\s\\S]")}$`, flags)

const test = (lhs: Lhs, op: string, raw: string, numeric: boolean): boolean => {
  if (op === "IS NULL") return lhs === undefined
  if (op === "IS NOT NULL") return lhs !== undefined
  if (lhs === undefined) return false
  if (op === "IN" || op === "NOT IN") {
    const items = [...raw.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2])
    return items.includes(String(lhs)) === (op === "IN")
  }
  const rhs: string | number = numeric ? Number(raw) : unquote(raw)
  switch (op) {
    case "LIKE": return like(String(rhs), "u").test(String(lhs))
    case "ILIKE": return like(String(rhs), "iu").test(String(lhs))
    case "=": return lhs === rhs
    case "!=": return lhs !== rhs
    case "<": return lhs < rhs
    case "<=": return lhs <= rhs
    case ">": return lhs > rhs
    case ">=": return lhs >= rhs
  }
  throw new SearchError(`Invalid comparator '${op}'`)
}

const clausePattern = /^\s*(?:(`?\w+`?)\.)?(`[^`]*`|"[^"]*"|'[^']*'|[\w.]+)\s*(<=|>=|!=|=|<|>|NOT\s+IN|IN|ILIKE|LIKE|IS\s+NOT\s+NULL|IS\s+NULL)\s*(.*?)\s*$/is

export const matchesFilter = (run: SearchableRun, filter: string): boolean =>
  clausesOf(filter).every((clause) => {
    const m = clausePattern.exec(clause)
    if (!m) throw new SearchError(`Invalid clause(s) in filter string: '${clause}'`)
    const entity = m[1] === undefined ? "a" : entityOf[m[1].replaceAll("`", "")]
    if (entity === undefined) throw new SearchError(`Invalid entity type '${m[1]}'`)
    const key = unquote(m[2] as string)
    const op = (m[3] as string).toUpperCase().replace(/\s+/g, " ")
    return test(lhsOf(run, entity, key), op, m[4] as string, entity === "m" || (entity === "a" && numericAttributes.has(key)))
  })

/** MLflow's SearchUtils.sort: natural order, then each key with a stable sort from the last; missing last, NaN before it. */
export const sortRuns = (runs: SearchableRun[], orderBy: string[]): SearchableRun[] => {
  let sorted = [...runs].sort((a, b) => b.info.start_time - a.info.start_time || (a.info.run_id < b.info.run_id ? -1 : 1))
  for (const clause of [...orderBy].reverse()) {
    const m = /^(?:(\w+)\.)?(`[^`]*`|"[^"]*"|[\w.]+)(?:\s+(asc|desc))?$/i.exec(clause)
    if (!m) throw new SearchError(`Invalid order_by clause '${clause}'`)
    const entity = m[1] === undefined ? "a" : entityOf[m[1]]
    if (entity === undefined) throw new SearchError(`Invalid entity type '${m[1]}'`)
    const key = unquote(m[2] as string)
    const descending = m[3]?.toLowerCase() === "desc"
    const group = (v: Lhs) => (v === undefined ? 2 : typeof v === "number" && Number.isNaN(v) ? 1 : 0)
    sorted = sorted
      .map((run, index) => ({ run, index, value: lhsOf(run, entity, key) }))
      .sort((a, b) => {
        const groups = group(a.value) - group(b.value)
        if (groups !== 0) return groups
        if (group(a.value) === 0 && a.value !== b.value) return ((a.value as string | number) < (b.value as string | number) ? -1 : 1) * (descending ? -1 : 1)
        return a.index - b.index
      })
      .map((entry) => entry.run)
  }
  return sorted
}

/** MLflow's page tokens: base64 of `{"offset": N}`. */
export const pageOf = <T>(items: T[], token: string | undefined, max: number): { page: T[]; next?: string } => {
  const offset = token ? Number(JSON.parse(Buffer.from(token, "base64").toString("utf8")).offset) : 0
  const end = offset + max
  return { page: items.slice(offset, end), ...(end < items.length ? { next: Buffer.from(JSON.stringify({ offset: end })).toString("base64") } : {}) }
}
