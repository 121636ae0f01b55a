// Workspace credentials: MLflow's order, OAuth M2M tokens fetched, cached and refreshed, refusals that name no secret.
import { describe, expect, test } from "bun:test"
import { call } from "../../src/databricks/api.ts"
import { authorization, resolveWorkspace, workspaceVariables, type Workspace } from "../../src/databricks/auth.ts"
import { refreshAt } from "../../src/databricks/oauth.ts"
import { childTrackingVariables, databricksCreds } from "../../src/tracking/databricks-config.ts"
import { downloadUri } from "../../src/storage/index.ts"
import { storeFor } from "../../src/tracking/store-for.ts"
import { caught, thrown } from "../lib/caught.ts"
import { loopback } from "../lib/loopback.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })

/** A workspace whose /oidc/v1/token hands out token-1, token-2, … living `lifetimeS` seconds; the API accepts only live ones. */
const oauthWorkspace = (options: { lifetimeS: number; clientId?: string; clientSecret?: string }) => {
  const clientId = options.clientId ?? "sp-client"
  const clientSecret = options.clientSecret ?? "dose-very-secret"
  const live = new Map<string, number>()
  const revoked = new Set<string>()
  let issued = 0
  const server = loopback((request, url, body) => {
    if (url.pathname === "/oidc/v1/token") {
      const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`
      if (request.headers.get("authorization") !== expected) return json({ error: "invalid_client", error_description: "Client authentication failed" }, 401)
      const form = new URLSearchParams(new TextDecoder().decode(body))
      if (form.get("grant_type") !== "client_credentials" || form.get("scope") !== "all-apis") return json({ error: "invalid_request" }, 400)
      const token = `token-${++issued}`
      live.set(token, Date.now() + options.lifetimeS * 1000)
      return json({ access_token: token, token_type: "Bearer", expires_in: options.lifetimeS, scope: "all-apis" })
    }
    const token = request.headers.get("authorization")?.replace(/^Bearer /, "") ?? ""
    if (revoked.has(token) || (live.get(token) ?? 0) < Date.now()) return json({ error_code: "401", message: "Credential was not sent or was of an unsupported type for this API." }, 401)
    if (url.pathname === "/api/2.0/dbfs/get-status") return json({ path: url.searchParams.get("path"), is_dir: false, file_size: 5, modification_time: 1 })
    if (url.pathname === "/api/2.0/dbfs/read") return json({ bytes_read: 5, data: Buffer.from("hello").toString("base64") })
    if (url.pathname === "/api/2.0/mlflow/experiments/get")
      return json({ experiment: { experiment_id: "0", name: "Default", artifact_location: "dbfs:/databricks/mlflow-tracking/0", lifecycle_stage: "active" } })
    return json({ token })
  })
  return Object.assign(server, { clientId, clientSecret, revoke: (token: string) => revoked.add(token), issued: () => issued })
}

describe("resolveWorkspace", () => {
  test.each([
    ["env PAT", null, { DATABRICKS_HOST: "h.example", DATABRICKS_TOKEN: "dapi-1" }, { host: "https://h.example", credential: { kind: "token", token: "dapi-1" } }],
    [
      "env OAuth",
      null,
      { DATABRICKS_HOST: "https://h.example/", DATABRICKS_CLIENT_ID: "id", DATABRICKS_CLIENT_SECRET: "s" },
      { host: "https://h.example", credential: { kind: "oauth", clientId: "id", clientSecret: "s" }, source: "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET from the environment" },
    ],
    ["a PAT wins over an OAuth client", null, { DATABRICKS_HOST: "h", DATABRICKS_TOKEN: "t", DATABRICKS_CLIENT_ID: "id", DATABRICKS_CLIENT_SECRET: "s" }, { credential: { kind: "token", token: "t" } }],
    ["an id without a secret falls back to DEFAULT", null, { DATABRICKS_HOST: "h", DATABRICKS_CLIENT_ID: "id" }, { host: "https://default.example", credential: { kind: "token", token: "dapi-default" } }],
    ["profile OAuth", "sp", { DATABRICKS_HOST: "h", DATABRICKS_TOKEN: "ignored" }, { host: "https://sp.example", credential: { kind: "oauth", clientId: "cid", clientSecret: "csecret" } }],
    ["DATABRICKS_CONFIG_PROFILE", null, { DATABRICKS_CONFIG_PROFILE: "sp" }, { host: "https://sp.example", credential: { kind: "oauth", clientId: "cid", clientSecret: "csecret" } }],
  ] as const)("%s", async (_name, profile, env, expected) => {
    await using home = tmpdirFor()
    home.write(".databrickscfg", "[DEFAULT]\nhost = default.example\ntoken = dapi-default\n\n[sp]\nhost = https://sp.example\nclient_id = cid\nclient_secret = csecret\n")
    expect(resolveWorkspace({ profile, subject: "test" }, { HOME: home.path, ...env })).toMatchObject(expected)
  })

  test("missing credentials: exit 2 with where to put them, in the caller's code", async () => {
    await using home = tmpdirFor()
    const none = thrown(() => resolveWorkspace({ profile: null, subject: "-b databricks" }, { HOME: home.path }))
    expect(none).toMatchObject({ code: "databricks.credentials", exitCode: 2, message: "-b databricks: no Databricks credentials found" })
    expect(none.hint).toContain("DATABRICKS_HOST and DATABRICKS_TOKEN")
    expect(none.hint).toContain("DATABRICKS_CLIENT_ID")
    home.write(".databrickscfg", "[sp]\nhost = https://sp.example\nclient_id = cid\n")
    const half = thrown(() => resolveWorkspace({ profile: "sp", subject: "x", code: "storage.credentials" }, { HOME: home.path }))
    expect(half).toMatchObject({ code: "storage.credentials", exitCode: 2 })
    expect(half.message).toContain("profile [sp]")
  })

  test("the child gets DATABRICKS_HOST, DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET for OAuth", async () => {
    await using home = tmpdirFor()
    home.write(".databrickscfg", "[sp]\nhost = sp.example\nclient_id = cid\nclient_secret = csecret\n")
    expect(childTrackingVariables("databricks://sp", { HOME: home.path })).toEqual({
      MLFLOW_TRACKING_URI: "databricks",
      DATABRICKS_HOST: "https://sp.example",
      DATABRICKS_CLIENT_ID: "cid",
      DATABRICKS_CLIENT_SECRET: "csecret",
    })
    expect(databricksCreds("databricks://sp", { HOME: home.path })).toEqual({ host: "https://sp.example", clientId: "cid", clientSecret: "csecret", insecure: false })
    expect(workspaceVariables(resolveWorkspace({ profile: "sp", subject: "x" }, { HOME: home.path }))).not.toHaveProperty("DATABRICKS_TOKEN")
  })
})

describe("OAuth machine-to-machine", () => {
  test.each([
    [3600, 3540_000],
    [600, 540_000],
    [2, 1800],
  ])("a token living %i s is fetched again after %i ms", (lifetime, after) => {
    expect(refreshAt(0, lifetime)).toBe(after)
  })

  test("the token is fetched with Basic client auth and a client_credentials form, cached, and fetched again near its expiry", async () => {
    await using server = oauthWorkspace({ lifetimeS: 1 })
    const workspace = resolveWorkspace({ profile: null, subject: "t" }, { DATABRICKS_HOST: server.url, DATABRICKS_CLIENT_ID: server.clientId, DATABRICKS_CLIENT_SECRET: server.clientSecret })
    expect(await call<{ token: string }>(workspace, "GET", "/api/2.0/clusters/list")).toEqual({ token: "token-1" })
    expect(await call<{ token: string }>(workspace, "GET", "/api/2.0/clusters/list")).toEqual({ token: "token-1" })
    await Bun.sleep(1000)
    expect(await call<{ token: string }>(workspace, "GET", "/api/2.0/clusters/list")).toEqual({ token: "token-2" })
    const tokenCalls = server.requests.filter((r) => r.path === "/oidc/v1/token")
    expect(tokenCalls).toHaveLength(2)
    expect(tokenCalls[0]).toMatchObject({ method: "POST", text: "grant_type=client_credentials&scope=all-apis" })
    expect(tokenCalls[0]?.headers.get("content-type")).toBe("application/x-www-form-urlencoded")
  })

  test("concurrent callers share one token request", async () => {
    await using server = oauthWorkspace({ lifetimeS: 3600, clientId: "concurrent" })
    const workspace = resolveWorkspace({ profile: null, subject: "t" }, { DATABRICKS_HOST: server.url, DATABRICKS_CLIENT_ID: server.clientId, DATABRICKS_CLIENT_SECRET: server.clientSecret })
    const all = await Promise.all([1, 2, 3, 4].map(() => authorization(workspace)))
    expect(new Set(all)).toEqual(new Set(["Bearer token-1"]))
    expect(server.issued()).toBe(1)
  })

  test("a 401 for a cached token fetches a new one once", async () => {
    await using server = oauthWorkspace({ lifetimeS: 3600, clientId: "revoked" })
    const workspace = resolveWorkspace({ profile: null, subject: "t" }, { DATABRICKS_HOST: server.url, DATABRICKS_CLIENT_ID: server.clientId, DATABRICKS_CLIENT_SECRET: server.clientSecret })
    expect(await call(workspace, "GET", "/api/2.0/x")).toEqual({ token: "token-1" })
    server.revoke("token-1")
    expect(await call(workspace, "GET", "/api/2.0/x")).toEqual({ token: "token-2" })
    server.revoke("token-2")
    server.revoke("token-3")
    const refused = await caught(call(workspace, "GET", "/api/2.0/x"))
    expect(refused).toMatchObject({ code: "databricks.auth", exitCode: 2 })
    expect(refused.message).toContain("OAuth client 'revoked'")
    expect(server.issued()).toBe(3)
  })

  test("a refused client names the host and the client id, never the secret", async () => {
    await using server = oauthWorkspace({ lifetimeS: 3600 })
    const workspace: Workspace = { host: server.url, credential: { kind: "oauth", clientId: "wrong-id", clientSecret: "wrong-secret-123" }, insecure: false, source: "env" }
    const refused = await caught(authorization(workspace))
    expect(refused).toMatchObject({ code: "databricks.auth", exitCode: 2 })
    expect(refused.message).toContain(server.url)
    expect(refused.message).toContain("'wrong-id'")
    expect(refused.message).toContain("invalid_client")
    expect(`${refused.message}${refused.hint}`).not.toContain("wrong-secret-123")
  })

  test("the Databricks tracking store uses the OAuth token and refreshes it", async () => {
    await using home = tmpdirFor()
    await using server = oauthWorkspace({ lifetimeS: 1, clientId: "tracking" })
    home.write(".databrickscfg", `[sp]\nhost = ${server.url}\nclient_id = ${server.clientId}\nclient_secret = ${server.clientSecret}\n`)
    const store = storeFor("databricks://sp", { HOME: home.path, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" })
    expect(await store.getExperiment("0")).toMatchObject({ name: "Default" })
    await Bun.sleep(1000)
    expect(await store.getExperiment("0")).toMatchObject({ name: "Default" })
    const sent = server.requests.filter((r) => r.path.startsWith("/api/")).map((r) => r.headers.get("authorization"))
    expect(sent).toEqual(["Bearer token-1", "Bearer token-2"])
  })

  test("dbfs:/ downloads use the same OAuth client", async () => {
    await using tmp = tmpdirFor()
    await using server = oauthWorkspace({ lifetimeS: 3600, clientId: "dbfs-client" })
    const env = { DATABRICKS_HOST: server.url, DATABRICKS_CLIENT_ID: server.clientId, DATABRICKS_CLIENT_SECRET: server.clientSecret, MLPROJECT_HOME: tmp.path }
    const result = await downloadUri("dbfs:/data/x.txt", `${tmp.path}/x.txt`, { env })
    expect(result.bytes).toBe(5)
    expect(await Bun.file(`${tmp.path}/x.txt`).text()).toBe("hello")
    expect(server.requests.filter((r) => r.path.startsWith("/api/")).every((r) => r.headers.get("authorization") === "Bearer token-1")).toBe(true)
  })
})
