// The one subprocess helper: argv arrays only, optional process groups, line-streamed output, clear errors.
import { ToolError } from "../errors.ts"
import { descendants } from "./process-tree.ts"

export type ExecOptions = {
  cwd?: string
  env?: Record<string, string | undefined>
  /**
   * "capture" collects stdout/stderr as text; "lines" streams them line by line; "inherit" passes the terminal through;
   * `{ fd }` writes both, interleaved as a terminal would show them, to an open file (a detached run's log).
   */
  output?: "capture" | "lines" | "inherit" | { fd: number }
  onLine?: (stream: "stdout" | "stderr", line: string) => void
  /** Start in a new session and process group so the whole tree can be signalled at once. */
  group?: boolean
  /** "inherit" passes the terminal; a string is written to the program's standard input (e.g. a credential helper's question). */
  stdin?: "inherit" | "ignore" | { text: string }
  signal?: AbortSignal
  /** The signal an abort sends (default SIGTERM). */
  abortSignal?: NodeJS.Signals
  /**
   * Signal the program's whole tree (children found through /proc), not the program alone: for a program that starts
   * helpers (git's remote helpers, ssh) but must keep our terminal for their prompts, so it cannot have its own group.
   */
  tree?: boolean
  /** After an abort, SIGKILL what is left of the program (its group or tree) once this long has passed. */
  killAfterMs?: number
  /** Also end a line at '\r', so progress that redraws one line (git, curl) arrives as it happens. */
  splitCarriageReturn?: boolean
}

export type ExecResult = { code: number | null; signal: string | null; stdout: string; stderr: string }

export type ProcessHandle = {
  pid: number
  /** Resolves when the process itself exits (its output may still be arriving). */
  exited: Promise<number>
  /** Resolves when the process exits and all its output has been delivered (or `closeOutput` was called). */
  done: Promise<ExecResult>
  /** Sends a signal to the process, or to its whole group when started with `group`. */
  kill(signal: NodeJS.Signals): void
  /** Stops reading its output: a process we cannot reach may hold the pipes open for ever. */
  closeOutput(): void
}

// The processes this one started and that still run: an orphan re-parented to us is anything else.
const running = new Set<number>()

/** The live children we started ourselves (every other child of ours is an orphan from an entry point's tree). */
export const ownChildren = (): ReadonlySet<number> => running

const track = (child: { pid: number; exited: Promise<unknown> }): void => {
  running.add(child.pid)
  void child.exited.finally(() => running.delete(child.pid))
}

const cleanEnv = (env: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined))

type Reader = { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> }

const pumpLines = async (
  reader: Reader,
  onLine: (line: string) => void,
  splitCarriageReturn = false,
): Promise<void> => {
  const decoder = new TextDecoder()
  const lineEnd = splitCarriageReturn ? /\r\n|\r|\n/ : /\r?\n/
  let pending = ""
  for (;;) {
    const { done, value: chunk } = await reader.read().catch(() => ({ done: true, value: undefined }))
    if (done || !chunk) break
    pending += decoder.decode(chunk, { stream: true })
    for (let match = lineEnd.exec(pending); match; match = lineEnd.exec(pending)) {
      // A '\r' at the very end may be the first half of "\r\n": wait for the next chunk.
      if (match[0] === "\r" && match.index === pending.length - 1) break
      onLine(pending.slice(0, match.index))
      pending = pending.slice(match.index + match[0].length)
    }
  }
  pending += decoder.decode()
  if (pending !== "") onLine(pending)
}

/** Starts a program. Throws `exec.not_found` when the program does not exist. */
export const start = (argv: string[], options: ExecOptions = {}): ProcessHandle => {
  const output = options.output ?? "capture"
  const piped = output === "inherit" ? "inherit" : typeof output === "object" ? output.fd : "pipe"
  let child: ReturnType<typeof Bun.spawn>
  try {
    child = Bun.spawn(argv, {
      cwd: options.cwd,
      env: cleanEnv(options.env ?? process.env),
      stdin: typeof options.stdin === "object" ? new TextEncoder().encode(options.stdin.text) : (options.stdin ?? "ignore"),
      stdout: piped,
      stderr: piped,
      detached: options.group ?? false,
    })
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === "ENOENT") {
      throw new ToolError("exec.not_found", `'${argv[0]}' was not found${options.cwd ? ` (working directory ${options.cwd})` : ""}`, {
        hint: `install ${argv[0]} or put it on PATH`,
        exitCode: 2,
        cause: error,
      })
    }
    throw new ToolError("exec.failed", `could not start '${argv[0]}': ${(error as Error).message}`, { exitCode: 1, cause: error })
  }

  const pid = child.pid
  track(child)
  // Members of the tree seen at the first signal: an orphan whose parent died since is no longer a descendant.
  const seen = new Set<number>()
  const signalTree = (signal: NodeJS.Signals) => {
    for (const member of [pid, ...descendants(pid)]) seen.add(member)
    for (const member of seen) {
      try {
        process.kill(member, signal)
      } catch {
        // Already gone.
      }
    }
  }
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (options.group) process.kill(-pid, signal)
      else if (options.tree) signalTree(signal)
      else child.kill(signal)
    } catch {
      // The group is already gone: nothing left to signal.
    }
  }
  let escalation: ReturnType<typeof setTimeout> | undefined
  const onAbort = () => {
    kill(options.abortSignal ?? "SIGTERM")
    if (options.killAfterMs !== undefined) escalation = setTimeout(() => kill("SIGKILL"), options.killAfterMs)
  }
  if (options.signal?.aborted) onAbort()
  else options.signal?.addEventListener("abort", onAbort, { once: true })

  const collected = { stdout: [] as string[], stderr: [] as string[] }
  const sink = (stream: "stdout" | "stderr") => (line: string) =>
    output === "lines" ? options.onLine?.(stream, line) : void collected[stream].push(line)
  const streams: Reader[] = piped === "pipe" ? [(child.stdout as ReadableStream<Uint8Array>).getReader(), (child.stderr as ReadableStream<Uint8Array>).getReader()] : []
  const readers = streams.map((reader, index) => pumpLines(reader, sink(index === 0 ? "stdout" : "stderr"), options.splitCarriageReturn))
  const closeOutput = () => {
    for (const reader of streams) void reader.cancel().catch(() => {})
  }

  const done = (async (): Promise<ExecResult> => {
    const code = await child.exited
    await Promise.all(readers)
    clearTimeout(escalation)
    options.signal?.removeEventListener("abort", onAbort)
    return {
      code: child.signalCode ? null : code,
      signal: child.signalCode ? String(child.signalCode) : null,
      stdout: collected.stdout.join("\n"),
      stderr: collected.stderr.join("\n"),
    }
  })()
  return { pid, exited: child.exited, done, kill, closeOutput }
}

/** Runs a program to completion and returns its captured output. */
export const run = (argv: string[], options: ExecOptions = {}): Promise<ExecResult> => start(argv, options).done

/** Runs a program and returns its trimmed stdout, or null when it fails or is missing. */
export const tryOutput = async (argv: string[], options: ExecOptions = {}): Promise<string | null> => {
  try {
    const result = await run(argv, { ...options, output: "capture" })
    return result.code === 0 ? result.stdout.trim() : null
  } catch (error) {
    if (error instanceof ToolError && error.code === "exec.not_found") return null
    throw error
  }
}

/** Starts a program in its own session and does not wait for it (background cleanup); false when it cannot start. */
export const spawnDetached = (argv: string[]): boolean => {
  try {
    const child = Bun.spawn(argv, { detached: true, stdin: "ignore", stdout: "ignore", stderr: "ignore" })
    track(child)
    child.unref()
    return true
  } catch {
    return false
  }
}
