// One local file to `dbfs:/…` (one multipart put, or create/add-block/close) or `/Volumes/…` (Files API PUT): the
// backend's content-addressed uploads skipped when a file of that size is there, artifacts written whatever is there.
import { open, stat } from "node:fs/promises"
import { basename } from "node:path"
import { ToolError } from "../errors.ts"
import { multipartBody } from "../util/multipart.ts"
import { call, failure, isDatabricksError, send, type DatabricksError } from "./api.ts"
import type { Workspace } from "./auth.ts"

export type UploadOptions = { signal?: AbortSignal; onProgress?: (sentBytes: number, totalBytes: number) => void }

export type UploadResult = { uploaded: boolean; bytes: number }

// The DBFS API takes at most 1 MB of raw bytes per add-block.
const blockSize = 1024 * 1024
// …and a file of less than 2 GB as one multipart/form-data `put` (what the Databricks CLI sends): no base64, one request.
export const putLimit = 2 * 1024 * 1024 * 1024

/** How a file of `size` bytes goes to DBFS: one streamed put below 2 GB, else base64 blocks of 1 MB. */
export const dbfsMethod = (size: number): "put" | "blocks" => (size < putLimit ? "put" : "blocks")

type Target = { kind: "dbfs"; path: string } | { kind: "volume"; path: string }

const volumePattern = /^\/Volumes\/[^/]+\/[^/]+\/[^/]+\/.+/

/** `dbfs:/a/b` → DBFS "/a/b"; `/Volumes/<catalog>/<schema>/<volume>/…` → a Unity Catalog volume path. */
export const uploadTarget = (target: string): Target => {
  if (/^dbfs:/i.test(target)) return { kind: "dbfs", path: `/${target.replace(/^dbfs:\/*/i, "")}` }
  if (volumePattern.test(target)) return { kind: "volume", path: target }
  throw new ToolError("databricks.invalid", `upload target '${target}' is neither dbfs:/<path> nor /Volumes/<catalog>/<schema>/<volume>/<path>`, {
    hint: "set upload_root to dbfs:/<folder> or /Volumes/<catalog>/<schema>/<volume>/<folder>",
    exitCode: 2,
  })
}

const localProblem = (localFile: string, reason: string, cause?: unknown) =>
  new ToolError("databricks.upload", `${localFile} ${reason}`, { hint: "the file to upload must stay in place, unchanged, until the upload ends", exitCode: 1, cause })

const dbfsDisabled = (workspace: Workspace, path: string, detail: string) =>
  new ToolError("databricks.dbfs_disabled", `Databricks workspace ${workspace.host} refuses dbfs:${path}: the DBFS root is disabled or closed to this credential (${detail})`, {
    hint: "set upload_root to a Unity Catalog volume, /Volumes/<catalog>/<schema>/<volume>/<folder>, that this credential may write",
    exitCode: 2,
  })

/** A refusal that means "no DBFS root here" rather than "bad credential": the service names DBFS or a disabled feature. */
const refusesDbfs = (error: unknown): boolean =>
  isDatabricksError(error) &&
  (error.status === 403 || error.status === 400) &&
  (error.errorCode === "FEATURE_DISABLED" || (error.errorCode === "PERMISSION_DENIED" && /disabled/i.test(error.serviceMessage)) || /dbfs root/i.test(error.serviceMessage))

const withDbfsRefusal = async <T>(workspace: Workspace, path: string, work: () => Promise<T>): Promise<T> => {
  try {
    return await work()
  } catch (error) {
    if (refusesDbfs(error) && isDatabricksError(error)) throw dbfsDisabled(workspace, path, error.serviceMessage || error.errorCode || `HTTP ${error.status}`)
    throw error
  }
}

/** The size of the file at a DBFS path, or null when there is none. */
const dbfsSize = async (workspace: Workspace, path: string, signal?: AbortSignal): Promise<number | null> => {
  try {
    const status = await call<{ is_dir?: boolean; file_size?: number }>(workspace, "GET", "/api/2.0/dbfs/get-status", { query: { path }, signal })
    return status.is_dir ? null : (status.file_size ?? 0)
  } catch (error) {
    if (isDatabricksError(error) && (error.status === 404 || error.errorCode === "RESOURCE_DOES_NOT_EXIST")) return null
    throw error
  }
}

/** A workspace (or a proxy in front of it) that does not take a multipart put: the blocks are sent instead. */
const putRefused = (error: DatabricksError): boolean =>
  error.status === 413 || error.errorCode === "MAX_BLOCK_SIZE_EXCEEDED" || (error.status === 404 && error.errorCode === "ENDPOINT_NOT_FOUND")

/**
 * The file as one multipart put, streamed from disk; false when the workspace refuses that form (then the caller
 * sends blocks). Sent again only after a throttled answer, with a new stream: a lost connection fails the upload.
 */
const dbfsPut = async (workspace: Workspace, localFile: string, path: string, size: number, options: UploadOptions): Promise<boolean> => {
  let changed: ToolError | null = null
  const body = multipartBody([["path", path], ["overwrite", "true"]], { field: "file", filename: basename(localFile), path: localFile, size }, (actual) => {
    changed = localProblem(localFile, `changed while it was being uploaded: it ${actual}`)
    return changed
  })
  let reported = 0
  const progress = (sent: number) => {
    if (sent !== size && sent - reported < blockSize) return
    reported = sent
    options.onProgress?.(sent, size)
  }
  let answer: Awaited<ReturnType<typeof send>>
  try {
    answer = await send(workspace, "POST", "/api/2.0/dbfs/put", {
      headers: { "content-type": body.contentType, "content-length": String(body.length) },
      body: () => body.stream(progress),
      signal: options.signal,
      // The answer comes only once the whole body is sent: no time limit on its headers.
      timeoutMs: null,
    })
  } catch (error) {
    throw changed ?? error
  }
  if (changed) throw changed
  if (answer.status >= 200 && answer.status < 300) return true
  const refusal = failure(workspace, "POST", "/api/2.0/dbfs/put", answer)
  if (putRefused(refusal)) return false
  throw refusal
}

/**
 * Writes straight to the target with overwrite. The backend's names are content-addressed, so a concurrent writer
 * writes the same bytes, and a half-written file (an upload cut short) has the wrong size, which the next existence
 * check catches; a temporary name and `move` would cost two more calls and a delete, for no gain. An artifact is
 * written the same way: the last writer of a name wins.
 */
const dbfsUpload = async (workspace: Workspace, localFile: string, path: string, size: number, options: UploadOptions): Promise<void> => {
  if (dbfsMethod(size) === "put" && (await dbfsPut(workspace, localFile, path, size, options))) return
  const { signal } = options
  // create, add-block and close change state: each is sent once (never resent after a lost connection).
  const { handle } = await call<{ handle: number }>(workspace, "POST", "/api/2.0/dbfs/create", { body: { path, overwrite: true }, signal })
  const file = await open(localFile, "r")
  // The next block is read and encoded while the current one travels: the round trips are the cost, not the base64.
  const encode = async (offset: number): Promise<string | null> => {
    if (offset >= size) return null
    const buffer = Buffer.alloc(Math.min(blockSize, size - offset))
    const { bytesRead } = await file.read(buffer, 0, buffer.length, offset)
    if (bytesRead === 0) throw localProblem(localFile, "shrank while it was being uploaded")
    return buffer.subarray(0, bytesRead).toString("base64")
  }
  try {
    let sent = 0
    let next = encode(0)
    for (let data = await next; data !== null; data = await next) {
      const bytes = Math.min(blockSize, size - sent)
      next = encode(sent + bytes)
      next.catch(() => {})
      await call(workspace, "POST", "/api/2.0/dbfs/add-block", { body: { handle, data }, signal })
      sent += bytes
      options.onProgress?.(sent, size)
    }
  } finally {
    await file.close()
  }
  await call(workspace, "POST", "/api/2.0/dbfs/close", { body: { handle }, signal })
}

const filesPath = (path: string): string => `/api/2.0/fs/files${path.split("/").map(encodeURIComponent).join("/")}`

const volumeSize = async (workspace: Workspace, path: string, signal?: AbortSignal): Promise<number | null> => {
  const answer = await send(workspace, "HEAD", filesPath(path), { signal })
  if (answer.status === 404) return null
  if (answer.status < 200 || answer.status >= 300) throw failure(workspace, "HEAD", filesPath(path), answer)
  const length = answer.headers.get("content-length")
  return length === null ? -1 : Number(length)
}

const volumeUpload = async (workspace: Workspace, localFile: string, path: string, size: number, options: UploadOptions): Promise<void> => {
  // A Bun.file body is streamed from disk by fetch and can be sent again after a throttled answer.
  const answer = await send(workspace, "PUT", filesPath(path), {
    query: { overwrite: "true" },
    headers: { "content-type": "application/octet-stream" },
    body: Bun.file(localFile),
    signal: options.signal,
    // The answer comes only once the whole body is sent: no time limit on its headers.
    timeoutMs: null,
  })
  if (answer.status < 200 || answer.status >= 300) throw failure(workspace, "PUT", filesPath(path), answer)
  options.onProgress?.(size, size)
}

const localSize = (localFile: string): Promise<number> =>
  stat(localFile).then(
    (info) => info.size,
    (error: NodeJS.ErrnoException) => {
      throw localProblem(localFile, `cannot be read (${error.code ?? error.message})`, error)
    },
  )

/**
 * Writes `localFile` to the DBFS `path` whatever is there: an artifact's name is not its content, so a file of the same
 * size may hold other bytes.
 */
export const writeDbfsFile = async (workspace: Workspace, localFile: string, path: string, options: UploadOptions = {}): Promise<void> => {
  const size = await localSize(localFile)
  await dbfsUpload(workspace, localFile, path, size, options)
}

/** Uploads `localFile` to `target` unless a file of the same size is already there. */
export const uploadFile = async (workspace: Workspace, localFile: string, target: string, options: UploadOptions = {}): Promise<UploadResult> => {
  const where = uploadTarget(target)
  const size = await localSize(localFile)
  if (where.kind === "volume") {
    if ((await volumeSize(workspace, where.path, options.signal)) === size) return { uploaded: false, bytes: size }
    await volumeUpload(workspace, localFile, where.path, size, options)
    return { uploaded: true, bytes: size }
  }
  return withDbfsRefusal(workspace, where.path, async () => {
    if ((await dbfsSize(workspace, where.path, options.signal)) === size) return { uploaded: false, bytes: size }
    await dbfsUpload(workspace, localFile, where.path, size, options)
    return { uploaded: true, bytes: size }
  })
}

/**
 * The size of what is at `target` (null: nothing), with the errors an upload there would meet: a refused credential,
 * a disabled DBFS root. Planning calls it so those fail before a run exists.
 */
export const targetSize = (workspace: Workspace, target: string, signal?: AbortSignal): Promise<number | null> => {
  const where = uploadTarget(target)
  if (where.kind === "volume") return volumeSize(workspace, where.path, signal)
  return withDbfsRefusal(workspace, where.path, () => dbfsSize(workspace, where.path, signal))
}
