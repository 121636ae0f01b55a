// Docker's multiplexed attach stream (an 8-byte frame header per chunk when there is no TTY) split into stdout and stderr.

export type StreamName = "stdout" | "stderr"
export type ChunkSink = (stream: StreamName, chunk: Uint8Array) => void

/**
 * Demultiplexes as bytes arrive: a frame's payload is passed on in pieces rather than buffered whole, so a
 * program that prints a long line slowly is seen as it prints. Header byte 0 is the stream (1 stdout, 2 stderr),
 * bytes 4–7 the payload length, big-endian.
 */
export const demultiplex = async (body: ReadableStream<Uint8Array>, sink: ChunkSink): Promise<void> => {
  const header = new Uint8Array(8)
  let headerFill = 0
  let remaining = 0
  let current: StreamName = "stdout"
  for await (const chunk of body) {
    let offset = 0
    while (offset < chunk.length) {
      if (remaining === 0) {
        const take = Math.min(8 - headerFill, chunk.length - offset)
        header.set(chunk.subarray(offset, offset + take), headerFill)
        headerFill += take
        offset += take
        if (headerFill < 8) break
        headerFill = 0
        current = header[0] === 2 ? "stderr" : "stdout"
        remaining = new DataView(header.buffer).getUint32(4)
        continue
      }
      const take = Math.min(remaining, chunk.length - offset)
      sink(current, chunk.subarray(offset, offset + take))
      remaining -= take
      offset += take
    }
  }
}

/** Turns byte chunks of one stream into lines (without the newline; a trailing `\r` dropped), flushing the rest at the end. */
export const lineSplitter = (onLine: (line: string) => void) => {
  const decoder = new TextDecoder()
  let pending = ""
  return {
    push(chunk: Uint8Array) {
      pending += decoder.decode(chunk, { stream: true })
      let newline = pending.indexOf("\n")
      while (newline !== -1) {
        onLine(pending.slice(0, newline).replace(/\r$/, ""))
        pending = pending.slice(newline + 1)
        newline = pending.indexOf("\n")
      }
    },
    end() {
      pending += decoder.decode()
      if (pending !== "") onLine(pending)
      pending = ""
    },
  }
}
