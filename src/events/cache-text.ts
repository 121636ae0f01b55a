// Human text for the cache events: the per-kind table of `cache list`, and what `cache gc` removed.
import type { Event } from "./event.ts"
import { agoText, bytesText } from "./env-text.ts"

type Of<K extends Event["type"]> = Extract<Event, { type: K }>

/** `mlproject cache list`: one row per kind, then the total. */
export const cacheListedText = (event: Of<"cache.listed">, now: number = Date.now()): string => {
  const rows = [
    ["KIND", "ENTRIES", "SIZE", "LAST USED", "IN USE", "WHERE"],
    ...event.kinds.map((k) =>
      k.note
        ? [k.kind, "-", "-", "-", "-", `${k.root} (${k.note})`]
        : [k.kind, String(k.count), bytesText(k.bytes), k.last_used ? agoText(k.last_used, now) : "-", String(k.in_use), k.root],
    ),
  ]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((r) => (r[column] ?? "").length)))
  const lines = rows.map((r) => r.map((cell, column) => (column === r.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  "))
  const total = event.kinds.reduce((sum, k) => sum + k.bytes, 0)
  const leftovers = event.kinds.reduce((sum, k) => sum + k.entries.filter((e) => e.leftover).length, 0)
  const tail = leftovers > 0 ? `; ${leftovers} left by processes that are gone (removed by the next 'mlproject cache gc')` : ""
  return `${lines.join("\n")}\n${bytesText(total)} in ${event.home}${tail}\n`
}

const reasons: Record<Of<"cache.removed">["reason"], string> = { older: "unused", size: "over --max-size", leftover: "left by a process that is gone" }

export const cacheRemovedText = (event: Of<"cache.removed">): string => `removed ${event.kind} ${event.id} (${bytesText(event.bytes)}, ${reasons[event.reason]})`

export const cacheCollectedText = (event: Of<"cache.collected">): string =>
  `${event.removed} entr${event.removed === 1 ? "y" : "ies"} removed (${bytesText(event.bytes)}), ${event.kept} kept` +
  (event.busy > 0 ? `, ${event.busy} in use` : "") +
  `; ${bytesText(event.remaining_bytes)} left in ${event.home}` +
  (event.skipped.length > 0 ? ` (not looked at: ${event.skipped.join(", ")})` : "")
