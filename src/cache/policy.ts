// The one cache policy for everything under $MLPROJECT_HOME: list every kind, and collect by last use and total size.
import type { CacheKindView, Emit } from "../events/event.ts"
import { mlprojectHome } from "../util/paths.ts"
import { downloadsKind, parsedKind, runsKind } from "./files.ts"
import { envsKind } from "./envs.ts"
import { imagesKind } from "./images.ts"
import { poolKind, projectsKind, workdirsKind } from "./projects.ts"
import type { CacheEntry, CacheKind } from "./types.ts"

type Env = Record<string, string | undefined>

/** Every kind, in the order the listing shows them. */
export const kindNames = ["projects", "pool", "workdirs", "downloads", "parsed", "envs", "runs", "images"] as const
export type KindName = (typeof kindNames)[number]

const makers: Record<KindName, (env: Env) => CacheKind | Promise<CacheKind>> = {
  projects: projectsKind,
  pool: poolKind,
  workdirs: workdirsKind,
  downloads: downloadsKind,
  parsed: parsedKind,
  envs: envsKind,
  runs: runsKind,
  images: imagesKind,
}

export const cacheKinds = (env: Env, only: readonly KindName[] = kindNames): Promise<CacheKind[]> =>
  Promise.all(kindNames.filter((name) => only.includes(name)).map((name) => makers[name](env)))

const newest = (entries: CacheEntry[]): string | null =>
  entries.reduce<string | null>((best, e) => (best === null || e.last_used > best ? e.last_used : best), null)

export const viewOf = (kind: CacheKind, entries: CacheEntry[]): CacheKindView => ({
  kind: kind.name,
  root: kind.root,
  count: entries.length,
  bytes: entries.reduce((sum, e) => sum + e.bytes, 0),
  last_used: newest(entries),
  in_use: entries.filter((e) => e.in_use).length,
  ...(kind.unavailable ? { note: kind.unavailable } : {}),
  entries: entries.map(({ kind: _, ...view }) => view),
})

export const listCache = async (env: Env, only?: readonly KindName[]): Promise<{ home: string; kinds: CacheKindView[] }> => {
  const kinds = await cacheKinds(env, only)
  const views: CacheKindView[] = []
  for (const kind of kinds) views.push(viewOf(kind, await kind.list()))
  return { home: mlprojectHome(env), kinds: views }
}

export type CollectOptions = { olderThanMs?: number; maxBytes?: number; now?: number; only?: readonly KindName[]; emit: Emit; env: Env }

type Choice = { kind: CacheKind; entry: CacheEntry; reason: "older" | "size" | "leftover" }

/**
 * Chooses what to remove: leftovers of processes that are gone always; entries unused for longer than `olderThanMs`;
 * then, while the total of every kind is over `maxBytes`, the least recently used of the rest. An entry in use is
 * never chosen (and its bytes still count toward the total), nor is anything a kind did not list as its own.
 */
export const choose = (listed: Array<{ kind: CacheKind; entries: CacheEntry[] }>, options: ChooseOptions): Choice[] => {
  const now = options.now ?? Date.now()
  const all = listed.flatMap(({ kind, entries }) => entries.map((entry) => ({ kind, entry })))
  const picks: Choice[] = []
  const rest: Array<{ kind: CacheKind; entry: CacheEntry }> = []
  for (const item of all) {
    if (item.entry.in_use) continue
    if (item.entry.leftover) picks.push({ ...item, reason: "leftover" })
    else if (options.olderThanMs !== undefined && now - Date.parse(item.entry.last_used) > options.olderThanMs) picks.push({ ...item, reason: "older" })
    else rest.push(item)
  }
  if (options.maxBytes === undefined) return picks
  let total = all.reduce((sum, { entry }) => sum + entry.bytes, 0) - picks.reduce((sum, p) => sum + p.entry.bytes, 0)
  for (const item of rest.sort((a, b) => a.entry.last_used.localeCompare(b.entry.last_used))) {
    if (total <= options.maxBytes) break
    picks.push({ ...item, reason: "size" })
    total -= item.entry.bytes
  }
  return picks
}

type ChooseOptions = Pick<CollectOptions, "olderThanMs" | "maxBytes" | "now">

export const collectCache = async (options: CollectOptions): Promise<void> => {
  const kinds = await cacheKinds(options.env, options.only)
  const skipped = kinds.filter((k) => k.unavailable)
  for (const kind of skipped) options.emit({ type: "warning", code: "cache.kind_unavailable", message: `cache kind '${kind.name}' skipped: ${kind.unavailable}` })
  const listed: Array<{ kind: CacheKind; entries: CacheEntry[] }> = []
  for (const kind of kinds) if (!kind.unavailable) listed.push({ kind, entries: await kind.list() })
  const picks = choose(listed, options)
  const totals = { removed: 0, bytes: 0, kept: 0, busy: 0 }
  const total = listed.reduce((sum, { entries }) => sum + entries.reduce((s, e) => s + e.bytes, 0), 0)
  totals.busy = listed.reduce((sum, { entries }) => sum + entries.filter((e) => e.in_use).length, 0)
  for (const { kind, entry, reason } of picks) {
    const verdict = await kind.remove(entry)
    if (verdict !== "removed") {
      totals[verdict]++
      continue
    }
    totals.removed++
    totals.bytes += entry.bytes
    options.emit({ type: "cache.removed", kind: kind.name, id: entry.id, path: entry.path, bytes: entry.bytes, reason })
  }
  const entries = listed.reduce((sum, { entries }) => sum + entries.length, 0)
  totals.kept = entries - totals.removed - totals.busy
  options.emit({
    type: "cache.collected",
    home: mlprojectHome(options.env),
    ...totals,
    remaining_bytes: total - totals.bytes,
    skipped: skipped.map((k) => k.name),
  })
}
