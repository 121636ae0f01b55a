// Byte progress for one download task: `progress` events at most 5 per second, with rate and ETA.
import type { Emit } from "../events/event.ts"

export type Progress = {
  add(bytes: number): void
  /** Counts bytes already on disk (a resumed download) without letting them inflate the rate. */
  skip(bytes: number): void
  finish(): void
  readonly done: number
}

const intervalMs = 200
const windowMs = 3000

/** Counts bytes and emits `progress` events no more often than every 200 ms; `finish` emits the last one. */
export const progressFor = (emit: Emit | undefined, task: string, total: number | null, initial = 0, now = () => performance.now()): Progress => {
  let done = initial
  let lastEmit = -Infinity
  // What the last event said: a report with the same count (a finish right after one, an empty chunk) is not sent.
  let lastDone: number | null = null
  // Samples over the last few seconds give a rate that follows changes without jumping on every chunk.
  const samples: Array<[number, number]> = [[now(), initial]]
  const report = (at: number) => {
    if (done === lastDone) return
    lastDone = done
    samples.push([at, done])
    while (samples.length > 2 && (samples[0] as [number, number])[0] < at - windowMs) samples.shift()
    const [t0, d0] = samples[0] as [number, number]
    const seconds = (at - t0) / 1000
    const rate = seconds > 0 ? Math.round((done - d0) / seconds) : null
    const eta = rate && total !== null ? Math.max(0, Math.round(((total - done) / rate) * 10) / 10) : null
    emit?.({ type: "progress", task, done, total, rate, eta_s: eta })
    lastEmit = at
  }
  return {
    add(bytes) {
      done += bytes
      const at = now()
      if (at - lastEmit >= intervalMs) report(at)
    },
    skip(bytes) {
      done += bytes
      for (const sample of samples) sample[1] += bytes
    },
    finish() {
      report(now())
    },
    get done() {
      return done
    },
  }
}
