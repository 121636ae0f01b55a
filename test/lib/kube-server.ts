// A loopback Kubernetes API server for tests: HTTPS with a throwaway CA, token/basic/client-certificate auth, recorded requests, Jobs run by Docker.
import { randomBytes } from "node:crypto"
import type { Server } from "bun"
import { connectDocker, type DockerClient } from "../../src/util/docker-api.ts"
import { makeApi, json } from "./kube-api.ts"
import { makeNode, type KubeContext, type KubeServerOptions } from "./kube-context.ts"
import { startJobController } from "./kube-jobs.ts"
import { startKubelet } from "./kube-kubelet.ts"
import { KubeError, KubeStore, status, type KubeObject } from "./kube-store.ts"
import { tlsCerts, type TlsCerts } from "./tls-certs.ts"

export type { KubeServerOptions } from "./kube-context.ts"
export type { KubeObject, WatchEvent } from "./kube-store.ts"
export { kubeconfig, type KubeconfigVariant } from "./kube-config.ts"

export type KubeRequest = {
  method: string
  path: string
  query: Record<string, string>
  headers: Record<string, string>
  /** The JSON body parsed, the text when it is not JSON, undefined when empty. */
  body: unknown
  /** How the request authenticated: the token, the basic user, the client certificate, or nothing (then it got 401). */
  auth: { kind: "token" | "basic" | "cert" | "anonymous" | "none"; user?: string }
  /** Which listener it came to: `main` (tokens, basic) or `cert` (requires a client certificate). */
  listener: "main" | "cert"
}

export type KubeServer = {
  /** https://127.0.0.1:PORT: bearer tokens and basic auth. */
  url: string
  /** A second listener that demands a client certificate signed by `certs.ca` (Bun cannot tell per request on one listener). */
  certUrl: string
  /** The first accepted token. */
  token: string
  certs: TlsCerts
  requests: KubeRequest[]
  store: KubeStore
  docker: DockerClient
  /** Docker container ids this server created for a pod (by container name), for assertions on cleanup. */
  containersOf(pod: KubeObject): Promise<string[]>
  [Symbol.asyncDispose](): Promise<void>
}

const systemNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]

const parseBody = (text: string): unknown => {
  if (text === "") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Starts the server; the node's kubelet runs pods through `options.docker` (default: the daemon at /var/run/docker.sock). */
export const startKubeServer = async (options: KubeServerOptions = {}): Promise<KubeServer> => {
  const tokens = new Set(options.tokens ?? [randomBytes(16).toString("hex")])
  const docker = options.docker ?? (await connectDocker({ ...process.env, DOCKER_HOST: undefined }))
  const certs = tlsCerts()
  const store = new KubeStore(options.historyLimit ?? 1000)
  let mainPort = 0
  const ctx: KubeContext = {
    store,
    docker,
    options,
    node: makeNode(options),
    serverLabel: "mlproject.test.kube-server",
    serverId: randomBytes(6).toString("hex"),
    port: () => mainPort,
  }
  for (const name of [...systemNamespaces, ...(options.namespaces ?? [])]) {
    store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } as KubeObject["metadata"], spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } }, "")
  }
  const kubelet = startKubelet(ctx)
  const jobs = startJobController(ctx, kubelet)
  const api = makeApi(ctx, kubelet, jobs)
  const requests: KubeRequest[] = []

  const authenticate = (request: Request, listener: "main" | "cert"): KubeRequest["auth"] => {
    const header = request.headers.get("authorization") ?? ""
    if (header.startsWith("Bearer ")) return tokens.has(header.slice(7)) ? { kind: "token", user: header.slice(7) } : { kind: "none" }
    if (header.startsWith("Basic ")) {
      const decoded = Buffer.from(header.slice(6), "base64").toString("utf8")
      const colon = decoded.indexOf(":")
      const [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)]
      const ok = options.basic?.some((user) => user.username === username && user.password === password)
      return ok ? { kind: "basic", user: username } : { kind: "none" }
    }
    // The cert listener's TLS handshake already demanded a certificate from the test CA.
    if (listener === "cert") return { kind: "cert", user: "client" }
    return options.anonymous ? { kind: "anonymous", user: "system:anonymous" } : { kind: "none" }
  }

  const serve = (listener: "main" | "cert"): Server<undefined> =>
    Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      // Watches and followed logs stay open without traffic for as long as the client wants.
      idleTimeout: 0,
      tls: { ...certs.server, ...(listener === "cert" ? { ca: certs.ca, requestCert: true, rejectUnauthorized: true } : {}) },
      async fetch(request) {
        const url = new URL(request.url)
        const text = request.body ? await request.text() : ""
        const auth = authenticate(request, listener)
        requests.push({
          method: request.method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: Object.fromEntries(request.headers),
          body: parseBody(text),
          auth,
          listener,
        })
        if (auth.kind === "none") return json(status(401, "Unauthorized", "Unauthorized"), 401)
        try {
          return await api.handle(request, url, parseBody(text), request.signal)
        } catch (error) {
          if (error instanceof KubeError) return json(status(error.code, error.reason, error.message, error.details), error.code)
          console.warn(`kube-server: ${request.method} ${url.pathname}: ${(error as Error).stack}`)
          return json(status(500, "InternalError", `Internal error occurred: ${(error as Error).message}`), 500)
        }
      },
    })

  const main = serve("main")
  const cert = serve("cert")
  mainPort = main.port as number
  return {
    url: `https://127.0.0.1:${main.port}`,
    certUrl: `https://127.0.0.1:${cert.port}`,
    token: [...tokens][0] as string,
    certs,
    requests,
    store,
    docker,
    async containersOf(pod) {
      const filters = JSON.stringify({ label: [`io.kubernetes.pod.uid=${pod.metadata.uid}`, `${ctx.serverLabel}=${ctx.serverId}`] })
      const response = await docker.request("GET", "/containers/json", { query: { all: 1, filters } })
      return ((await response.json()) as Array<{ Id: string }>).map((c) => c.Id)
    },
    async [Symbol.asyncDispose]() {
      jobs.stop()
      await Promise.all([main.stop(true), cert.stop(true)])
      await kubelet.stop()
      await certs[Symbol.asyncDispose]()
    },
  }
}
