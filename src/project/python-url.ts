// The bits of Python's urllib and os.path that decide MLflow's `uri`/`path` parameter rules and script names.

export type SplitUrl = { scheme: string; netloc: string; path: string }

const schemeChars = /^[A-Za-z0-9+.-]+$/

/** urllib.parse.urlsplit, reduced to scheme, netloc and path (query and fragment dropped). */
export const splitUrl = (input: string): SplitUrl => {
  // Python strips leading C0 controls and spaces and removes tabs and newlines anywhere (bpo-43882).
  let url = input.replace(/^[\x00-\x20]+/, "").replace(/[\t\r\n]/g, "")
  let scheme = ""
  const colon = url.indexOf(":")
  if (colon > 0 && /^[A-Za-z]/.test(url) && schemeChars.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase()
    url = url.slice(colon + 1)
  }
  let netloc = ""
  if (url.startsWith("//")) {
    const rest = url.slice(2)
    const end = rest.search(/[/?#]/)
    netloc = end < 0 ? rest : rest.slice(0, end)
    url = end < 0 ? "" : rest.slice(end)
  }
  const path = url.split("#")[0]?.split("?")[0] ?? ""
  return { scheme, netloc, path }
}

/** urllib.parse.unquote: %XX sequences decoded as UTF-8, invalid bytes replaced, stray `%` kept. */
export const unquote = (s: string): string =>
  s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3)
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16)
    return new TextDecoder("utf-8").decode(bytes)
  })

/** MLflow's data_utils.is_uri: anything with a non-empty URL scheme. */
export const isUri = (value: string): boolean => splitUrl(value).scheme !== ""

/**
 * MLflow's get_local_path_or_none: the local filesystem path of a value with no scheme or a `file:` URI
 * without a host (percent-decoded as url2pathname does), or null for a remote URI.
 */
export const localPathOf = (value: string): string | null => {
  const url = splitUrl(value)
  if (url.scheme === "") return unquote(value)
  if (url.scheme === "file" && url.netloc === "") return unquote(url.path)
  return null
}

/** os.path.splitext's extension: from the last dot of the base name, ignoring its leading dots. */
export const extensionOf = (name: string): string => {
  const base = name.slice(name.lastIndexOf("/") + 1)
  const dot = base.lastIndexOf(".")
  if (dot <= 0) return ""
  return /^\.*$/.test(base.slice(0, dot)) ? "" : base.slice(dot)
}
