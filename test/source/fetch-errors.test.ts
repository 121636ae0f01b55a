// Fetch failures a new user meets, through the binary: a .zip that is no zip, a Git server that cannot be reached (git's reason kept).
import { describe, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { tar } from "../lib/archives.ts"
import { cli } from "../lib/cli.ts"
import { freePort } from "../lib/git.ts"
import { loopback } from "../lib/loopback.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const errorOf = (result: Awaited<ReturnType<typeof cli>>) => result.events.at(-1) as Record<string, string>

describe("a .zip that is not a zip", () => {
  test.each([
    ["text", "this is not an archive\n", "it does not start with a zip signature (PK)"],
    ["an HTML error page", "<!DOCTYPE html><html><body>404</body></html>", "it is an HTML or XML page, not a zip"],
    ["an empty file", "", "the file is empty"],
  ])("%s says 'not a readable zip archive' (never tar)", async (_, content, detail) => {
    await using dir = tmpdirFor()
    const file = dir.write("project.zip", content)
    const result = await cli(["run", "project.zip", "--json"], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(errorOf(result)).toMatchObject({ type: "error", code: "source.archive.invalid", message: `${file} is not a readable zip archive: ${detail}` })
  })

  test("over http(s) too, and a tar.gz merely named .zip is still read by its content", async () => {
    await using dir = tmpdirFor()
    const packed = tar([{ name: "MLproject", data: "name: packed\nentry_points:\n  main:\n    command: 'true'\n" }], true)
    await using server = loopback((_, url) => (url.pathname === "/page.zip" ? new Response("<html>login</html>", { headers: { "content-type": "text/html" } }) : new Response(packed)))
    const page = await cli(["validate", `${server.url}/page.zip`, "--json"], { cwd: dir.path })
    expect(page.code).toBe(2)
    expect(errorOf(page).message).toBe(`${server.url}/page.zip is not a readable zip archive: it is an HTML or XML page, not a zip`)
    const renamed = await cli(["validate", `${server.url}/really-a-tgz.zip`, "--json"], { cwd: dir.path })
    expect(renamed.code, renamed.stdout).toBe(0)
    expect(renamed.events.find((e) => e.type === "project.validated")).toMatchObject({ ok: true })
  })

  test("the text view says the same", async () => {
    await using dir = tmpdirFor()
    dir.write("p.zip", "hello")
    const result = await cli(["validate", join(dir.path, "p.zip")])
    expect(result.stderr).toContain("is not a readable zip archive")
    expect(result.stderr).not.toContain("tar archive")
  })
})

describe("a Git server that cannot be reached keeps git's reason", () => {
  test("git:// to a closed port: Connection refused", async () => {
    const uri = `git://127.0.0.1:${freePort()}/repo.git`
    const result = await cli(["validate", uri, "--json"])
    expect(result.code).toBe(1)
    expect(errorOf(result)).toMatchObject({ code: "source.git.unreachable", message: `cannot reach git repo ${uri}: unable to connect to 127.0.0.1: Connection refused` })
  })

  test("ssh:// to a closed port: ssh's own line, not only 'Could not read from remote repository'", async () => {
    const port = freePort()
    const uri = `ssh://git@127.0.0.1:${port}/repo.git`
    const result = await cli(["validate", uri, "--json"], { env: { GIT_SSH_COMMAND: "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null" } })
    expect(result.code).toBe(1)
    expect(errorOf(result).code).toBe("source.git.unreachable")
    expect(errorOf(result).message).toContain(`ssh: connect to host 127.0.0.1 port ${port}: Connection refused`)
  })

  test("a host that does not resolve: the resolver's words, as an unreachable server (exit 1)", async () => {
    const result = await cli(["validate", "git://host.invalid/repo.git", "--json"])
    expect(result.code).toBe(1)
    expect(errorOf(result).code).toBe("source.git.unreachable")
    expect(errorOf(result).message).toMatch(/^cannot reach git repo git:\/\/host\.invalid\/repo\.git: unable to look up host\.invalid .*\((Name or service not known|.*not known.*|Temporary failure in name resolution)\)$/)
  })
})

describe("a failed fetch records nothing, though the store's code loads while it waits", () => {
  test.each([
    ["sqlite", (dir: string) => `sqlite:///${join(dir, "mlflow.db")}`, "mlflow.db"],
    ["a file store", (dir: string) => `file://${join(dir, "mlruns")}`, "mlruns"],
  ])("%s: no database or mlruns folder appears", async (_, uriOf, made) => {
    await using dir = tmpdirFor()
    const uri = `git://127.0.0.1:${freePort()}/repo.git`
    const result = await cli(["run", uri, "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: uriOf(dir.path) } })
    expect(result.code).toBe(1)
    expect(errorOf(result).code).toBe("source.git.unreachable")
    expect(existsSync(join(dir.path, made))).toBe(false)
  })
})
