// Shared timing for benchmarks: interleaved runs, medians, and a ratio against a baseline from the same run.
export type Case = { name: string; argv: string[]; cwd?: string; env?: Record<string, string> }

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

const timeOnce = (c: Case): number => {
  const started = performance.now()
  const result = Bun.spawnSync(c.argv, { cwd: c.cwd, env: { ...process.env, ...c.env }, stdout: "ignore", stderr: "pipe" })
  const ms = performance.now() - started
  if (result.exitCode !== 0) throw new Error(`${c.name} failed (${result.exitCode}): ${result.stderr.toString()}`)
  return ms
}

/** Runs every case `rounds` times, interleaved so machine noise hits all of them alike; returns medians in ms. */
export const measure = (cases: Case[], rounds: number, warmup = 3): Map<string, number> => {
  for (let i = 0; i < warmup; i++) for (const c of cases) timeOnce(c)
  const samples = new Map(cases.map((c) => [c.name, [] as number[]]))
  for (let i = 0; i < rounds; i++) for (const c of cases) samples.get(c.name)?.push(timeOnce(c))
  return new Map([...samples].map(([name, values]) => [name, median(values)]))
}

export const report = (title: string, medians: Map<string, number>, baseline: string, goals: Record<string, string> = {}) => {
  const base = medians.get(baseline) ?? NaN
  console.log(title)
  for (const [name, ms] of medians) {
    const ratio = name === baseline ? "baseline" : `${(ms / base).toFixed(2)}x baseline, +${(ms - base).toFixed(1)} ms`
    console.log(`  ${name.padEnd(34)} ${ms.toFixed(2).padStart(8)} ms  (${ratio})${goals[name] ? `  goal: ${goals[name]}` : ""}`)
  }
}
