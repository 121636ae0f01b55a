// Byte ranges over HTTP: the Range header we send and the Content-Range header we get back, both end-exclusive for us.

/** `Range` header value for the bytes [start, end) (end exclusive, as everywhere in our code). */
export const byteRange = (start: number, end?: number | null): string =>
  end === undefined || end === null ? `bytes=${start}-` : `bytes=${start}-${end - 1}`

/** `Content-Range: bytes 0-9/100` → { start: 0, end: 10, total: 100 } (end exclusive; total null for `*`). */
export const parseContentRange = (header: string | null): { start: number; end: number; total: number | null } | null => {
  const match = header?.match(/^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i)
  if (!match) return null
  return { start: Number(match[1]), end: Number(match[2]) + 1, total: match[3] === "*" ? null : Number(match[3]) }
}
