// Runs the compiled dist/mlproject as a subprocess and parses its JSON-lines events.
import { existsSync } from "node:fs"
import { resolve } from "node:path"

// MLPROJECT_TEST_BINARY runs the tests against another build (e.g. the previous release, to see a test fail without a fix).
export const binary = process.env.MLPROJECT_TEST_BINARY ?? resolve(import.meta.dir, "..", "..", "dist", "mlproject")

export type CliResult = {
  code: number | null
  stdout: string
  stderr: string
  /** Parsed JSON lines of stdout (only with --json). */
  events: Array<Record<string, unknown> & { type: string }>
  ms: number
}

export const requireBinary = (): string => {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run 'bun run build' first (npm test does)`)
  return binary
}

export const cli = async (
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; stdin?: string } = {},
): Promise<CliResult> => {
  const started = performance.now()
  const env = Object.fromEntries(
    Object.entries({ ...process.env, ...options.env }).filter((e): e is [string, string] => e[1] !== undefined),
  )
  const child = Bun.spawn([requireBinary(), ...args], {
    cwd: options.cwd,
    env,
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  const events = args.includes("--json")
    ? stdout
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as CliResult["events"][number])
    : []
  return { code, stdout, stderr, events, ms: performance.now() - started }
}

export type LiveRun = {
  child: ReturnType<typeof Bun.spawn>
  events: Array<Record<string, unknown>>
  /** Resolves once the entry point printed a line "ready"; rejects if the binary exits first. */
  ready: Promise<void>
  /** Resolves when all output has been read (keep reading: a closed pipe would fail the binary's later writes). */
  reading: Promise<void>
}

/** Starts `mlproject run … --json` and follows its events live, for tests that signal a run in progress. */
export const startRun = (cwd: string, args: string[], env?: Record<string, string | undefined>): LiveRun => {
  const child = Bun.spawn([requireBinary(), "run", ...args, "--json"], { cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" })
  const events: Array<Record<string, unknown>> = []
  let markReady: () => void = () => {}
  const readyPromise = new Promise<void>((resolve) => (markReady = resolve))
  const reading = (async () => {
    let pending = ""
    for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
      pending += new TextDecoder().decode(chunk)
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) {
        const event = JSON.parse(line) as Record<string, unknown>
        events.push(event)
        if (event.type === "log" && event.line === "ready") markReady()
      }
    }
  })()
  const died = child.exited.then((code) => Promise.reject(new Error(`mlproject exited ${code} before the entry point was ready: ${JSON.stringify(events)}`)))
  return { child, events, ready: Promise.race([readyPromise, died]), reading }
}

export type LiveCli = {
  child: ReturnType<typeof Bun.spawn>
  /** JSON events so far (with --json). */
  events: Array<Record<string, unknown> & { type: string }>
  stderr: () => string
  /** Resolves with the first event that matches; rejects if the binary exits first. */
  until(match: (event: Record<string, unknown> & { type: string }) => boolean): Promise<Record<string, unknown>>
  /** Sends `signal` and resolves with the exit code and how long the exit took after the signal. */
  interrupt(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>
  /** Resolves once every line of output was read. */
  finished: Promise<number | null>
}

/** Starts the binary and follows its events live, for tests that signal it or watch it while it waits on something. */
export const liveCli = (args: string[], options: { cwd?: string; env?: Record<string, string | undefined>; stdin?: "ignore" | "pipe" } = {}): LiveCli => {
  const env = Object.fromEntries(Object.entries({ ...process.env, ...options.env }).filter((e): e is [string, string] => e[1] !== undefined))
  // "pipe" leaves the binary's standard input open and silent, as a producer that never writes would.
  const child = Bun.spawn([requireBinary(), ...args], { cwd: options.cwd, env, stdin: options.stdin ?? "ignore", stdout: "pipe", stderr: "pipe" })
  const events: LiveCli["events"] = []
  const watchers: Array<{ match: (event: LiveCli["events"][number]) => boolean; resolve: (event: Record<string, unknown>) => void }> = []
  let stderr = ""
  const readOut = (async () => {
    let pending = ""
    for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
      pending += new TextDecoder().decode(chunk)
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines.filter((l) => l.trim() !== "")) {
        const event = JSON.parse(line) as LiveCli["events"][number]
        events.push(event)
        for (const watcher of watchers.filter((w) => w.match(event))) watcher.resolve(event)
      }
    }
  })()
  const readErr = (async () => {
    for await (const chunk of child.stderr as ReadableStream<Uint8Array>) stderr += new TextDecoder().decode(chunk)
  })()
  const finished = Promise.all([readOut, readErr, child.exited]).then(([, , code]) => code)
  return {
    child,
    events,
    stderr: () => stderr,
    until(match) {
      const found = events.find(match)
      if (found) return Promise.resolve(found)
      const seen = new Promise<Record<string, unknown>>((resolve) => watchers.push({ match, resolve }))
      const died = finished.then((code) => Promise.reject(new Error(`mlproject exited ${code} first: ${JSON.stringify(events)} ${stderr}`)))
      return Promise.race([seen, died])
    },
    async interrupt(signal = "SIGINT") {
      const sentAt = performance.now()
      child.kill(signal)
      const code = await child.exited
      const ms = performance.now() - sentAt
      await finished
      return { code, ms }
    },
    finished,
  }
}
