// Redirects followed hop by hop: only to http(s), and an Authorization header never reaches another origin.
import { ToolError } from "../errors.ts"
import { redactUrl } from "./redact.ts"

const maxHops = 10

const withoutAuthorization = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== "authorization"))

// fetch's rule: a 303, or a 301/302 answering a POST, continues as a GET without the body.
const becomesGet = (status: number, method: string): boolean =>
  (status === 303 && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")

type Init = RequestInit & { headers: Record<string, string>; method: string }

/**
 * Where a Location leads, refused unless it is http(s): Bun's fetch reads `file:` and `data:` URLs itself, so a
 * server could otherwise hand back a local file (an archive on this machine) as its answer.
 */
const nextHop = (location: string, current: string, what: string): URL => {
  let next: URL
  try {
    next = new URL(location, current)
  } catch {
    throw new ToolError("http.redirect", `${what}: redirected to '${redactUrl(location).slice(0, 200)}', which is not a URL`, { exitCode: 1 })
  }
  if (next.protocol === "http:" || next.protocol === "https:") return next
  const shown = next.protocol === "data:" ? "data:…" : redactUrl(next.href).slice(0, 200)
  throw new ToolError("http.redirect", `${what}: the server redirected to ${shown}; only http and https redirects are followed`, {
    hint: "a server may only send you to another http(s) address; give the final URL yourself if it is a file on this machine",
    exitCode: 1,
  })
}

/**
 * The final answer (a 3xx only when it names no Location). More than ten hops fail like a broken connection; a
 * redirect to another scheme is refused (`http.redirect`). `what` names the request in that error.
 */
export const followRedirects = async (url: string, init: Init, what: string): Promise<Response> => {
  let current = url
  let { headers, method, body } = init
  for (let hop = 0; hop < maxHops; hop++) {
    const response = await fetch(current, { ...init, headers, method, body, redirect: "manual" })
    const location = response.headers.get("location")
    if (response.status < 300 || response.status >= 400 || !location) return response
    await response.body?.cancel()
    const next = nextHop(location, current, what)
    if (next.origin !== new URL(current).origin) headers = withoutAuthorization(headers)
    if (becomesGet(response.status, method)) {
      method = "GET"
      body = undefined
    }
    current = next.href
  }
  throw new Error("too many redirects")
}
