// A multipart/form-data body of text fields and one file, streamed from disk with its exact length known up front.
//
// Why not FormData: Bun reads every file of a FormData into memory before sending (a 200 MiB upload peaked at
// 427 MB), and a Blob composed of a file drops the file's bytes. This body is the file's own stream between two
// small texts, so a request sends it with a Content-Length and holds one chunk at a time.

export type MultipartFile = {
  /** The form field's name. */
  field: string
  /** The file name the part gives (a base name; quotes and line breaks are replaced). */
  filename: string
  path: string
  /** The size the file must have: a file that is longer or shorter by the time it is read fails the stream. */
  size: number
}

export type MultipartBody = {
  contentType: string
  /** Bytes in all: the Content-Length. */
  length: number
  /** A new stream of the body each time (one for each attempt); `onBytes` gets the running count of file bytes read. */
  stream(onBytes?: (fileBytes: number) => void): ReadableStream<Uint8Array>
}

const encoder = new TextEncoder()

const quoted = (text: string): string => text.replace(/["\r\n\\]/g, "_")

/**
 * The body for `fields` (sent first, in order) and `file`. `changed` makes the error a stream fails with when the
 * file no longer has `file.size` bytes.
 */
export const multipartBody = (fields: ReadonlyArray<readonly [string, string]>, file: MultipartFile, changed: (actual: string) => Error): MultipartBody => {
  const boundary = `mlproject-${crypto.randomUUID().replaceAll("-", "")}`
  const fieldText = fields.map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`).join("")
  const head = encoder.encode(
    `${fieldText}--${boundary}\r\nContent-Disposition: form-data; name="${quoted(file.field)}"; filename="${quoted(file.filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  )
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`)
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: head.length + file.size + tail.length,
    stream(onBytes) {
      let reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> } | null = null
      let sent = 0
      let stage: "head" | "file" | "done" = "head"
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (stage === "head") {
            stage = "file"
            reader = Bun.file(file.path).stream().getReader()
            return controller.enqueue(head)
          }
          if (stage === "done") return
          const { done, value } = await (reader as NonNullable<typeof reader>).read()
          if (!done && value) {
            sent += value.length
            if (sent > file.size) return controller.error(changed(`grew past ${file.size} bytes`))
            onBytes?.(sent)
            return controller.enqueue(value)
          }
          stage = "done"
          if (sent !== file.size) return controller.error(changed(`has ${sent} bytes, not ${file.size}`))
          controller.enqueue(tail)
          controller.close()
        },
        async cancel() {
          await reader?.cancel().catch(() => {})
        },
      })
    },
  }
}
