// `mlproject log batch FILE|-`: JSON lines logged as they arrive (sent every N lines or T ms), or one log-batch document.
//
// The first non-blank line decides the form: a line that is a whole JSON object by itself starts JSON lines
// (log-lines.ts says what a line may be); anything else is read whole as one log-batch document, as before JSON
// lines existed (a pretty-printed document, or nothing at all). A one-line document is a one-line stream: the same.
import { createReadStream, readFileSync } from "node:fs"
import { isToolError, ToolError } from "../errors.ts"
import { timedOut, untilAborted, within } from "../util/abort.ts"
import { rememberingKeyCheck } from "./key-rules.ts"
import { isJsonObject, lineEntries, parseLine, type LineEntries } from "./log-lines.ts"
import { splitBatch } from "./rest-batch.ts"
import { batchFromJson, type Batch } from "./rest-json.ts"
import type { LogResult, LogTarget } from "./rest-log.ts"
import { storeFor } from "./store-for.ts"
import { redactUri } from "./tracking-uri.ts"

type Env = Readonly<Record<string, string | undefined>>

/** A log-batch JSON document from a file, or from standard input for "-" (an interrupt ends the wait for it). */
export const readBatch = async (source: string, now: number, signal?: AbortSignal): Promise<Batch> => {
  let text: string
  try {
    text = source === "-" ? await untilAborted(Bun.stdin.text(), signal) : readFileSync(source, "utf8")
  } catch (error) {
    if (signal?.aborted) throw error
    throw unreadable(source, error)
  }
  return batchDocument(text, source, now)
}

export const unreadable = (source: string, error: unknown): ToolError =>
  new ToolError("log.batch.invalid", `cannot read ${source} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { exitCode: 2 })

/** The text of a log-batch JSON document read from `source` (a path, or "-" for standard input). */
export const batchDocument = (text: string, source: string, now: number): Batch => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new ToolError("log.batch.invalid", `${source === "-" ? "standard input" : source} is not valid JSON: ${(error as Error).message}`, {
      hint: 'expected {"metrics":[{"key":"loss","value":0.1,"step":1}],"params":[{"key":"alpha","value":"0.5"}],"tags":[…]}, or JSON lines whose first line is a whole object (see mlproject log --help)',
      exitCode: 2,
    })
  }
  return batchFromJson(json, now)
}

export type StreamOptions = {
  /** Send the lines read once this many wait. */
  flushLines: number
  /** …or once the oldest of them has waited this long. */
  flushMs: number
  /** An interrupt: reading stops, the complete lines read so far are sent, and the call ends as interrupted (exit 130). */
  signal?: AbortSignal
  /** Ends a send that is still waiting (a second interrupt): a send is never cut short by the first. */
  sendSignal?: AbortSignal
}

type Counts = { metrics: number; params: number; tags: number }

const chunksOf = (source: string): AsyncIterator<Uint8Array | string> =>
  (source === "-" ? Bun.stdin.stream() : createReadStream(source))[Symbol.asyncIterator]()

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? "" : "s"}`
const countsText = (c: Counts): string => `${plural(c.metrics, "metric")}, ${plural(c.params, "param")}, ${plural(c.tags, "tag")}`
const loggedText = (c: Counts): string =>
  c.metrics + c.params + c.tags === 0 ? "nothing was logged" : `the lines before it were logged (${countsText(c)})`

/** Logs `source` into the run, line by line as it arrives; returns what was logged. */
export const logInput = async (target: LogTarget, source: string, env: Env, options: StreamOptions): Promise<LogResult> => {
  const store = storeFor(target.trackingUri, env)
  const counts: Counts = { metrics: 0, params: 0, tags: 0 }
  let pending: Batch = { metrics: [], params: [], tags: [] }
  // Lines waiting (blank lines skipped), the first and last of them, when the oldest was read, their param keys.
  let waiting = 0
  let firstWaiting = 0
  let lastWaiting = 0
  let oldestAt = 0
  const waitingParams = new Set<string>()

  const send = async (): Promise<void> => {
    if (waiting === 0) return
    const [batch, from, to] = [pending, firstWaiting, lastWaiting]
    pending = { metrics: [], params: [], tags: [] }
    waiting = 0
    waitingParams.clear()
    const before = { ...counts }
    // Within MLflow's log-batch limits; the file store appends each key's lines of a request in one write.
    for (const piece of splitBatch(batch)) {
      try {
        await store.logBatch(target.runId, piece, { signal: options.sendSignal })
      } catch (error) {
        if (!isToolError(error)) throw error
        const lines = from === to ? `line ${from} was` : `lines ${from}-${to} were`
        const partly = counts.metrics + counts.params + counts.tags > before.metrics + before.params + before.tags
        throw new ToolError(error.code, `${error.message} (${lines} ${partly ? "logged only in part" : "not logged"}; ${counts.metrics + counts.params + counts.tags === 0 ? "nothing was logged" : `${countsText(counts)} were logged`})`, {
          hint: error.hint,
          exitCode: error.exitCode,
          cause: error.cause,
        })
      }
      counts.metrics += piece.metrics.length
      counts.params += piece.params.length
      counts.tags += piece.tags.length
    }
  }

  /** Adds a checked line; says whether the lines waiting must be sent now. */
  const add = (entries: LineEntries, line: number, now: number): boolean => {
    if (waiting === 0) [firstWaiting, oldestAt] = [line, now]
    if ("metric" in entries) pending.metrics.push(entries.metric)
    else if ("param" in entries) pending.params.push(entries.param), waitingParams.add(entries.param.key)
    else if ("tag" in entries) pending.tags.push(entries.tag)
    else {
      for (const metric of entries.batch.metrics) pending.metrics.push(metric)
      for (const param of entries.batch.params) pending.params.push(param), waitingParams.add(param.key)
      for (const tag of entries.batch.tags) pending.tags.push(tag)
    }
    waiting++
    lastWaiting = line
    return waiting >= options.flushLines
  }

  // A bad line: the lines before it are sent (accepted data is never dropped), then the line is reported.
  const refuse = async (error: unknown): Promise<never> => {
    await send()
    if (!isToolError(error)) throw error
    throw new ToolError(error.code, `${error.message}; ${loggedText(counts)}, this line and the ones after it were not`, { hint: error.hint, exitCode: 2, cause: error.cause })
  }

  const checkKey = rememberingKeyCheck()
  let mode = "first" as "first" | "lines" | "document"
  // The raw text until the first line decides, and all of it for a document.
  let head = ""
  let carry = ""
  let line = 0

  /** Adds a checked line, sending the lines waiting once there are enough; never a document, so false. */
  const addLine = (entries: LineEntries, at: number, now: number): false | Promise<false> =>
    add(entries, at, now) ? send().then(() => false as const) : false

  /**
   * Says whether the input turned out to be a document, not lines. Synchronous unless the line makes a send wait:
   * an await for each of 10,000 lines costs more than checking them.
   */
  const takeLine = (text: string, now: number): boolean | Promise<boolean> => {
    line++
    if (text.trim() === "") return false
    let json: unknown
    if (mode === "first") {
      try {
        json = parseLine(text, line)
      } catch {}
      if (!isJsonObject(json)) {
        mode = "document"
        return true
      }
      mode = "lines"
      head = ""
    }
    let entries: LineEntries
    try {
      entries = lineEntries(json ?? parseLine(text, line), line, now, checkKey)
    } catch (error) {
      return refuse(error)
    }
    // A param key already waiting goes in the next request: one request may not name a param twice.
    const params = "metric" in entries || "tag" in entries ? null : "param" in entries ? [entries.param] : entries.batch.params
    const at = line
    if (params?.some((param) => waitingParams.has(param.key))) return send().then(() => addLine(entries, at, now))
    return addLine(entries, at, now)
  }

  const takeText = async (text: string, now: number): Promise<void> => {
    if (mode !== "lines") head += text
    if (mode === "document") return
    const lines = (carry + text).split("\n")
    carry = lines.pop() ?? ""
    for (const raw of lines) {
      const taken = takeLine(raw.endsWith("\r") ? raw.slice(0, -1) : raw, now)
      if (taken === true || (taken !== false && (await taken))) return
    }
  }

  const interrupted = async (): Promise<never> => {
    // The complete lines read before the signal are sent; a line still missing its newline is not a line yet.
    if (mode === "lines") await send()
    throw new ToolError("interrupted", `interrupted by ${String(options.signal?.reason ?? "a signal")}: stopped reading ${source === "-" ? "standard input" : source}; ${mode === "lines" ? `the lines read before it were logged (${countsText(counts)})` : "nothing was logged"}`, { exitCode: 130 })
  }

  const decoder = new TextDecoder()
  let chunks: AsyncIterator<Uint8Array | string>
  let next: Promise<IteratorResult<Uint8Array | string>> | null = null
  try {
    chunks = chunksOf(source)
  } catch (error) {
    throw unreadable(source, error)
  }
  for (;;) {
    next ??= chunks.next()
    const waitMs = waiting > 0 ? oldestAt + options.flushMs - Date.now() : null
    let got: IteratorResult<Uint8Array | string> | typeof timedOut
    try {
      got = await untilAborted(waitMs === null ? next : within(next, waitMs), options.signal)
    } catch (error) {
      if (options.signal?.aborted) return interrupted()
      // Lines already accepted are sent before the read error is reported.
      if (mode === "lines") await send()
      throw unreadable(source, error)
    }
    if (got === timedOut) {
      await send()
      continue
    }
    next = null
    if (got.done) break
    await takeText(typeof got.value === "string" ? got.value : decoder.decode(got.value, { stream: true }), Date.now())
  }
  const now = Date.now()
  await takeText(decoder.decode(), now)
  if (carry !== "" && mode !== "document") await takeLine(carry, now)
  if (mode === "lines") await send()
  else {
    // One document, sent as `log batch` always sent it: split to MLflow's limits, nothing sent before it all parsed.
    const batch = batchDocument(head, source, now)
    for (const piece of splitBatch(batch)) await store.logBatch(target.runId, piece, { signal: options.signal })
    counts.metrics = batch.metrics.length
    counts.params = batch.params.length
    counts.tags = batch.tags.length
  }
  return { run_id: target.runId, tracking_uri: redactUri(target.trackingUri), ...counts, artifacts: [] }
}
