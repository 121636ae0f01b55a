// A Kubernetes watch that resumes: reconnects from the last resourceVersion after a drop, relists after 410 Gone.
import { ToolError } from "../errors.ts"
import { sleep } from "../util/abort.ts"

export type WatchEvent = { type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"; object: any }

export type Query = Record<string, string | number | boolean | undefined>

/** How the watch reaches the server: `open` answers "gone" for HTTP 410 and throws a ToolError for other refusals. */
export type WatchIo = {
  open(query: Query, signal: AbortSignal): Promise<ReadableStream<Uint8Array> | "gone">
  list(query: Query, signal: AbortSignal): Promise<{ items?: any[]; metadata?: { resourceVersion?: string } }>
  /** A Status of an ERROR event, as the ToolError a failed call would give. */
  failure(status: any): ToolError
}

export type WatchOptions = { query?: Query; resourceVersion?: string; signal: AbortSignal; backoff?: { firstMs: number; maxMs: number } }

// The watch parameters that the list of a relist must not carry.
const watchOnly = new Set(["watch", "resourceVersion", "resourceVersionMatch", "allowWatchBookmarks", "sendInitialEvents"])

/** Newline-delimited JSON events from a watch body; ends when the body does, throws when it breaks. */
async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<any> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let pending = ""
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      pending += decoder.decode(value, { stream: true })
      for (let end = pending.indexOf("\n"); end !== -1; end = pending.indexOf("\n")) {
        const line = pending.slice(0, end).trim()
        pending = pending.slice(end + 1)
        // A line cut by a drop is only the start of an event; the resumed watch sends it again.
        if (line !== "") yield JSON.parse(line)
      }
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}

const versionOf = (object: any): string | undefined => {
  const version = object?.metadata?.resourceVersion
  return typeof version === "string" && version !== "" ? version : undefined
}

/**
 * Yields the events of a collection for as long as `signal` lets it: after a dropped connection or a server-side
 * timeout it watches again from the last resourceVersion seen (0.2 s, doubling to 5 s, between failing attempts); when
 * that version is too old (410) it lists the collection, yields each item as MODIFIED and watches from the list's
 * version, so a caller sees the current state but not the deletions of the gap. Ends, without error, when `signal` aborts.
 */
export async function* resumingWatch(io: WatchIo, options: WatchOptions): AsyncGenerator<WatchEvent> {
  const { signal } = options
  const base = Object.fromEntries(Object.entries(options.query ?? {}).filter(([key]) => !watchOnly.has(key)))
  const backoff = options.backoff ?? { firstMs: 200, maxMs: 5000 }
  let version = options.resourceVersion
  let delayMs = backoff.firstMs
  const relist = async function* (): AsyncGenerator<WatchEvent> {
    const list = await io.list(base, signal)
    for (const item of list.items ?? []) yield { type: "MODIFIED", object: item }
    version = versionOf(list)
  }
  try {
    for (;;) {
      const query: Query = { ...base, watch: 1, allowWatchBookmarks: true, ...(version !== undefined ? { resourceVersion: version } : {}) }
      const body = await io.open(query, signal)
      if (body === "gone") {
        yield* relist()
        continue
      }
      let gone = false
      let received = false
      try {
        for await (const event of lines(body)) {
          if (event?.type === "ERROR") {
            if (event.object?.code === 410) {
              gone = true
              break
            }
            throw io.failure(event.object)
          }
          received = true
          version = versionOf(event.object) ?? version
          yield event as WatchEvent
        }
      } catch (error) {
        // A broken body is a dropped connection, to resume like the end of one; a refusal ends the watch.
        if (signal.aborted) return
        if (error instanceof ToolError) throw error
      }
      if (gone) {
        yield* relist()
        continue
      }
      if (received) delayMs = backoff.firstMs
      await sleep(delayMs, signal)
      delayMs = Math.min(backoff.maxMs, delayMs * 2)
    }
  } catch (error) {
    if (signal.aborted) return
    throw error
  }
}
