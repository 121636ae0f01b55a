// Servers that misbehave on purpose: accept and never answer, trickle a byte at a time, or stream without end.
import { loopback, type Loopback } from "./loopback.ts"

export type SilentServer = {
  port: number
  /** Connections accepted so far. */
  connections: () => number
  /** Resolves once `count` connections (default 1) have been accepted. */
  connected: (count?: number) => Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** A TCP server on 127.0.0.1 that accepts every connection and never sends a byte (a hung server, a stuck git daemon). */
export const silentServer = (): SilentServer => {
  let accepted = 0
  const waiters: Array<{ count: number; resolve: () => void }> = []
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open() {
        accepted++
        for (const waiter of waiters.filter((w) => accepted >= w.count)) waiter.resolve()
      },
      data() {},
    },
  })
  return {
    port: server.port,
    connections: () => accepted,
    connected: (count = 1) => (accepted >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
    async [Symbol.asyncDispose]() {
      server.stop(true)
    },
  }
}

/** A body that sends `text` one byte every `intervalMs`, then ends (a trickle that keeps every idle timer alive). */
export const trickle = (text: string, intervalMs = 1000): ReadableStream<Uint8Array> => {
  const bytes = new TextEncoder().encode(text)
  let at = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (at > 0) await Bun.sleep(intervalMs)
      if (at >= bytes.length) return controller.close()
      controller.enqueue(bytes.subarray(at, ++at))
    },
  })
}

/** A body without end or length, generated as it is read: `chunk` bytes at a time, never all in memory. */
export const endless = (chunk = 64 * 1024, counter?: { sent: number }): ReadableStream<Uint8Array> => {
  const block = new Uint8Array(chunk).fill(0x7b)
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        controller.enqueue(block.slice())
        if (counter) counter.sent += chunk
      },
    },
    { highWaterMark: 1 },
  )
}

/** A body that sends `prefix` and then nothing more, without ending. */
export const stalled = (prefix: Uint8Array | string = ""): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      const bytes = typeof prefix === "string" ? new TextEncoder().encode(prefix) : prefix
      if (bytes.length > 0) controller.enqueue(bytes)
    },
  })

/** A loopback HTTP server whose Bun idle timeout is off, so a stall lasts as long as the test wants it to. */
export const patientServer = (handler: Parameters<typeof loopback>[0]): Loopback => loopback(handler, { idleTimeout: 0 })
