// Redirects through the binary: followed only to http(s) (never to file:, ftp: or data:), and credentials never sent to another origin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { tar } from "../lib/archives.ts"
import { cli } from "../lib/cli.ts"
import { gitRepo } from "../lib/git.ts"
import { githubApi } from "../lib/github-api.ts"
import { loopback } from "../lib/loopback.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const archive = (says: string) => tar([{ name: "MLproject", data: `name: redirected\nentry_points:\n  main:\n    command: "echo ${says}"\n` }], true)

const redirector = (location: () => string, status = 302) => loopback(() => new Response(null, { status, headers: { location: location() } }))

const logLines = (run: Awaited<ReturnType<typeof cli>>) => run.events.filter((e) => e.type === "log").map((e) => e.line)

describe("an archive download redirected to another scheme is refused", () => {
  let local: ReturnType<typeof tmpdirFor>
  let file: string
  beforeAll(() => {
    local = tmpdirFor()
    // An archive on this machine that the server has no business handing out.
    file = local.write("local.tar.gz", "")
    Bun.write(file, archive("LOCAL-ARCHIVE-RAN"))
  })
  afterAll(async () => {
    await local[Symbol.asyncDispose]()
  })

  test.each([
    ["file://", () => `file://${file}`, "file://"],
    ["data:", () => `data:application/gzip;base64,${Buffer.from(readFileSync(file)).toString("base64")}`, "data:"],
    ["ftp://", () => "ftp://127.0.0.1:1/p.tar.gz", "ftp://"],
  ])("to %s", async (_, location, shown) => {
    await using server = redirector(location)
    await using dir = tmpdirFor()
    const run = await cli(["run", `${server.url}/p.tar.gz`, "--json"], { cwd: dir.path })
    expect(logLines(run)).not.toContain("LOCAL-ARCHIVE-RAN")
    expect(run.code).toBe(1)
    const error = run.events.at(-1) as unknown as { type: string; code: string; message: string }
    expect(error).toMatchObject({ type: "error", code: "http.redirect" })
    expect(error.message).toContain(shown)
    expect(error.message).toContain("only http and https redirects are followed")
    // Refused at once: a refusal is no transient failure to retry.
    expect(server.requests.length).toBe(1)
  })

  test("a `path` download redirected to file:// is refused the same way", async () => {
    await using server = redirector(() => `file://${file}`)
    await using dir = tmpdirFor()
    dir.write("project/MLproject", "name: p\nentry_points:\n  main:\n    parameters:\n      data: path\n    command: \"cat {data}\"\n")
    const run = await cli(["run", "project", "-P", `data=${server.url}/d.tar.gz`, "--json"], { cwd: dir.path })
    expect(run.events.at(-1)).toMatchObject({ type: "error", code: "http.redirect" })
  })
})

describe("credentials are never sent to another origin", () => {
  test("an archive: the URL's credentials reach its own server, not the one it redirects to", async () => {
    await using target = loopback(() => new Response(archive("from-the-other-origin")))
    await using origin = redirector(() => `${target.url}/p.tar.gz`)
    await using dir = tmpdirFor()
    const run = await cli(["run", `${origin.url.replace("http://", "http://erin:Arch-Cr0ss@")}/p.tar.gz`, "--json"], { cwd: dir.path })
    expect(logLines(run)).toEqual(["from-the-other-origin"])
    expect(origin.requests[0]?.headers.get("authorization")).toBe(`Basic ${btoa("erin:Arch-Cr0ss")}`)
    expect(target.requests.map((r) => r.headers.get("authorization"))).toEqual([null])
  })

  test("a `path` download", async () => {
    await using target = loopback(() => new Response("a,b\n"))
    await using origin = redirector(() => `${target.url}/d.csv`)
    await using dir = tmpdirFor()
    dir.write("project/MLproject", "name: p\nentry_points:\n  main:\n    parameters:\n      data: path\n    command: \"cat {data}\"\n")
    const run = await cli(["run", "project", "-P", `data=${origin.url.replace("http://", "http://frank:Path-Cr0ss@")}/d.csv`, "--json"], { cwd: dir.path })
    expect(logLines(run)).toEqual(["a,b"])
    expect(origin.requests.every((r) => r.headers.get("authorization") === `Basic ${btoa("frank:Path-Cr0ss")}`)).toBe(true)
    expect(target.requests.length).toBeGreaterThan(0)
    expect(target.requests.map((r) => r.headers.get("authorization")).filter(Boolean)).toEqual([])
  })

  test("a tracking server that redirects every call (307) to another origin", async () => {
    await using server = mlflowServer()
    await using origin = loopback((_, url) => new Response(null, { status: 307, headers: { location: `${server.url}${url.pathname}${url.search}` } }))
    await using dir = tmpdirFor()
    dir.write("project/MLproject", "name: p\nentry_points:\n  main:\n    command: \"echo tracked\"\n")
    const env = { MLFLOW_TRACKING_URI: origin.url, MLFLOW_TRACKING_TOKEN: "Track-Cr0ss-T0ken" }
    const run = await cli(["run", "project", "--json"], { cwd: dir.path, env })
    expect(run.events.at(-1)).toMatchObject({ type: "run.finished", status: "FINISHED" })
    expect(origin.requests.every((r) => r.headers.get("authorization") === "Bearer Track-Cr0ss-T0ken")).toBe(true)
    expect(server.requests.length).toBeGreaterThan(3)
    expect(server.requests.map((r) => r.headers.get("authorization")).filter(Boolean)).toEqual([])
  })

  test("a GitHub tarball: the token goes to the API, not to the download it redirects to", async () => {
    await using repo = gitRepo({ commits: 3 })
    const token = "ghp_CrossOriginT0ken"
    // codeload on its own origin, in front of the same repository.
    let codeloadUrl = ""
    await using api = githubApi({ repos: { "acme/proj": repo }, codeload: () => codeloadUrl })
    await using codeload = loopback(async (request, url) => fetch(`${api.url}${url.pathname}${url.search}`, { headers: request.headers }))
    codeloadUrl = codeload.url
    await using dir = tmpdirFor()
    const env = { GITHUB_API_URL: api.api, GITHUB_SERVER_URL: api.url, GITHUB_TOKEN: token }
    const run = await cli(["run", `${api.url}/acme/proj`, "--fetcher", "tarball", "--json"], { cwd: dir.path, env })
    expect(logLines(run)).toEqual(["3"])
    expect(api.requests.filter((r) => r.path.startsWith("/api/")).every((r) => r.authorization === `token ${token}`)).toBe(true)
    expect(codeload.requests.map((r) => r.path)).toEqual([expect.stringMatching(/^\/codeload\/acme\/proj\/legacy\.tar\.gz\//)])
    expect(codeload.requests.map((r) => r.headers.get("authorization"))).toEqual([null])
  })
})
