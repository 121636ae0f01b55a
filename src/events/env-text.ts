// Human text for the env events and byte sizes, used by the human renderer.
import type { EnvEntry, Event } from "./event.ts"

type EnvEvent = Event

type Of<K extends EnvEvent["type"]> = Extract<EnvEvent, { type: K }>

export const bytesText = (n: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

/** "just now", "5 minutes ago", "3 days ago". */
export const agoText = (iso: string, now: number = Date.now()): string => {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  const steps: Array<[number, string]> = [
    [86_400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ]
  for (const [size, name] of steps) {
    const count = Math.floor(seconds / size)
    if (count >= 1) return `${count} ${name}${count === 1 ? "" : "s"} ago`
  }
  return "just now"
}

const row = (entry: EnvEntry, now: number): string[] => [
  entry.key,
  entry.manager,
  entry.python ?? "-",
  bytesText(entry.bytes),
  !entry.owned ? "not ours (left alone)" : entry.in_use > 0 ? `in use by ${entry.in_use} run${entry.in_use === 1 ? "" : "s"}` : entry.complete ? agoText(entry.last_used, now) : "incomplete (crashed or building)",
]

/** `mlproject env list`: a table on stdout, or a sentence when the cache is empty. */
export const envListedText = (event: Of<"env.listed">, now: number = Date.now()): string => {
  if (event.envs.length === 0) return `no environments in ${event.root}\n`
  const rows = [["KEY", "MANAGER", "PYTHON", "SIZE", "LAST USED"], ...event.envs.map((e) => row(e, now))]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((r) => (r[column] ?? "").length)))
  const lines = rows.map((r) => r.map((cell, column) => (column === r.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  "))
  const total = event.envs.reduce((sum, e) => sum + e.bytes, 0)
  return `${lines.join("\n")}\n${event.envs.length} environment${event.envs.length === 1 ? "" : "s"}, ${bytesText(total)} in ${event.root}\n`
}

export const envRemovedText = (event: Of<"env.removed">): string =>
  `removed ${event.key} (${bytesText(event.bytes)}${event.reason === "incomplete" ? ", left by a crashed build" : event.reason === "unused" ? ", unused" : ""})`

export const envCollectedText = (event: Of<"env.collected">): string =>
  `${event.removed} environment${event.removed === 1 ? "" : "s"} removed (${bytesText(event.bytes)}), ${event.kept} kept` +
  (event.busy > 0 ? `, ${event.busy} skipped while being built` : "")

/** Progress lines, for stderr. */
export const envCreatingText = (event: Of<"env.creating">): string =>
  `creating ${event.manager} environment ${event.key}${event.python ? ` (Python ${event.python})` : ""} in ${event.prefix}; log: ${event.log}`

export const envWaitingText = (event: Of<"env.waiting">): string =>
  `waiting for ${event.pid ? `process ${event.pid}` : "another process"}, which is building environment ${event.key}`

export const envProgressText = (event: Of<"env.progress">): string => `[${event.index}/${event.total}] ${event.step}`

/** The live line on a terminal: a bar of the steps done, the step, and what the installer is doing in it. */
export const envProgressLine = (event: Of<"env.progress">, width = 20): string => {
  const filled = event.total > 0 ? Math.round((width * Math.max(0, event.index - 1)) / event.total) : 0
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${event.index}/${event.total} ${event.step}${event.detail ? `: ${event.detail}` : ""}`
}

/** `environment: …` once it is ready: the image by name for docker (its id alone says nothing to a person). */
export const envReadyText = (event: Of<"env.ready">): string => {
  if (event.manager === "local") return "environment: local (the system's own tools; no environment is created)"
  const cached = event.cached ? " (cached)" : ""
  if (event.manager === "docker" && event.image) {
    const id = event.key?.replace(/^sha256:/, "").slice(0, 12)
    return `environment: docker image ${event.image}${id ? ` (${id})` : ""}${cached}`
  }
  return `environment: ${event.manager}${event.key ? ` ${event.key}` : ""}${cached}`
}
