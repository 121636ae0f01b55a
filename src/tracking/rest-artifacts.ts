// Uploads files into a run's artifact location, by its scheme: a local copy, the server's mlflow-artifacts proxy, or storage.
import { copyFileSync, mkdirSync, readdirSync, statSync } from "node:fs"
import { basename, dirname, join, relative, sep } from "node:path"
import { ToolError } from "../errors.ts"
import { normalizePosixPath } from "./key-rules.ts"
import { isDatabricksUri, databricksProfile } from "./databricks-config.ts"
import { restConfigFromUri, type RestConfig } from "./rest-config.ts"
import { answerError, send } from "./rest-http.ts"
import { appendToUriPath, fileUriToPath, redactUri, uriScheme } from "./tracking-uri.ts"

type Env = Readonly<Record<string, string | undefined>>

export type ArtifactUpload = {
  trackingUri: string
  env: Env
  /** The run's artifact_uri. */
  artifactUri: string
  /** A file, or a folder uploaded whole under its own name (as MlflowClient.log_artifact does). */
  localPath: string
  /** Folder inside the run's artifacts; "" or undefined for the root. */
  artifactPath?: string
  signal?: AbortSignal
}

type Item = { local: string; dest: string }

const usage = (message: string, hint?: string) => new ToolError("log.artifact.invalid", message, { hint, exitCode: 2 })

/** MLflow's validate_path_is_safe: relative, inside the artifact root. */
const safeArtifactPath = (path: string | undefined): string => {
  if (path === undefined || path.trim() === "" || path === ".") return ""
  const normalized = normalizePosixPath(path.replaceAll("\\", "/"))
  if (normalized.startsWith("/") || normalized === ".." || normalized.startsWith("../") || /^[a-zA-Z]:/.test(normalized))
    throw usage(`--path ${path}: artifact paths must stay inside the run's artifact folder (no absolute paths, no '..')`)
  return normalized === "." ? "" : normalized
}

const posixJoin = (...parts: string[]): string => parts.filter((p) => p !== "").join("/")

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return filesUnder(path)
    return entry.isFile() || (entry.isSymbolicLink() && statSync(path).isFile()) ? [path] : []
  })

const itemsOf = (localPath: string, artifactPath: string): Item[] => {
  let stats
  try {
    stats = statSync(localPath)
  } catch {
    throw usage(`${localPath}: no such file or folder`)
  }
  if (!stats.isDirectory()) return [{ local: localPath, dest: posixJoin(artifactPath, basename(localPath)) }]
  const root = posixJoin(artifactPath, basename(localPath.replace(/\/+$/, "")))
  return filesUnder(localPath).map((file) => ({ local: file, dest: posixJoin(root, relative(localPath, file).split(sep).join("/")) }))
}

const copyInto = (root: string, items: Item[]): void => {
  for (const item of items) {
    const target = join(root, ...item.dest.split("/"))
    mkdirSync(dirname(target), { recursive: true })
    copyFileSync(item.local, target)
  }
}

/** MLflow's resolve_uri for `mlflow-artifacts:`: the tracking server (or the URI's own host) + /api/2.0/mlflow-artifacts/artifacts. */
export const proxyUrl = (artifactUri: string, trackingUri: string): string => {
  const tracking = new URL(trackingUri)
  const [, , host = "", path = ""] = /^mlflow-artifacts:(\/\/([^/]*))?(.*)$/i.exec(artifactUri) ?? []
  const prefix = `${tracking.pathname}/api/2.0/mlflow-artifacts/artifacts/${path}`.replace(/\/{2,}/g, "/").replace(/\/+$/, "")
  return `${tracking.protocol}//${host || tracking.host}${prefix}`
}

const encodePath = (path: string): string => path.split("/").map(encodeURIComponent).join("/")

const putAll = async (config: RestConfig, base: string, items: Item[], signal?: AbortSignal): Promise<void> => {
  for (const item of items) {
    const file = Bun.file(item.local)
    const request = { method: "PUT", url: `${base}/${encodePath(item.dest)}`, headers: { "content-type": file.type || "application/octet-stream" }, body: file }
    const result = await send(config, request, { signal })
    if ("answer" in result && (result.answer.status < 200 || result.answer.status >= 300)) throw answerError(config, request, result.answer)
  }
}

const viaServer = async (upload: ArtifactUpload, base: string, items: Item[]): Promise<void> => {
  if (!/^https?:\/\//i.test(upload.trackingUri))
    throw new ToolError("log.artifact.unsupported", `Artifact URI ${upload.artifactUri} is served by an MLflow tracking server, but MLFLOW_TRACKING_URI (${redactUri(upload.trackingUri)}) is not one`, {
      hint: "set MLFLOW_TRACKING_URI to the http(s):// address of the server that created the run",
      exitCode: 2,
    })
  // The artifacts proxy shares the tracking server's credentials and TLS settings.
  await putAll({ ...restConfigFromUri(upload.trackingUri, upload.env), baseUrl: base }, base, items, upload.signal)
}

/** A dbfs:/ artifact location of a `databricks://<profile>` run is reached with that profile. */
const withProfile = (artifactUri: string, trackingUri: string): string => {
  const profile = isDatabricksUri(trackingUri) ? databricksProfile(trackingUri) : null
  return profile && /^dbfs:\/(?!\/)/i.test(artifactUri) ? artifactUri.replace(/^dbfs:/i, `dbfs://${profile}@databricks`) : artifactUri
}

/** Uploads the file or folder; returns the artifact paths written, relative to the run's artifact root. */
export const logArtifact = async (upload: ArtifactUpload): Promise<string[]> => {
  const items = itemsOf(upload.localPath, safeArtifactPath(upload.artifactPath))
  const scheme = uriScheme(upload.artifactUri)
  if (scheme === "" || scheme === "file") copyInto(scheme === "file" ? fileUriToPath(upload.artifactUri) : upload.artifactUri, items)
  else if (scheme === "mlflow-artifacts") await viaServer(upload, proxyUrl(upload.artifactUri, upload.trackingUri), items)
  else if (scheme === "http" || scheme === "https") await putAll(restConfigFromUri(upload.artifactUri, upload.env), upload.artifactUri.replace(/\/+$/, ""), items, upload.signal)
  else if (scheme === "s3" || scheme === "gs" || scheme === "dbfs") {
    // Loaded only here: the storage layer pulls in cloud SDKs that `mlproject log metric` must not pay for.
    const { upload: put } = await import("../storage/download.ts")
    const root = withProfile(upload.artifactUri, upload.trackingUri)
    for (const item of items) await put(item.local, appendToUriPath(root, item.dest), { env: upload.env, signal: upload.signal })
  } else
    throw new ToolError("log.artifact.unsupported", `Cannot upload artifacts to ${redactUri(upload.artifactUri)}: the '${scheme}:' scheme is not supported`, {
      hint: "supported artifact locations: local folders (file:), mlflow-artifacts: (a tracking server's proxy), http(s), s3://, gs://, dbfs:/",
      exitCode: 2,
    })
  return items.map((item) => item.dest)
}
