// A streaming tar writer (ustar, PAX for long names and big files) for build contexts and image imports sent to the daemon.

export type TarEntry = {
  /** Path inside the archive, slash-separated, without a trailing slash. */
  name: string
  type: "file" | "dir" | "symlink"
  mode: number
  /** Seconds since the epoch. */
  mtime: number
  /** For files: the bytes, or a path read when the entry is written. */
  data?: Uint8Array
  source?: string
  size?: number
  link?: string
}

const encoder = new TextEncoder()
const block = 512

const writeString = (header: Uint8Array, offset: number, length: number, value: string) => {
  header.set(encoder.encode(value).subarray(0, length), offset)
}

const writeOctal = (header: Uint8Array, offset: number, length: number, value: number) => {
  writeString(header, offset, length - 1, value.toString(8).padStart(length - 1, "0"))
}

/** One PAX record: its length field counts itself, so the digits are settled by iteration. */
const paxRecord = (key: string, value: string): string => {
  const body = ` ${key}=${value}\n`
  const bodyLength = encoder.encode(body).length
  let length = bodyLength + 1
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength
  return `${length}${body}`
}

const header = (name: string, typeflag: string, mode: number, size: number, mtime: number, link = ""): Uint8Array => {
  const bytes = new Uint8Array(block)
  writeString(bytes, 0, 100, name)
  writeOctal(bytes, 100, 8, mode & 0o7777)
  writeOctal(bytes, 108, 8, 0)
  writeOctal(bytes, 116, 8, 0)
  writeOctal(bytes, 124, 12, size)
  writeOctal(bytes, 136, 12, Math.max(0, Math.floor(mtime)))
  bytes.fill(0x20, 148, 156)
  bytes[156] = typeflag.charCodeAt(0)
  writeString(bytes, 157, 100, link)
  writeString(bytes, 257, 8, "ustar\u000000")
  writeString(bytes, 265, 32, "root")
  writeString(bytes, 297, 32, "root")
  const checksum = bytes.reduce((sum, byte) => sum + byte, 0)
  writeString(bytes, 148, 8, `${checksum.toString(8).padStart(6, "0")}\u0000 `)
  return bytes
}

const padding = (size: number): Uint8Array => new Uint8Array((block - (size % block)) % block)

async function* entryBytes(entry: TarEntry): AsyncGenerator<Uint8Array> {
  const name = entry.type === "dir" ? `${entry.name}/` : entry.name
  const size = entry.type === "file" ? (entry.data?.length ?? entry.size ?? 0) : 0
  const link = entry.link ?? ""
  const pax = [
    encoder.encode(name).length > 100 ? paxRecord("path", name) : "",
    encoder.encode(link).length > 100 ? paxRecord("linkpath", link) : "",
    size > 0o77777777777 ? paxRecord("size", String(size)) : "",
  ].join("")
  if (pax !== "") {
    const paxBytes = encoder.encode(pax)
    yield header("././@PaxHeader", "x", 0o644, paxBytes.length, entry.mtime)
    yield paxBytes
    yield padding(paxBytes.length)
  }
  const typeflag = entry.type === "dir" ? "5" : entry.type === "symlink" ? "2" : "0"
  yield header(name, typeflag, entry.mode, size > 0o77777777777 ? 0 : size, entry.mtime, link)
  if (entry.type !== "file") return
  if (entry.data) {
    yield entry.data
    yield padding(size)
    return
  }
  // A file that changes while it is sent must not corrupt the archive: cut or zero-fill to the announced size.
  let written = 0
  for await (const chunk of Bun.file(entry.source as string).stream()) {
    const part = chunk.subarray(0, Math.max(0, size - written))
    written += part.length
    if (part.length > 0) yield part
  }
  if (written < size) yield new Uint8Array(size - written)
  yield padding(size)
}

/** The archive as a stream: entries in the given order, then the two zero blocks that end a tar. */
export const tarStream = (entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): ReadableStream<Uint8Array> => {
  const chunks = (async function* () {
    for await (const entry of entries) yield* entryBytes(entry)
    yield new Uint8Array(block * 2)
  })()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const next = await chunks.next()
        if (next.done) return controller.close()
        if (next.value.length > 0) return controller.enqueue(next.value)
      }
    },
    async cancel() {
      await chunks.return(undefined)
    },
  })
}
