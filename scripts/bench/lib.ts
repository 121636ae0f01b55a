// Shared timing for benchmarks: interleaved runs, medians, and a ratio against a baseline from the same run.
import { existsSync } from "node:fs"
import { join } from "node:path"
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

/** dist/mlproject, which a benchmark of the binary needs built first. */
export const builtBinary = (): string => {
  const binary = join(import.meta.dir, "..", "..", "dist", "mlproject")
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run 'bun run build' first`)
  return binary
}

/** `--name N` from the command line, else `fallback`. */
export const numberOption = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--${name}`)
  return index === -1 ? fallback : Number(process.argv[index + 1])
}
