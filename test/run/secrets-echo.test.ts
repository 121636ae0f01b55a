// Servers that echo the request in their error bodies, through the binary: no credential of the request reaches a message or an event.
import { describe, expect, test } from "bun:test"
import { cli, type CliResult } from "../lib/cli.ts"
import { loopback } from "../lib/loopback.ts"
import { encodings } from "../lib/secrets.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

/** Answers `status` with the request's headers (as httpbin shows them, Basic credentials decoded too) in its body. */
const echoServer = (status: number, shape: (echo: string) => string | object = (echo) => echo) =>
  loopback((request) => {
    const headers = Object.fromEntries(request.headers)
    const basic = /^basic\s+(\S+)$/i.exec(headers.authorization ?? "")?.[1]
    const decoded = basic ? Buffer.from(basic, "base64").toString("utf8") : ""
    // The credential first, so no length limit on a quoted body cuts it off.
    const echo = JSON.stringify({ authorization: headers.authorization, decoded, encoded: encodeURIComponent(decoded), headers })
    const body = shape(echo)
    return typeof body === "string" ? new Response(body, { status }) : Response.json(body, { status })
  })

const project = (dir: TmpDir) =>
  dir.write("project/MLproject", "name: echo\nentry_points:\n  main:\n    parameters:\n      data: {type: path, default: project/MLproject}\n    command: \"echo ran\"\n")

/** The whole output of a failed `--json` run (events, stderr) holds none of `needles`; the run failed with `code`. */
const expectClean = (run: CliResult, code: string, needles: string[]) => {
  expect(run.events.at(-1)).toMatchObject({ type: "error", code })
  for (const needle of needles) {
    expect({ needle, stdout: run.stdout.includes(needle), stderr: run.stderr.includes(needle) }).toEqual({ needle, stdout: false, stderr: false })
  }
  return run.events.at(-1) as unknown as { message: string }
}

describe("an error body that echoes the request's headers", () => {
  test("an archive download: credentials from the URL", async () => {
    await using server = echoServer(400)
    await using dir = tmpdirFor()
    const credential = { user: "alice", password: "Arch1ve-pass/9x", raw: "alice:Arch1ve-pass%2F9x" }
    const run = await cli(["run", `${server.url.replace("http://", `http://${credential.raw}@`)}/p.tar.gz`, "--json"], { cwd: dir.path })
    expect(server.requests[0]?.headers.get("authorization")).toStartWith("Basic ")
    expectClean(run, "source.archive.download", encodings(credential))
  })

  test("a `path` parameter download: credentials from the URL", async () => {
    await using server = echoServer(400)
    await using dir = tmpdirFor()
    project(dir)
    const credential = { user: "bob", password: "PathP@ss-7y", raw: "bob:PathP%40ss-7y" }
    const run = await cli(["run", "project", "-P", `data=${server.url.replace("http://", `http://${credential.raw}@`)}/data.csv`, "--json"], { cwd: dir.path })
    expect(server.requests[0]?.headers.get("authorization")).toStartWith("Basic ")
    const error = expectClean(run, "storage.failed", encodings(credential))
    // The body is still quoted (it is the server's reason), its credential masked.
    expect(error.message).toContain('"authorization":"Basic ***"')
  })

  test.each([
    ["basic auth (MLFLOW_TRACKING_USERNAME/PASSWORD)", { MLFLOW_TRACKING_USERNAME: "carol", MLFLOW_TRACKING_PASSWORD: "Track1ng-Secret" }, { user: "carol", password: "Track1ng-Secret" }],
    ["a bearer token (MLFLOW_TRACKING_TOKEN)", { MLFLOW_TRACKING_TOKEN: "mlflow-T0ken-xyz" }, { user: "mlflow-T0ken-xyz" }],
  ])("a tracking server, %s", async (_, variables, credential) => {
    await using server = echoServer(400, (echo) => ({ error_code: "INVALID_PARAMETER_VALUE", message: echo }))
    await using dir = tmpdirFor()
    project(dir)
    const env = { MLFLOW_TRACKING_URI: server.url, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0", ...variables }
    const run = await cli(["run", "project", "--json"], { cwd: dir.path, env })
    expect(server.requests[0]?.headers.get("authorization"), run.stdout).toBeTruthy()
    const error = expectClean(run, "tracking.server", encodings(credential))
    expect(error.message).toContain("INVALID_PARAMETER_VALUE")
  })

  test.each<[string, (url: string) => string, Record<string, string>, { user: string; password?: string }]>([
    ["GITHUB_TOKEN", (url: string) => url, { GITHUB_TOKEN: "ghp_EchoT0kenFromEnv" }, { user: "ghp_EchoT0kenFromEnv" }],
    ["a token in the URL", (url: string) => url.replace("http://", "http://dave:ghp_EchoT0kenInUrl@"), {}, { user: "dave", password: "ghp_EchoT0kenInUrl" }],
  ])("the GitHub API, %s", async (_, uri, variables, credential) => {
    await using server = echoServer(400, (echo) => ({ message: echo }))
    await using dir = tmpdirFor()
    const env = { GITHUB_API_URL: `${server.url}/api/v3`, GITHUB_SERVER_URL: server.url, ...variables }
    const run = await cli(["run", uri(`${server.url}/acme/proj`), "--fetcher", "tarball", "--json"], { cwd: dir.path, env })
    expect(server.requests[0]?.headers.get("authorization")).toContain(credential.password ?? credential.user)
    expectClean(run, "source.github.api", encodings(credential))
  })
})
