// `--build-image` through the binary: a credential in the project's Git URL, or in a local clone's .git/config, never reaches the image.
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { cli } from "../lib/cli.ts"
import { dockerSkipReason, removeImage, requireDocker, skipDocker, testImage } from "../lib/docker.ts"
import { gitRepo, sh } from "../lib/git.ts"
import { gitHttp } from "../lib/git-http.ts"
import { readRun } from "../lib/mlruns.ts"
import { encodings } from "../lib/secrets.ts"
import { tmpdirFor } from "../lib/tmp.ts"

if (skipDocker) test.skip(dockerSkipReason, () => {})

const timeout = 120_000

const mlproject = (image: string) =>
  `name: Image Secret\ndocker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: "cat .git/config"\n`

/** Every byte of the image: its files (a container's export, one flat tar) and its configuration and history. */
const imageBytes = async (image: string): Promise<Buffer> => {
  const docker = requireDocker()
  const created = await docker.request("POST", "/containers/create", { body: JSON.stringify({ Image: image, Cmd: ["true"] }), headers: { "content-type": "application/json" } })
  const { Id: id } = (await created.json()) as { Id: string }
  try {
    const exported = Buffer.from(await (await docker.request("GET", `/containers/${id}/export`)).arrayBuffer())
    const inspect = Buffer.from(await (await docker.request("GET", `/images/${encodeURIComponent(image)}/json`)).arrayBuffer())
    const history = Buffer.from(await (await docker.request("GET", `/images/${encodeURIComponent(image)}/history`)).arrayBuffer())
    return Buffer.concat([exported, inspect, history])
  } finally {
    await (await docker.request("DELETE", `/containers/${id}`, { query: { force: 1 } })).body?.cancel()
  }
}

const builtImage = (cwd: string, run: Awaited<ReturnType<typeof cli>>): string => {
  const done = run.events.at(-1) as unknown as { run_id: string }
  return readRun(join(cwd, "mlruns"), "0", done.run_id).tags["mlflow.docker.image.uri"] as string
}

describe.skipIf(skipDocker)("a built image carries no credential", () => {
  test("a project fetched from a Git URL with a short token", async () => {
    const base = await testImage("busybox")
    await using repo = gitRepo({ commits: 3, files: { MLproject: mlproject(base), "nonce.txt": crypto.randomUUID() } })
    const token = "Qm3Tz8Kp"
    await using server = gitHttp(repo.base, { auth: { user: token, password: "" } })
    await using work = tmpdirFor()
    const uri = `${server.url.replace("http://", `http://${token}@`)}/repo.git`
    const run = await cli(["run", uri, "--build-image", "--json"], { cwd: work.path, env: { MLPROJECT_HOME: join(work.path, "home") } })
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    const image = builtImage(work.path, run)
    try {
      // The image has the checkout's .git (as MLflow's has), with the remote but not the token.
      expect(run.events.filter((e) => e.type === "log").map((e) => e.line)).toContain(`\turl = "${server.url}/repo.git"`)
      const bytes = await imageBytes(image)
      expect(bytes.includes(`${server.url}/repo.git`)).toBe(true)
      for (const needle of encodings({ user: token })) expect({ needle, found: bytes.includes(needle) }).toEqual({ needle, found: false })
    } finally {
      await removeImage(image)
    }
  }, timeout)

  test("a local clone whose .git/config holds a token in its remote URL and an extraHeader", async () => {
    const base = await testImage("busybox")
    await using work = tmpdirFor()
    const project = join(work.path, "project")
    const token = "ghp_L0calCl0neT0ken42"
    const header = Buffer.from(`x-access-token:${token}`).toString("base64")
    work.write("project/MLproject", mlproject(base))
    work.write("project/nonce.txt", crypto.randomUUID())
    sh(["git", "init", "-q", project])
    sh(["git", "-C", project, "add", "."])
    sh(["git", "-C", project, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"])
    // What `git clone https://TOKEN@host/…` and a CI checkout's `http.extraHeader` leave behind.
    sh(["git", "-C", project, "remote", "add", "origin", `https://oauth2:${token}@git.example.com/team/project.git`])
    sh(["git", "-C", project, "config", "http.https://git.example.com/.extraheader", `AUTHORIZATION: basic ${header}`])
    const run = await cli(["run", "project", "--build-image", "--json"], { cwd: work.path })
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    const image = builtImage(work.path, run)
    try {
      const lines = run.events.filter((e) => e.type === "log").map((e) => e.line)
      expect(lines).toContain("\turl = https://git.example.com/team/project.git")
      expect(lines.join("\n")).not.toContain("extraheader")
      const bytes = await imageBytes(image)
      for (const needle of [...encodings({ user: "oauth2", password: token }), header]) expect({ needle, found: bytes.includes(needle) }).toEqual({ needle, found: false })
      // The user's own clone is left as it was.
      expect(sh(["git", "-C", project, "remote", "get-url", "origin"])).toContain(token)
    } finally {
      await removeImage(image)
    }
  }, timeout)
})
