// Tracking and artifact URIs: MLflow's tracking URI resolution, file URIs both ways, appending paths.
import { existsSync, readdirSync } from "node:fs"
import { isAbsolute, join, resolve } from "node:path"
import { alnumOr, indexOfAny, isAlnumAt, isDigits, schemeEnd, startsWithAnyCase } from "../util/ascii.ts"

/** MLflow reads these bare words as store URIs (`MLFLOW_TRACKING_URI=databricks`), not as folder names. */
const profileOnlyUris = new Set(["databricks", "databricks-uc", "uc"])

/** `databricks` or `databricks://PROFILE`: a Databricks workspace's tracking server. */
export const isDatabricksUri = (uri: string): boolean => uri === "databricks" || startsWithAnyCase(uri, "databricks://")

/**
 * The tracking variables an entry point gets: for a databricks URI the workspace's credentials too, read by the
 * Databricks configuration code, which loads only then (a run into a file store or database never evaluates it).
 */
export const childTrackingVariables = (trackingUri: string, env: Readonly<Record<string, string | undefined>>): Record<string, string> =>
  isDatabricksUri(trackingUri)
    ? (require("./databricks-config.ts") as typeof import("./databricks-config.ts")).childTrackingVariables(trackingUri, env)
    : { MLFLOW_TRACKING_URI: trackingUri }

/** The scheme of a URI as MLflow finds it, lower-cased; "" for a plain path. */
export const uriScheme = (uri: string): string =>
  profileOnlyUris.has(uri) ? uri : uri.slice(0, Math.max(0, schemeEnd(uri))).toLowerCase()

// pathlib's as_uri() keeps only unreserved characters and "/"; everything else is %XX of its UTF-8 bytes.
const keptInFileUri = "_.~/-"

/** MLflow's path_to_local_file_uri (pathlib.Path(abspath).as_uri()) for a POSIX path. */
export const pathToFileUri = (path: string): string => {
  const absolute = resolve(path)
  // Most paths need no escaping: one test instead of encoding (a fresh process's first TextEncoder costs ~0.1 ms).
  if (alnumOr(absolute, keptInFileUri)) return `file://${absolute}`
  const bytes = new TextEncoder().encode(absolute)
  let encoded = ""
  for (const byte of bytes) {
    const char = String.fromCharCode(byte)
    encoded += byte < 0x80 && (isAlnumAt(char, 0) || keptInFileUri.includes(char)) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
  }
  return `file://${encoded}`
}

/** urllib's unquote: %XX byte runs decoded as UTF-8 (invalid bytes become U+FFFD); the rest is kept. */
const percentDecode = (text: string): string => {
  // Without a `%` there is nothing to decode, and the pattern's first use (a compile) is skipped.
  if (!text.includes("%")) return text
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = Uint8Array.from(run.slice(1).split("%"), (hex) => parseInt(hex, 16))
    return new TextDecoder().decode(bytes)
  })
}

/**
 * MLflow's local_file_uri_to_path on POSIX: the URI's path part, percent-decoded; the host part of
 * `file://host/path` is ignored, `file:relative/path` stays relative.
 */
export const fileUriToPath = (uri: string): string => {
  let rest = uri.slice(uri.indexOf(":") + 1)
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2)
    rest = slash === -1 ? "" : rest.slice(slash)
  }
  const query = indexOfAny(rest, "?#")
  return percentDecode(query === -1 ? rest : rest.slice(0, query))
}

/** MLflow ≥ 3.7's test for keeping the file store: `./mlruns` holds an experiment (a numeric folder with a meta.yaml). */
export const holdsExperiments = (mlruns: string): boolean => {
  let entries: string[]
  try {
    entries = readdirSync(mlruns)
  } catch {
    return false
  }
  return entries.some((name) => isDigits(name) && existsSync(join(mlruns, name, "meta.yaml")))
}

/** A path as the path of a sqlite URI: `%`, `?` and `#` escaped, as SQLAlchemy decodes them. */
const sqlitePath = (path: string): string => path.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/** `sqlite:///relative.db` made absolute against `cwd`: the entry point runs in another folder and must open the same file. */
const absoluteSqliteUri = (uri: string, cwd: string): string => {
  const match = /^(sqlite(?:\+[^:]*)?):\/\/\/([^?#]*)(.*)$/is.exec(uri)
  if (!match) return uri
  const [, scheme, path = "", rest = ""] = match
  if (path === "" || path === ":memory:" || path.startsWith("/")) return uri
  return `${scheme}:///${sqlitePath(resolve(cwd, percentDecode(path)))}${rest}`
}

/**
 * MLflow's tracking URI for a run: MLFLOW_TRACKING_URI (a `file:` URI or a plain path, relative paths made absolute
 * against `cwd`), else MLflow ≥ 3.7's default: `./mlruns` when it already holds experiments, otherwise the sqlite file
 * `./mlflow.db`. Local stores come back absolute (`file:///abs`, `sqlite:////abs.db`) so a child process in another
 * folder still finds the same store (MLflow passes the relative sqlite default on, a known bug); other URIs come back
 * unchanged.
 */
export const resolveTrackingUri = (env: Readonly<Record<string, string | undefined>>, cwd: string): string => {
  const configured = env.MLFLOW_TRACKING_URI?.trim()
  if (!configured) {
    const mlruns = resolve(cwd, "mlruns")
    return holdsExperiments(mlruns) ? pathToFileUri(mlruns) : `sqlite:///${sqlitePath(resolve(cwd, "mlflow.db"))}`
  }
  if (profileOnlyUris.has(configured)) return configured
  const scheme = uriScheme(configured)
  if (scheme === "file") {
    const path = fileUriToPath(configured)
    return pathToFileUri(isAbsolute(path) ? path : resolve(cwd, path))
  }
  if (scheme === "") return pathToFileUri(resolve(cwd, configured))
  if (scheme === "sqlite" || scheme.startsWith("sqlite+")) return absoluteSqliteUri(configured, cwd)
  return configured
}

const orEnd = (text: string, index: number): number => (index === -1 ? text.length : index)

const withoutLeadingSlashes = (segment: string): string => {
  let start = 0
  while (segment[start] === "/") start++
  return segment.slice(start)
}

/**
 * MLflow's append_to_uri_path: joins POSIX segments onto the path part of a URI or plain path,
 * keeping scheme, authority, query and fragment (`mlflow-artifacts:/0` → `mlflow-artifacts:/0/<run>/artifacts`).
 */
export const appendToUriPath = (uri: string, ...segments: string[]): string => {
  // Split as /^([a-zA-Z][a-zA-Z0-9+.-]*:)?(\/\/[^/?#]*)?([^?#]*)(.*)$/s would: scheme, authority, path, the rest.
  const authorityStart = schemeEnd(uri) + 1
  const authority = uri.startsWith("//", authorityStart)
  const pathStart = authority ? orEnd(uri, indexOfAny(uri, "/?#", authorityStart + 2)) : authorityStart
  const pathEnd = orEnd(uri, indexOfAny(uri, "?#", pathStart))
  const schemeAndAuthority = uri.slice(0, pathStart)
  const path = uri.slice(pathStart, pathEnd)
  const rest = uri.slice(pathEnd)
  const suffix = segments.map(withoutLeadingSlashes).join("/")
  const joined = path === "" ? (authority ? `/${suffix}` : suffix) : path.endsWith("/") ? path + suffix : `${path}/${suffix}`
  return `${schemeAndAuthority}${joined}${rest}`
}

/** The URI without `user:password@`, for messages. */
export const redactUri = (uri: string): string => (uri.includes("@") ? uri.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#@]*@/, "$1") : uri)
