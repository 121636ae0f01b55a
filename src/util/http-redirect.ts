// Redirects followed hop by hop, so that an Authorization header never reaches another origin whatever fetch does.

const maxHops = 10

const withoutAuthorization = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== "authorization"))

// fetch's rule: a 303, or a 301/302 answering a POST, continues as a GET without the body.
const becomesGet = (status: number, method: string): boolean =>
  (status === 303 && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")

type Init = RequestInit & { headers: Record<string, string>; method: string }

/** The final answer (a 3xx only when it names no Location); more than ten hops fail like a broken connection. */
export const fetchDroppingAuth = async (url: string, init: Init): Promise<Response> => {
  let current = url
  let { headers, method, body } = init
  for (let hop = 0; hop < maxHops; hop++) {
    const response = await fetch(current, { ...init, headers, method, body, redirect: "manual" })
    const location = response.headers.get("location")
    if (response.status < 300 || response.status >= 400 || !location) return response
    await response.body?.cancel()
    const next = new URL(location, current)
    if (next.origin !== new URL(current).origin) headers = withoutAuthorization(headers)
    if (becomesGet(response.status, method)) {
      method = "GET"
      body = undefined
    }
    current = next.href
  }
  throw new Error("too many redirects")
}
