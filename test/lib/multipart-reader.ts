// A multipart/form-data body read as it arrives, as a service does: text fields kept, the first file part streamed to
// disk, so a loopback workspace holds one chunk of a 200 MB upload rather than all of it (and costs what a client sends).

export type MultipartRead = {
  fields: Record<string, string>
  /** The first part with a filename, written to the `fileTo` path; null when the body has none. */
  file: { field: string; filename: string; size: number } | null
}

const headerEnd = Buffer.from("\r\n\r\n")

const dispositionParam = (headers: string, name: string): string | undefined => {
  const line = headers.split("\r\n").find((header) => header.toLowerCase().startsWith("content-disposition:")) ?? ""
  return new RegExp(`;\\s*${name}="([^"]*)"`, "i").exec(line)?.[1]
}

/** Reads `body` (of `contentType`, which names the boundary); throws on a body that does not follow the form. */
export const readMultipart = async (body: ReadableStream<Uint8Array>, contentType: string, fileTo: string): Promise<MultipartRead> => {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  if (!boundary) throw new Error("multipart body without a boundary")
  const first = Buffer.from(`--${boundary[1] ?? boundary[2]}`)
  // Every later delimiter follows the line break that ends the part before it.
  const delimiter = Buffer.concat([Buffer.from("\r\n"), first])
  const fields: Record<string, string> = {}
  let file: MultipartRead["file"] = null
  let sink: ReturnType<ReturnType<typeof Bun.file>["writer"]> | null = null
  let part: { name: string; filename: string | undefined; text: Buffer[] } | null = null
  let pending = Buffer.alloc(0)
  let stage = "preamble" as "preamble" | "headers" | "data" | "end"

  const keep = (bytes: Buffer) => {
    if (!part) return
    if (part.filename !== undefined && sink && file) {
      sink.write(bytes)
      file.size += bytes.length
    } else part.text.push(bytes)
  }
  const endPart = async () => {
    if (!part) return
    if (part.filename === undefined) fields[part.name] = Buffer.concat(part.text).toString("utf8")
    else if (sink) {
      await sink.end()
      sink = null
    }
    part = null
  }

  const advance = async (): Promise<boolean> => {
    if (stage === "preamble") {
      const at = pending.indexOf(first)
      if (at < 0) return false
      pending = pending.subarray(at + first.length + 2)
      stage = "headers"
      return true
    }
    if (stage === "headers") {
      const at = pending.indexOf(headerEnd)
      if (at < 0) return false
      const headers = pending.subarray(0, at).toString("utf8")
      pending = pending.subarray(at + headerEnd.length)
      const filename = dispositionParam(headers, "filename")
      part = { name: dispositionParam(headers, "name") ?? "", filename, text: [] }
      if (filename !== undefined && !file) {
        file = { field: part.name, filename, size: 0 }
        sink = Bun.file(fileTo).writer()
      }
      stage = "data"
      return true
    }
    if (stage === "data") {
      const at = pending.indexOf(delimiter)
      if (at < 0) {
        // The delimiter may straddle this chunk and the next: hold back its length.
        const safe = pending.length - delimiter.length
        if (safe > 0) {
          keep(pending.subarray(0, safe))
          pending = Buffer.from(pending.subarray(safe))
        }
        return false
      }
      if (pending.length < at + delimiter.length + 2) return false
      keep(pending.subarray(0, at))
      await endPart()
      const after = pending.subarray(at + delimiter.length, at + delimiter.length + 2).toString()
      pending = pending.subarray(at + delimiter.length + 2)
      stage = after === "--" ? "end" : "headers"
      return true
    }
    return false
  }

  for await (const chunk of body) {
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk])
    while (stage !== "end" && (await advance()));
  }
  if (stage !== "end") throw new Error("multipart body ended before its closing delimiter")
  return { fields, file }
}
