// A loopback server for the GCS JSON API calls @google-cloud/storage makes (metadata, media with ranges, listing,
// multipart upload) plus an STS token endpoint, so tests can also check the Authorization header.
import { loopback, type Loopback } from "./loopback.ts"

type StoredObject = { bytes: Uint8Array; generation: number; updated: string }

export type GcsServer = Loopback & {
  /** The bearer token the STS endpoint hands out; when `requireToken` is set every API call must carry it. */
  token: string
  put(bucket: string, name: string, bytes: Uint8Array): number
  /** Makes the next metadata answers claim a wrong MD5 and CRC32C (to test verification). */
  corruptChecksums: boolean
  mediaBytes: number
}

/** CRC-32C bit by bit, base64 big-endian: the server's value must not come from the code under test. */
const crc32cOf = (bytes: Uint8Array): string => {
  let crc = 0xffffffff
  for (const byte of bytes) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0x82f63b78 ^ (crc >>> 1) : crc >>> 1
  }
  const out = Buffer.alloc(4)
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0)
  return out.toString("base64")
}

const md5Base64 = (bytes: Uint8Array) => Buffer.from(new Bun.CryptoHasher("md5").update(bytes).digest()).toString("base64")

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })
const apiError = (status: number, message: string) => json({ error: { code: status, message, errors: [{ message, reason: "x" }] } }, status)

/** Splits a multipart/related upload into its JSON metadata and its media bytes. */
const parseMultipart = (body: Uint8Array, contentType: string): { metadata: { name?: string }; media: Uint8Array } => {
  const boundary = contentType.match(/boundary="?([^";]+)"?/)?.[1] ?? ""
  const text = Buffer.from(body).toString("latin1")
  const parts = text.split(`--${boundary}`).filter((part) => part.includes("\r\n\r\n"))
  const [meta, media] = parts.map((part) => part.slice(part.indexOf("\r\n\r\n") + 4).replace(/\r\n$/, ""))
  return { metadata: JSON.parse(meta ?? "{}"), media: new Uint8Array(Buffer.from(media ?? "", "latin1")) }
}

export const gcsServer = (options: { requireToken?: boolean; pageSize?: number } = {}): GcsServer => {
  const objects = new Map<string, StoredObject>()
  let generation = 1000
  const metadataOf = (bucket: string, name: string, object: StoredObject) => ({
    kind: "storage#object",
    bucket,
    name,
    size: String(object.bytes.length),
    generation: String(object.generation),
    updated: object.updated,
    md5Hash: server.corruptChecksums ? md5Base64(new Uint8Array([1])) : md5Base64(object.bytes),
    crc32c: server.corruptChecksums ? "AAAAAA==" : crc32cOf(object.bytes),
  })
  const base = loopback((request, url, body) => {
    if (url.pathname === "/token") return json({ access_token: server.token, issued_token_type: "urn:ietf:params:oauth:token-type:access_token", token_type: "Bearer", expires_in: 3600 })
    if (options.requireToken && request.headers.get("authorization") !== `Bearer ${server.token}`) return apiError(401, "Anonymous caller does not have storage.objects.get access")
    const upload = url.pathname.match(/^\/upload\/storage\/v1\/b\/([^/]+)\/o$/)
    if (upload?.[1] && request.method === "POST") {
      const { metadata, media } = parseMultipart(body, request.headers.get("content-type") ?? "")
      const name = metadata.name ?? url.searchParams.get("name") ?? ""
      server.put(upload[1], name, media)
      return json(metadataOf(upload[1], name, objects.get(`${upload[1]}/${name}`) as StoredObject))
    }
    const list = url.pathname.match(/^\/storage\/v1\/b\/([^/]+)\/o$/)
    if (list?.[1]) {
      const bucket = list[1]
      const prefix = url.searchParams.get("prefix") ?? ""
      const names = [...objects.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).map((k) => k.slice(bucket.length + 1)).sort()
      const start = Number(url.searchParams.get("pageToken") ?? "0")
      const size = options.pageSize ?? 1000
      const page = names.slice(start, start + size)
      const items = page.map((name) => metadataOf(bucket, name, objects.get(`${bucket}/${name}`) as StoredObject))
      return json({ kind: "storage#objects", items, ...(start + size < names.length ? { nextPageToken: String(start + size) } : {}) })
    }
    const one = url.pathname.match(/^(?:\/download)?\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/)
    if (!one?.[1] || !one[2]) return apiError(404, `no route ${url.pathname}`)
    const [bucket, name] = [one[1], decodeURIComponent(one[2])]
    const object = objects.get(`${bucket}/${name}`)
    const wanted = url.searchParams.get("generation")
    if (!object || (wanted !== null && Number(wanted) !== object.generation)) return apiError(404, "No such object")
    if (url.searchParams.get("alt") !== "media") return json(metadataOf(bucket, name, object))
    const range = request.headers.get("range")?.match(/^bytes=(\d+)-(\d*)$/)
    const start = range ? Number(range[1]) : 0
    const end = range?.[2] ? Number(range[2]) + 1 : object.bytes.length
    const slice = object.bytes.subarray(start, end)
    server.mediaBytes += slice.length
    const headers = { "x-goog-generation": String(object.generation), "content-type": "application/octet-stream", ...(range ? { "content-range": `bytes ${start}-${end - 1}/${object.bytes.length}` } : {}) }
    return new Response(slice, { status: range ? 206 : 200, headers })
  })
  const server: GcsServer = Object.assign(base, {
    token: "ya29.test-token",
    corruptChecksums: false,
    mediaBytes: 0,
    put(bucket: string, name: string, bytes: Uint8Array) {
      generation += 1
      objects.set(`${bucket}/${name}`, { bytes, generation, updated: new Date().toISOString() })
      return generation
    },
  })
  return server
}
