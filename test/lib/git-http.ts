// Smart HTTP Git on 127.0.0.1: `git http-backend` as CGI behind Bun.serve, optional basic auth, request log.
export type GitHttp = {
  /** `http://127.0.0.1:<port>`; append `/<repo>.git`. */
  url: string
  requests: Array<{ method: string; path: string; authorized: boolean }>
  [Symbol.asyncDispose](): Promise<void>
}

export type GitHttpOptions = {
  /** Require this user and password (basic auth); other requests get 401. */
  auth?: { user: string; password: string }
  /** Drop the Git-Protocol header, so the backend speaks protocol v0 (an old server: no fetch by unadvertised sha). */
  protocolV0?: boolean
  /** Hold every answer this long (a slow server), so a test can look at the processes of a fetch while it runs. */
  delayMs?: number
}

/** Splits a CGI response into status, headers and body. */
const parseCgi = (output: Uint8Array): Response => {
  const bytes = Buffer.from(output)
  let split = bytes.indexOf("\r\n\r\n")
  let skip = 4
  if (split === -1) {
    split = bytes.indexOf("\n\n")
    skip = 2
  }
  const head = bytes.subarray(0, split).toString("latin1")
  const headers = new Headers()
  let status = 200
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":")
    if (colon === -1) continue
    const name = line.slice(0, colon).trim()
    const value = line.slice(colon + 1).trim()
    if (name.toLowerCase() === "status") status = Number.parseInt(value, 10)
    else headers.append(name, value)
  }
  return new Response(bytes.subarray(split + skip), { status, headers })
}

export const gitHttp = (projectRoot: string, options: GitHttpOptions = {}): GitHttp => {
  const requests: GitHttp["requests"] = []
  const expected = options.auth ? `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString("base64")}` : null
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url)
      const authorized = expected === null || request.headers.get("authorization") === expected
      requests.push({ method: request.method, path: url.pathname + url.search, authorized })
      if (options.delayMs) await Bun.sleep(options.delayMs)
      if (!authorized) return new Response("auth required\n", { status: 401, headers: { "www-authenticate": 'Basic realm="git"' } })
      const body = request.body ? new Uint8Array(await request.arrayBuffer()) : new Uint8Array()
      const protocol = options.protocolV0 ? undefined : (request.headers.get("git-protocol") ?? undefined)
      const child = Bun.spawn(["git", "http-backend"], {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          GIT_PROJECT_ROOT: projectRoot,
          GIT_HTTP_EXPORT_ALL: "1",
          REQUEST_METHOD: request.method,
          PATH_INFO: url.pathname,
          QUERY_STRING: url.search.slice(1),
          CONTENT_TYPE: request.headers.get("content-type") ?? "",
          CONTENT_LENGTH: String(body.length),
          REMOTE_USER: options.auth?.user ?? "",
          REMOTE_ADDR: "127.0.0.1",
          ...(request.headers.get("content-encoding") ? { HTTP_CONTENT_ENCODING: request.headers.get("content-encoding") as string } : {}),
          ...(protocol ? { GIT_PROTOCOL: protocol } : {}),
        },
        stdin: body,
        stdout: "pipe",
        stderr: "pipe",
      })
      const [output] = await Promise.all([new Response(child.stdout).arrayBuffer(), child.exited])
      return parseCgi(new Uint8Array(output))
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      server.stop(true)
    },
  }
}
