// dbfs:/ paths through the Databricks REST API: get-status, read in 1 MiB base64 chunks, list; uploads go through the
// Databricks backend's DBFS writer (databricks/upload.ts).
import { authorization, credentialLabel, workspaceSecrets, resolveWorkspace, type Workspace } from "../databricks/auth.ts"
import { ToolError } from "../errors.ts"
import { HttpUnreachable, errorText, request } from "../util/http.ts"
import { httpLimits } from "../util/http-limits.ts"
import { redactUrl } from "../util/redact.ts"
import { denied, failed, networkReason, notFound, unavailable, unreachable } from "./errors.ts"
import type { Adapter, AdapterContext, Entry, Env, ObjectInfo } from "./types.ts"

const chunkSize = 1024 * 1024

/** `dbfs:/a/b`, `dbfs:///a/b` and MLflow's `dbfs://<profile>@databricks/a/b` → the profile (if any) and "/a/b". */
export const dbfsPath = (uri: string): { profile: string | null; path: string } => {
  const rest = uri.replace(/^dbfs:/i, "")
  const authority = rest.match(/^\/\/([^/]*)(\/.*)?$/)
  if (!authority) return { profile: null, path: `/${rest.replace(/^\/+/, "")}` }
  const profile = authority[1]?.match(/^([^@]+)@databricks$/)?.[1] ?? null
  return { profile, path: `/${(authority[2] ?? "").replace(/^\/+/, "")}` }
}

/** The workspace of a dbfs:/ URI, resolved as for `databricks` tracking URIs (a profile named in the URI is the only place looked at). */
export const workspaceFor = (uri: string, env: Env): Workspace =>
  resolveWorkspace({ profile: dbfsPath(uri).profile, subject: redactUrl(uri), code: "storage.credentials" }, env)

type Status = { path: string; is_dir: boolean; file_size?: number; modification_time?: number }

/** One DBFS API call; its errors name the URI and the workspace, never the token. */
const api = async <T>(uri: string, ctx: AdapterContext, method: "GET" | "POST", endpoint: string, params: Record<string, string | number | boolean>): Promise<T> => {
  const workspace = workspaceFor(uri, ctx.env)
  const query = method === "GET" ? `?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}` : ""
  let response: Response
  try {
    response = await request(`${workspace.host}/api/2.0/dbfs/${endpoint}${query}`, {
      method,
      headers: { authorization: await authorization(workspace, { signal: ctx.signal }), ...(method === "POST" ? { "content-type": "application/json" } : {}) },
      secrets: workspaceSecrets(workspace),
      ...(workspace.insecure ? { tls: { rejectUnauthorized: false } } : {}),
      body: method === "POST" ? JSON.stringify(params) : undefined,
      signal: ctx.signal,
      limits: httpLimits(ctx.env),
    })
  } catch (error) {
    if (error instanceof HttpUnreachable && !error.timedOut) throw unreachable(uri, workspace.host, networkReason(error.cause), "check DATABRICKS_HOST")
    throw error
  }
  if (response.ok) return (await response.json()) as T
  const text = await errorText(response)
  let body: { error_code?: string; message?: string } = {}
  try {
    body = JSON.parse(text)
  } catch {
    // Not JSON: a proxy or load balancer answered; the status says enough.
  }
  const detail = `${body.error_code ?? `HTTP ${response.status}`}${body.message ? `: ${body.message}` : ""}`
  if (response.status === 404 || body.error_code === "RESOURCE_DOES_NOT_EXIST") throw notFound(uri)
  if (response.status === 401 || response.status === 403 || body.error_code === "PERMISSION_DENIED") {
    throw denied(uri, detail, `check ${credentialLabel(workspace)} for ${workspace.host} and that it may read this path`)
  }
  if (response.status >= 500 || response.status === 429) throw unavailable(uri, detail)
  throw failed(uri, detail)
}

const infoOf = (uri: string, status: Status): ObjectInfo => ({
  uri,
  size: status.file_size ?? null,
  // DBFS publishes no checksum or ETag; the modification time and size stand in for a version.
  version: status.modification_time !== undefined ? `${status.modification_time}-${status.file_size}` : null,
  ranges: true,
})

/** The URI of another path in the same workspace (keeping a profile named in the URI). */
const sibling = (uri: string, path: string): string => {
  const profile = dbfsPath(uri).profile
  return profile ? `dbfs://${profile}@databricks${path}` : `dbfs:${path}`
}

export const dbfs: Adapter = {
  async stat(uri, ctx) {
    try {
      const status = await api<Status>(uri, ctx, "GET", "get-status", { path: dbfsPath(uri).path })
      return status.is_dir ? null : infoOf(uri, status)
    } catch (error) {
      if (error instanceof ToolError && error.code === "storage.not_found") return null
      throw error
    }
  },
  async list(uri, ctx) {
    const root = dbfsPath(uri).path.replace(/\/+$/, "")
    const entries: Entry[] = []
    const walk = async (dir: string): Promise<void> => {
      let files: Status[]
      try {
        files = (await api<{ files?: Status[] }>(sibling(uri, dir), ctx, "GET", "list", { path: dir })).files ?? []
      } catch (error) {
        if (error instanceof ToolError && error.code === "storage.not_found") return
        throw error
      }
      for (const file of files.sort((a, b) => a.path.localeCompare(b.path))) {
        if (file.is_dir) await walk(file.path)
        else entries.push({ path: file.path.slice(root.length + 1), info: infoOf(sibling(uri, file.path), file) })
      }
    }
    await walk(root)
    return entries
  },
  async read(info, range, ctx) {
    const path = dbfsPath(info.uri).path
    return (async function* () {
      for (let offset = range.start; range.end === null || offset < range.end; ) {
        const length = range.end === null ? chunkSize : Math.min(chunkSize, range.end - offset)
        const chunk = await api<{ bytes_read: number; data?: string }>(info.uri, ctx, "GET", "read", { path, offset, length })
        if (chunk.bytes_read === 0) return
        yield new Uint8Array(Buffer.from(chunk.data ?? "", "base64"))
        offset += chunk.bytes_read
      }
    })()
  },
  async upload(localPath, uri, ctx) {
    // The Databricks backend's writer: one streamed multipart put (blocks above 2 GB, or where put is refused).
    const { writeDbfsFile } = await import("../databricks/upload.ts")
    await writeDbfsFile(workspaceFor(uri, ctx.env), localPath, dbfsPath(uri).path, { signal: ctx.signal })
  },
}
