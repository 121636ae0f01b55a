// Storage URI helpers: scheme, bucket and key, the local name a download gets, names that stay in the destination.
import { ToolError } from "../errors.ts"
import { redactUrl } from "../util/redact.ts"
import { schemeEnd } from "../util/ascii.ts"

/** The lower-cased scheme, or null for a plain path (a one-letter "scheme" is a Windows drive: C:\data). */
export const schemeOf = (value: string): string | null => {
  const end = schemeEnd(value)
  return end === -1 || end === 1 ? null : value.slice(0, end).toLowerCase()
}

/** True when a `path` parameter value names remote data to download: it has a scheme other than `file`. */
export const isRemoteUri = (value: string): boolean => {
  const scheme = schemeOf(value)
  return scheme !== null && scheme !== "file"
}

/** `s3://bucket/a/b` → { bucket: "bucket", key: "a/b" }; the key is kept verbatim (S3 and GCS keys may hold '?' or '#'). */
export const bucketAndKey = (uri: string): { bucket: string; key: string } => {
  const match = uri.match(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/]+)\/?(.*)$/s)
  if (!match?.[1]) throw new ToolError("storage.uri", `'${redactUrl(uri)}' does not name a bucket`, { hint: "write it as scheme://bucket/key" })
  return { bucket: match[1], key: match[2] ?? "" }
}

/** The name a download gets locally, as MLflow does: the URI path's last segment (query and fragment dropped for http). */
export const lastSegment = (uri: string): string => {
  const path = /^https?:/i.test(uri) ? uri.replace(/[?#].*$/s, "") : uri
  const withoutScheme = path.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/*/, "")
  const name = withoutScheme.replace(/\/+$/, "").split("/").at(-1) ?? ""
  if (name === "" || name === "." || name === "..") return "download"
  return name
}

/** A listed object's relative path, refused when it would escape the destination folder. */
export const safeRelative = (relative: string, uri: string): string => {
  const parts = relative.split("/")
  if (relative === "" || relative.startsWith("/") || parts.some((part) => part === ".." || part === "." || part === "")) {
    throw new ToolError("storage.unsafe_key", `refusing to download '${redactUrl(uri)}': its name '${relative}' would land outside the destination folder`, {
      hint: "rename the object, or download the other objects one by one",
    })
  }
  return relative
}

/** True for URIs that name a folder (a trailing slash), which are listed rather than stat'ed. */
export const isFolderUri = (uri: string): boolean => (/^https?:/i.test(uri) ? uri.replace(/[?#].*$/s, "") : uri).endsWith("/")
