// The workspace REST client: JSON calls, 429/503 retried honouring Retry-After, Databricks errors as ToolErrors that name no secret.
import { describe, expect, test } from "bun:test"
import { call, isDatabricksError } from "../../src/databricks/api.ts"
import { resolveWorkspace, type Workspace } from "../../src/databricks/auth.ts"
import { caught } from "../lib/caught.ts"
import { loopback } from "../lib/loopback.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

const patWorkspace = (host: string, token = "dapi-secret-token"): Workspace =>
  resolveWorkspace({ profile: null, subject: "test" }, { DATABRICKS_HOST: host, DATABRICKS_TOKEN: token })

describe("call", () => {
  test("GET with a query, POST with a JSON body, the bearer token sent", async () => {
    await using server = loopback((request, url, body) =>
      json({ method: request.method, run_id: url.searchParams.get("run_id"), body: body.length ? JSON.parse(new TextDecoder().decode(body)) : null }),
    )
    const workspace = patWorkspace(server.url)
    expect(await call(workspace, "GET", "/api/2.1/jobs/runs/get", { query: { run_id: 7, include_history: undefined } })).toEqual({ method: "GET", run_id: "7", body: null })
    expect(await call(workspace, "POST", "/api/2.1/jobs/runs/submit", { body: { run_name: "x" } })).toEqual({ method: "POST", run_id: null, body: { run_name: "x" } })
    expect(server.requests.map((r) => r.headers.get("authorization"))).toEqual(["Bearer dapi-secret-token", "Bearer dapi-secret-token"])
    expect(server.requests[0]?.query.toString()).toBe("run_id=7")
    expect(server.requests[1]?.headers.get("content-type")).toBe("application/json")
  })

  test("429 with Retry-After is retried after the asked wait, for a POST too", async () => {
    let calls = 0
    const times: number[] = []
    await using server = loopback(() => {
      times.push(Date.now())
      return ++calls < 3 ? json({ error_code: "TOO_MANY_REQUESTS", message: "slow down" }, 429, { "retry-after": "1" }) : json({ run_id: 42 })
    })
    expect(await call(patWorkspace(server.url), "POST", "/api/2.1/jobs/runs/submit", { body: {} })).toEqual({ run_id: 42 })
    expect(calls).toBe(3)
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(950)
    expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(950)
  })

  test("503 is tried six times, then a databricks.api error with the service's message", async () => {
    await using server = loopback(() => json({ error_code: "TEMPORARILY_UNAVAILABLE", message: "maintenance" }, 503, { "retry-after": "0" }))
    const error = await caught(call(patWorkspace(server.url), "GET", "/api/2.0/clusters/list"))
    expect(server.requests).toHaveLength(6)
    expect(error).toMatchObject({ code: "databricks.api", exitCode: 1 })
    expect(error.message).toContain("TEMPORARILY_UNAVAILABLE: maintenance")
  })

  test("a wait for Retry-After ends with the signal", async () => {
    await using server = loopback(() => json({ error_code: "TOO_MANY_REQUESTS" }, 429, { "retry-after": "30" }))
    const controller = new AbortController()
    const started = Date.now()
    setTimeout(() => controller.abort(new Error("stop")), 200)
    const error = await call(patWorkspace(server.url), "GET", "/api/2.0/x", { signal: controller.signal }).catch((e: unknown) => e)
    expect((error as Error).message).toBe("stop")
    expect(Date.now() - started).toBeLessThan(5000)
  })

  test("403 with a numeric error_code is databricks.auth naming the host and the credential, never the token", async () => {
    await using server = loopback((request) =>
      json({ error_code: "403", message: `Invalid access token ${request.headers.get("authorization")?.slice(7)}.` }, 403),
    )
    const error = await caught(call(patWorkspace(server.url, "dapi-wrong-0123456789"), "GET", "/api/2.1/jobs/runs/get", { query: { run_id: 1 } }))
    expect(error).toMatchObject({ code: "databricks.auth", exitCode: 2 })
    expect(error.message).toContain(server.url)
    expect(error.message).toContain("DATABRICKS_TOKEN from the environment")
    expect(error.message).toContain("403")
    expect(`${error.message}${error.hint}`).not.toContain("dapi-wrong-0123456789")
    expect(isDatabricksError(error, "403")).toBe(true)
  })

  test("a profile's credential is named by its profile", async () => {
    await using home = tmpdirFor()
    await using server = loopback(() => json({ error_code: "401", message: "Unauthorized" }, 401))
    home.write(".databrickscfg", `[lab]\nhost = ${server.url}\ntoken = dapi-lab\n`)
    const workspace = resolveWorkspace({ profile: "lab", subject: "t" }, { HOME: home.path })
    const error = await caught(call(workspace, "GET", "/api/2.0/x"))
    expect(error.code).toBe("databricks.auth")
    expect(error.message).toContain("profile [lab]")
  })

  test.each([
    [404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: "Run 9 does not exist." }, "databricks.not_found", 1, "Run 9 does not exist."],
    [400, { error_code: "INVALID_PARAMETER_VALUE", message: "Cluster spec is missing spark_version" }, "databricks.invalid", 2, "Cluster spec is missing spark_version"],
    [500, { error_code: "INTERNAL_ERROR", message: "boom" }, "databricks.api", 1, "INTERNAL_ERROR: boom"],
    [409, "<html>conflict</html>", "databricks.api", 2, "<html>conflict</html>"],
  ])("HTTP %i becomes %s", async (status, body, code, exitCode, shown) => {
    await using server = loopback(() => (typeof body === "string" ? new Response(body, { status }) : json(body, status)))
    const error = await caught(call(patWorkspace(server.url), "GET", "/api/2.0/x"))
    expect(error).toMatchObject({ code, exitCode })
    expect(error.message).toContain(shown)
  })

  test("no connection is databricks.unreachable naming the host", async () => {
    const server = loopback(() => json({}))
    const url = server.url
    await server[Symbol.asyncDispose]()
    const error = await caught(call(patWorkspace(url), "GET", "/api/2.0/x"))
    expect(error).toMatchObject({ code: "databricks.unreachable", exitCode: 1 })
    expect(error.message).toContain(url)
  })
})
