// Fetch events for one source: fetch.started, rate-limited fetch.progress, fetch.done with its duration.
import type { Emit } from "../events/event.ts"

export type Reporter = {
  progress(phase: string, done?: number | null, total?: number | null): void
  done(commit: string | null, cached: boolean): void
}

// Enough for a live progress line; JSON consumers are not flooded.
const intervalMs = 200

export const reporter = (emit: Emit, source: string, kind: string): Reporter => {
  const started = performance.now()
  let last: { phase: string; done: number | null; total: number | null } | null = null
  let lastAt = 0
  emit({ type: "fetch.started", source, kind })
  return {
    progress(phase, done = null, total = null) {
      const now = performance.now()
      const finished = done !== null && total !== null && done >= total
      // Git repeats its last line ("100% (n/n), done."), waits report each poll: an unchanged state says nothing new.
      if (last !== null && last.phase === phase && last.done === done && last.total === total) return
      if (last?.phase === phase && !finished && now - lastAt < intervalMs) return
      last = { phase, done, total }
      lastAt = now
      emit({ type: "fetch.progress", source, phase, done, total })
    },
    done(commit, cached) {
      emit({ type: "fetch.done", source, commit, cached, ms: Math.round(performance.now() - started) })
    },
  }
}

/** Git's progress lines ("Receiving objects:  45% (450/1000)"), possibly several joined by '\r'. */
export const parseGitProgress = (line: string): { phase: string; done: number; total: number } | null => {
  const last = line.split("\r").filter((part) => part.trim() !== "").at(-1) ?? ""
  const match = /^(?:remote: )?([A-Za-z][A-Za-z ]+?):\s+\d+% \((\d+)\/(\d+)\)/.exec(last.trim())
  if (!match) return null
  return { phase: (match[1] as string).toLowerCase(), done: Number(match[2]), total: Number(match[3]) }
}
