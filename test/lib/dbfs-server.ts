// A loopback server for the Databricks DBFS API 2.0 subset we call: get-status, read, list, a multipart put (which
// `noPut` answers as an unknown endpoint, as an older workspace or a proxy would), create/add-block/close.
import { loopback, type Loopback } from "./loopback.ts"

export type DbfsServer = Loopback & { token: string; put(path: string, bytes: Uint8Array): void; files: Map<string, Uint8Array> }

const maxRead = 1024 * 1024
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })
const error = (status: number, code: string, message: string) => json({ error_code: code, message }, status)

export const dbfsServer = (options: { noPut?: boolean } = {}): DbfsServer => {
  const files = new Map<string, Uint8Array>()
  const mtimes = new Map<string, number>()
  const handles = new Map<number, { path: string; chunks: Uint8Array[] }>()
  let nextHandle = 1
  const isDir = (path: string) => [...files.keys()].some((name) => name.startsWith(`${path.replace(/\/$/, "")}/`))
  const status = (path: string) =>
    files.has(path)
      ? { path, is_dir: false, file_size: files.get(path)?.length, modification_time: mtimes.get(path) }
      : { path, is_dir: true, file_size: 0, modification_time: 0 }
  const base = loopback(async (request, url, body) => {
    if (request.headers.get("authorization") !== `Bearer ${server.token}`) return error(401, "UNAUTHENTICATED", "Invalid access token.")
    const endpoint = url.pathname.replace(/^\/api\/2\.0\/dbfs\//, "")
    if (endpoint === "put") {
      if (options.noPut) return error(404, "ENDPOINT_NOT_FOUND", "No API found for 'POST /dbfs/put'")
      const form = await new Response(body, { headers: { "content-type": request.headers.get("content-type") ?? "" } }).formData()
      const file = form.get("file")
      if (typeof form.get("path") !== "string" || !(file instanceof Blob)) return error(400, "INVALID_PARAMETER_VALUE", "put takes path and a file part")
      server.put(String(form.get("path")), new Uint8Array(await file.arrayBuffer()))
      return json({})
    }
    const params = request.method === "GET" ? Object.fromEntries(url.searchParams) : (JSON.parse(new TextDecoder().decode(body) || "{}") as Record<string, string | number>)
    const path = String(params.path ?? "")
    const missing = () => error(404, "RESOURCE_DOES_NOT_EXIST", `No file or directory exists on path ${path}.`)
    if (endpoint === "get-status") return files.has(path) || isDir(path) ? json(status(path)) : missing()
    if (endpoint === "read") {
      const bytes = files.get(path)
      if (!bytes) return missing()
      const length = Number(params.length ?? maxRead)
      if (length > maxRead) return error(400, "MAX_READ_SIZE_EXCEEDED", `Cannot read more than ${maxRead} bytes`)
      const slice = bytes.subarray(Number(params.offset ?? 0), Number(params.offset ?? 0) + length)
      return json({ bytes_read: slice.length, data: Buffer.from(slice).toString("base64") })
    }
    if (endpoint === "list") {
      if (!isDir(path)) return files.has(path) ? json({ files: [status(path)] }) : missing()
      const prefix = `${path.replace(/\/$/, "")}/`
      const children = new Set([...files.keys()].filter((n) => n.startsWith(prefix)).map((n) => prefix + (n.slice(prefix.length).split("/")[0] ?? "")))
      return json({ files: [...children].map(status) })
    }
    if (endpoint === "create") {
      handles.set(nextHandle, { path, chunks: [] })
      return json({ handle: nextHandle++ })
    }
    const handle = handles.get(Number(params.handle))
    if (!handle) return error(400, "INVALID_PARAMETER_VALUE", "unknown handle")
    if (endpoint === "add-block") {
      handle.chunks.push(new Uint8Array(Buffer.from(String(params.data), "base64")))
      return json({})
    }
    if (endpoint === "close") {
      server.put(handle.path, new Uint8Array(Buffer.concat(handle.chunks)))
      return json({})
    }
    return error(404, "ENDPOINT_NOT_FOUND", `no endpoint ${endpoint}`)
  })
  const server: DbfsServer = Object.assign(base, {
    token: "dapi-test-token",
    files,
    put(path: string, bytes: Uint8Array) {
      files.set(path, bytes)
      mtimes.set(path, Date.now())
    },
  })
  return server
}
