// The Kubernetes client against loopback HTTPS API servers: each way to trust the server and to authenticate, Status errors.
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { ToolError } from "../../src/errors.ts"
import { connectKube } from "../../src/kube/api.ts"
import { json, kubeEnv, status } from "../lib/kube.ts"
import { loopback } from "../lib/loopback.ts"
import { tlsCerts } from "../lib/tls-certs.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const refusal = async (work: Promise<unknown>): Promise<ToolError> => {
  try {
    await work
  } catch (error) {
    if (error instanceof ToolError) return error
    throw error
  }
  throw new Error("expected a ToolError")
}

const namespaces = { kind: "NamespaceList", items: [{ metadata: { name: "default" } }] }
const b64 = (text: string) => Buffer.from(text).toString("base64")

describe("trusting the server and authenticating", () => {
  test.each([
    ["a bearer token, the CA from a file", (caPath: string) => ({ cluster: { "certificate-authority": caPath }, user: { token: "tok-abc123" } }), "Bearer tok-abc123"],
    ["a token file, the CA as data", (_: string, ca: string, tokenFile: string) => ({ cluster: { "certificate-authority-data": b64(ca) }, user: { tokenFile } }), "Bearer from-file-456"],
    ["basic auth", (caPath: string) => ({ cluster: { "certificate-authority": caPath }, user: { username: "alice", password: "pa55word" } }), `Basic ${b64("alice:pa55word")}`],
  ])("%s", async (_, parts, authorization) => {
    await using certs = tlsCerts()
    await using dir = tmpdirFor()
    const tokenFile = dir.write("token.txt", "from-file-456\n")
    await using server = loopback(() => json(namespaces), { tls: certs.server })
    const kube = await connectKube(kubeEnv(dir, { server: server.url, ...parts(certs.caPath, certs.ca, tokenFile) }))
    expect(await kube.call("GET", "/api/v1/namespaces")).toEqual(namespaces)
    expect(server.requests[0]?.headers.get("authorization")).toBe(authorization)
    expect(server.requests[0]?.headers.get("accept")).toBe("application/json")
    expect(kube).toMatchObject({ context: "test", namespace: "default", server: server.url })
  })

  test("a client certificate the server demands: accepted from files, refused without", async () => {
    await using certs = tlsCerts()
    await using dir = tmpdirFor()
    await using server = loopback(() => json(namespaces), { tls: { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true } })
    const cluster = { "certificate-authority": certs.caPath }
    const withCert = await connectKube(kubeEnv(dir, { server: server.url, cluster, user: { "client-certificate": join(certs.dir, "client.pem"), "client-key": join(certs.dir, "client-key.pem") } }))
    expect(await withCert.call("GET", "/api/v1/namespaces")).toEqual(namespaces)
    const without = await connectKube(kubeEnv(dir, { server: server.url, cluster, user: { token: "t0ken-value" } }))
    const error = await refusal(without.call("GET", "/api/v1/namespaces"))
    expect(error.code).toBe("kube.unreachable")
    expect(error.message).toContain(`cannot reach the API server at ${server.url} (context 'test'`)
    expect(error.message).not.toContain("t0ken-value")
  }, 20_000)

  test("insecure-skip-tls-verify talks to a server no CA vouches for; without it the certificate is refused", async () => {
    await using certs = tlsCerts()
    await using dir = tmpdirFor()
    await using server = loopback(() => json(namespaces), { tls: certs.server })
    const insecure = await connectKube(kubeEnv(dir, { server: server.url, cluster: { "insecure-skip-tls-verify": true } }))
    expect(await insecure.call("GET", "/api/v1/namespaces")).toEqual(namespaces)
    const strict = await connectKube(kubeEnv(dir, { server: server.url }))
    const error = await refusal(strict.call("GET", "/api/v1/namespaces"))
    expect(error.code).toBe("kube.unreachable")
    expect(error.message.toLowerCase()).toMatch(/certificate|self.signed|verify/)
  }, 20_000)

  test("in-cluster: KUBERNETES_SERVICE_HOST/PORT and the service account folder", async () => {
    await using certs = tlsCerts()
    await using dir = tmpdirFor()
    dir.write("sa/token", "sa-token-xyz")
    dir.write("sa/ca.crt", certs.ca)
    dir.write("sa/namespace", "batch")
    await using server = loopback(() => json(namespaces), { tls: certs.server })
    const env = { HOME: dir.path, KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(server.server.port), MLPROJECT_KUBE_SERVICEACCOUNT_DIR: join(dir.path, "sa") }
    const kube = await connectKube(env)
    expect(kube).toMatchObject({ context: null, namespace: "batch", source: "in-cluster" })
    expect(await kube.call("GET", "/api/v1/namespaces")).toEqual(namespaces)
    expect(server.requests[0]?.headers.get("authorization")).toBe("Bearer sa-token-xyz")
  })
})

describe("Status answers", () => {
  const token = "sekrit-token-789"
  const answers: Record<string, () => Response> = {
    "/missing": () => status(404, 'pods "x" not found', "NotFound"),
    "/conflict": () => status(409, 'pods "x" already exists', "AlreadyExists"),
    "/invalid": () => status(422, `Pod "x" is invalid: spec.containers[0].image: Required value (you sent ${token})`),
    "/forbidden": () => status(403, 'pods is forbidden: User "bob" cannot create resource "pods"', "Forbidden"),
    "/unauthorized": () => status(401, "Unauthorized", "Unauthorized"),
    "/teapot": () => status(501, "not implemented", "NotImplemented"),
    "/busy": () => status(503, "try later", "ServiceUnavailable"),
  }
  const serve = () => loopback((_, url) => (answers[url.pathname] ?? (() => json({ ok: true })))())

  test.each([
    ["GET", "/missing", "kube.not_found", 1, /GET \/missing: not found on .*: pods "x" not found/],
    ["POST", "/conflict", "kube.conflict", 1, /POST \/conflict: pods "x" already exists/],
    ["POST", "/invalid", "kube.invalid", 2, /rejected it: Pod "x" is invalid: spec.containers\[0\].image: Required value \(you sent \*\*\*\)/],
    ["POST", "/forbidden", "kube.auth", 1, /the API server at .* forbids context 'test' POST \/forbidden: pods is forbidden/],
    ["GET", "/unauthorized", "kube.auth", 1, /the API server at http:\/\/127.0.0.1:\d+ refused the credentials of context 'test' \(.*config\): Unauthorized/],
    ["GET", "/teapot", "kube.api", 1, /GET \/teapot: HTTP 501 from .*: not implemented/],
  ])("%s %s → %s", async (method, path, code, exitCode, message) => {
    await using dir = tmpdirFor()
    await using server = serve()
    const kube = await connectKube(kubeEnv(dir, { server: server.url, user: { token } }))
    const error = await refusal(kube.call(method, path, { body: method === "POST" ? { kind: "Pod" } : undefined }))
    expect({ code: error.code, exitCode: error.exitCode }).toEqual({ code: code as never, exitCode })
    expect(error.message).toMatch(message)
    expect(`${error.message} ${error.hint ?? ""}`).not.toContain(token)
  })

  test("allow404 answers null; a body goes out as JSON; a POST is never resent, a GET is", async () => {
    await using dir = tmpdirFor()
    await using server = serve()
    const kube = await connectKube(kubeEnv(dir, { server: server.url, user: { token } }))
    expect(await kube.call("GET", "/missing", { allow404: true })).toBeNull()
    expect(await kube.call("PUT", "/thing", { body: { a: 1 }, query: { dryRun: "All", skip: undefined } })).toEqual({ ok: true })
    const put = server.requests.at(-1)
    expect({ type: put?.headers.get("content-type"), body: put?.text, query: put?.query.toString() }).toEqual({ type: "application/json", body: '{"a":1}', query: "dryRun=All" })
    expect(await kube.call("PATCH", "/thing", { body: { a: 2 } })).toEqual({ ok: true })
    expect(server.requests.at(-1)?.headers.get("content-type")).toBe("application/merge-patch+json")
    const before = server.requests.length
    expect((await refusal(kube.call("POST", "/busy", { body: {} }))).code).toBe("kube.api")
    expect(server.requests.length - before).toBe(1)
  })
})
