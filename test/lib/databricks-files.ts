// Where the loopback workspace keeps files (DBFS root and Unity Catalog volumes on disk), and the Files API over volumes.
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { ApiError, invalid, streamTo, type WorkspaceRequest } from "./databricks-http.ts"

export type Storage = {
  dbfsDir: string
  volumesDir: string
  /** Uploads in progress, renamed into place when complete so a partial file is never seen. */
  stagingDir: string
  volumes: Set<string>
  dbfsRootDisabled: boolean
}

/** The segments of an absolute path; ".." and empty names are refused so nothing escapes the folders. */
const segments = (path: string): string[] => {
  if (!path.startsWith("/")) throw invalid(`Path must be absolute: ${path}`)
  const parts = path.split("/").filter((p) => p !== "" && p !== ".")
  if (parts.includes("..")) throw invalid(`Path must not contain '..': ${path}`)
  return parts
}

/** The local file of "/Volumes/<catalog>/<schema>/<volume>/…", or the error the service gives for an unknown volume. */
export const volumeFile = (storage: Storage, path: string, code: string | number = "NOT_FOUND"): string => {
  const [root, catalog, schema, volume, ...rest] = segments(path)
  if (root !== "Volumes" || !catalog || !schema || !volume) throw new ApiError(404, code, `Path ${path} is not in a Unity Catalog volume.`)
  if (!storage.volumes.has(`${catalog}/${schema}/${volume}`)) throw new ApiError(404, code, `Volume '${catalog}.${schema}.${volume}' does not exist.`)
  return join(storage.volumesDir, catalog, schema, volume, ...rest)
}

/** The local file of a DBFS path ("/x", "dbfs:/x"; "/Volumes/…" lands in the volumes), honouring a disabled DBFS root. */
export const dbfsFile = (storage: Storage, raw: string): string => {
  const path = raw.replace(/^dbfs:/, "")
  if (/^\/Volumes(\/|$)/.test(path)) return volumeFile(storage, path, "RESOURCE_DOES_NOT_EXIST")
  if (storage.dbfsRootDisabled) throw new ApiError(403, "PERMISSION_DENIED", `Public DBFS root is disabled. Access is denied on path: ${path}`)
  return join(storage.dbfsDir, ...segments(path))
}

/** The local file a driver sees for a path given to a task: dbfs:/x, /dbfs/x, /Volumes/…; null for any other. */
export const driverFile = (storage: Storage, path: string): string | null => {
  try {
    if (path.startsWith("dbfs:/") || path.startsWith("/Volumes/")) return dbfsFile({ ...storage, dbfsRootDisabled: false }, path)
    if (path.startsWith("/dbfs/")) return dbfsFile({ ...storage, dbfsRootDisabled: false }, path.slice("/dbfs".length))
    return null
  } catch {
    return null
  }
}

let staged = 0
export const stagingFile = (storage: Storage) => join(storage.stagingDir, `upload-${process.pid}-${++staged}`)

/** Moves a finished upload into place, creating the parent folders as the service does implicitly. */
export const publish = (staging: string, file: string) => {
  mkdirSync(dirname(file), { recursive: true })
  renameSync(staging, file)
}

const notFound = (path: string) => new ApiError(404, "NOT_FOUND", `The file ${path} does not exist.`)

/** /api/2.0/fs/files/Volumes/…: PUT (raw body, ?overwrite), HEAD, GET (raw bytes), DELETE. */
export const filesApi = async (storage: Storage, request: Request, url: URL, record: WorkspaceRequest): Promise<Response> => {
  const path = decodeURIComponent(url.pathname.slice("/api/2.0/fs/files".length))
  record.json = { path, ...Object.fromEntries(url.searchParams) }
  const file = volumeFile(storage, path)
  const isFile = existsSync(file) && statSync(file).isFile()
  if (request.method === "PUT") {
    // Files API: "If true or unspecified, an existing file will be overwritten."
    const overwrite = url.searchParams.get("overwrite") !== "false"
    if (existsSync(file) && !isFile) throw new ApiError(409, "ALREADY_EXISTS", `A directory already exists at ${path}.`)
    if (isFile && !overwrite) {
      await request.body?.cancel().catch(() => {})
      throw new ApiError(409, "ALREADY_EXISTS", `The file being created already exists.`)
    }
    const staging = stagingFile(storage)
    try {
      await streamTo(request, staging, record)
      publish(staging, file)
    } finally {
      rmSync(staging, { force: true })
    }
    return new Response(null, { status: 204 })
  }
  if (request.method === "HEAD") {
    if (!isFile) return new Response(null, { status: 404 })
    const stat = statSync(file)
    return new Response(null, {
      status: 200,
      headers: { "content-length": String(stat.size), "content-type": "application/octet-stream", "last-modified": stat.mtime.toUTCString() },
    })
  }
  if (request.method === "GET") {
    if (!isFile) throw notFound(path)
    const stat = statSync(file)
    return new Response(Bun.file(file), {
      headers: { "content-type": "application/octet-stream", "content-length": String(stat.size), "last-modified": stat.mtime.toUTCString() },
    })
  }
  if (request.method === "DELETE") {
    if (!isFile) throw notFound(path)
    rmSync(file)
    return new Response(null, { status: 204 })
  }
  throw new ApiError(405, "METHOD_NOT_ALLOWED", `${request.method} is not supported on ${url.pathname}`)
}
