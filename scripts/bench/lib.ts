// Shared timing for benchmarks: interleaved runs, medians, peak RSS, a ratio against a baseline from the same run.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
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

/**
 * Runs every case `rounds` times, interleaved so machine noise hits all of them alike; returns medians in ms. `rotate`
 * starts each round one case later, so no case always runs right after the same other one (for docker runs the place
 * in the round shifted a case's median by several ms here).
 */
export const measure = (cases: Case[], rounds: number, warmup = 3, rotate = false): Map<string, number> => {
  for (let i = 0; i < warmup; i++) for (const c of cases) timeOnce(c)
  const samples = new Map(cases.map((c) => [c.name, [] as number[]]))
  for (let i = 0; i < rounds; i++) {
    for (let j = 0; j < cases.length; j++) {
      const c = cases[rotate ? (i + j) % cases.length : j] as Case
      samples.get(c.name)?.push(timeOnce(c))
    }
  }
  return new Map([...samples].map(([name, values]) => [name, median(values)]))
}

/**
 * Puts binaries in the state of an installed one: their pages dropped from the page cache, to be read back from disk
 * by the next start. A binary just written (a build, the hello-world compiled by a bench) runs in another state than
 * one that has been on disk a while: it peaks ~6 MiB higher and starts ~0.3 ms faster. Binaries compared in one run
 * must start from the same state, or the figures compare page caches, not code.
 */
export const readBackFromDisk = (binaries: readonly string[]): void => {
  for (const binary of binaries) {
    Bun.spawnSync(["sync", binary])
    Bun.spawnSync(["dd", `if=${binary}`, "iflag=nocache", "count=0", "status=none"])
  }
}

/**
 * The largest peak RSS (maximum resident set size, as /usr/bin/time -v reports it) over `runs` runs of a case, in MiB.
 * Measured apart from the timed rounds: the wrapper's own start-up would be in the times.
 */
export const peakRssMiB = (c: Case, runs = 5): number => {
  let peak = 0
  for (let i = 0; i < runs; i++) {
    const result = Bun.spawnSync(["/usr/bin/time", "-f", "%M", ...c.argv], { cwd: c.cwd, env: { ...process.env, ...c.env }, stdout: "ignore", stderr: "pipe" })
    if (result.exitCode !== 0) throw new Error(`${c.name} failed (${result.exitCode}): ${result.stderr.toString()}`)
    peak = Math.max(peak, Number(result.stderr.toString().trim().split("\n").at(-1)) / 1024)
  }
  return peak
}

export const report = (title: string, medians: Map<string, number>, baseline: string, goals: Record<string, string> = {}) => {
  const base = medians.get(baseline) ?? NaN
  console.log(title)
  for (const [name, ms] of medians) {
    const ratio = name === baseline ? "baseline" : `${(ms / base).toFixed(2)}x baseline, +${(ms - base).toFixed(1)} ms`
    console.log(`  ${name.padEnd(34)} ${ms.toFixed(2).padStart(8)} ms  (${ratio})${goals[name] ? `  goal: ${goals[name]}` : ""}`)
  }
}

/**
 * Points every binary this bench starts at a $MLPROJECT_HOME inside `dir` (which the bench removes): the records of its
 * hundreds of runs, its parse cache and links stay out of the user's own home, and each bench starts from the same
 * empty one instead of whatever earlier benches left there (22,000 run records on one machine in a day).
 */
export const useOwnHome = (dir: string): string => (process.env.MLPROJECT_HOME = join(dir, "mlproject-home"))

/** One goal line: `goal: ≤ 1.5× hello-world: mlproject --version: 1.23× met`. */
export const goal = (what: string, value: number, limit: number, unit = "×"): void => {
  const shown = unit === "×" ? `${value.toFixed(2)}×` : `${value.toFixed(1)} ${unit}`
  console.log(`  goal: ≤ ${limit}${unit === "×" ? "×" : ` ${unit}`} ${what}: ${shown} ${value <= limit ? "met" : "NOT met"}`)
}

/**
 * The floor start-up goals are measured against: a one-line `console.log("hello")` compiled exactly as scripts/build.ts
 * compiles mlproject (bytecode, splitting, minified, ESM, no autoloaded config), in a temporary folder.
 */
export const compileHelloWorld = async (): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), "mlproject-bench-hello-"))
  writeFileSync(join(dir, "hello.ts"), 'console.log("hello")\n')
  const outfile = join(dir, "hello")
  const result = await Bun.build({
    entrypoints: [join(dir, "hello.ts")],
    compile: { outfile, autoloadTsconfig: false, autoloadPackageJson: false, autoloadDotenv: false, autoloadBunfig: false },
    bytecode: true,
    splitting: true,
    format: "esm",
    minify: true,
  })
  if (!result.success) throw new Error(`compiling the hello-world floor failed: ${result.logs.map(String).join("\n")}`)
  return outfile
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
