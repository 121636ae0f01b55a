// Docker test fixtures: is a daemon here, a small base image built from this host's files, registries on loopback ports.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { connectDocker, expectOk, jsonLines, type DockerClient } from "../../src/util/docker-api.ts"
import { registryAuthHeaders } from "../../src/util/docker-auth.ts"
import { baseImageEntries } from "./docker-rootfs.ts"
import { tarStream } from "../../src/util/docker-tar.ts"

const connect = async (): Promise<DockerClient | null> => {
  try {
    return await connectDocker({ ...process.env, DOCKER_HOST: undefined })
  } catch {
    return null
  }
}

/** One client for the whole test run; null when no daemon answers on /var/run/docker.sock. */
export const testDocker: DockerClient | null = await connect()

/** Docker tests run when a daemon answers, and always under CI=true (where .ci/run starts one): there they fail, never skip. */
export const skipDocker = testDocker === null && !process.env.CI
export const dockerSkipReason = "no Docker daemon answers on /var/run/docker.sock: docker tests skipped (run scripts/ci/docker-setup.sh as root; CI always runs them)"
if (skipDocker) console.warn(`note: ${dockerSkipReason}`)

export const requireDocker = (): DockerClient => {
  if (!testDocker) throw new Error(`CI=true but ${dockerSkipReason}`)
  return testDocker
}

const imagePromises = new Map<string, Promise<string>>()

/**
 * A tiny image made of busybox-static (sh and the usual tools) and, unless `busybox`, bash and python3 from this host with
 * the libraries they link, imported through the API. Tagged by a hash of its inputs: built once per machine, not per test.
 */
export const testImage = (kind: "full" | "busybox" = "full"): Promise<string> => {
  const existing = imagePromises.get(kind)
  if (existing) return existing
  const building = (async () => {
    const docker = requireDocker()
    const { entries, key } = baseImageEntries(kind)
    const repo = `mlproject-test/${kind === "full" ? "base" : "busybox"}`
    const tag = `${repo}:${key}`
    const present = await docker.request("GET", `/images/${encodeURIComponent(tag)}/json`)
    await present.body?.cancel()
    if (present.ok) return tag
    const response = await docker.request("POST", "/images/create", {
      query: { fromSrc: "-", repo, tag: key, message: "mlproject test image" },
      headers: { "content-type": "application/x-tar" },
      body: tarStream(entries),
    })
    if (!response.ok) await expectOk(response, "docker.image", `importing ${tag}`)
    for await (const message of jsonLines(response.body)) if (message.error) throw new Error(`importing ${tag}: ${message.error}`)
    return tag
  })()
  imagePromises.set(kind, building)
  return building
}

/** Tags an image and pushes it, with credentials when the registry needs them. */
export const pushImage = async (source: string, target: string, credentials?: { username: string; password: string }) => {
  const docker = requireDocker()
  const colon = target.lastIndexOf(":")
  const [repo, tag] = [target.slice(0, colon), target.slice(colon + 1)]
  await expectOk(await docker.request("POST", `/images/${encodeURIComponent(source)}/tag`, { query: { repo, tag } }), "docker.api", `tagging ${target}`)
  const auth = credentials ? { ...credentials, serveraddress: repo.split("/")[0] as string } : null
  const response = await docker.request("POST", `/images/${encodeURIComponent(repo)}/push`, { query: { tag }, headers: registryAuthHeaders(auth) })
  if (!response.ok) await expectOk(response, "docker.api", `pushing ${target}`)
  for await (const message of jsonLines(response.body)) if (message.error) throw new Error(`pushing ${target}: ${message.error}`)
}

/** Removes a tag (the layers stay while another tag holds them). */
export const untag = async (image: string) => {
  const response = await requireDocker().request("DELETE", `/images/${encodeURIComponent(image)}`, { query: { noprune: 1 } })
  await response.body?.cancel()
}

/** Containers (running or not) that carry this run's label, or any other `name=value` label. */
export const containersOfRun = async (runId: string, label = `org.mlflow.run-id=${runId}`): Promise<string[]> => {
  const filters = JSON.stringify({ label: [label] })
  const response = await requireDocker().request("GET", "/containers/json", { query: { all: 1, filters } })
  return ((await response.json()) as Array<{ Id: string }>).map((c) => c.Id)
}

/** Imports a one-layer image holding only the given files (no shell): for registry round trips and odd base images. */
export const importFiles = async (tag: string, files: Record<string, string>): Promise<void> => {
  const colon = tag.lastIndexOf(":")
  const now = Math.floor(Date.now() / 1000)
  const entries = Object.entries(files).map(([name, text]) => ({ name, type: "file" as const, mode: 0o644, mtime: now, data: new TextEncoder().encode(text) }))
  const response = await requireDocker().request("POST", "/images/create", {
    query: { fromSrc: "-", repo: tag.slice(0, colon), tag: tag.slice(colon + 1) },
    headers: { "content-type": "application/x-tar" },
    body: tarStream(entries),
  })
  if (!response.ok) await expectOk(response, "docker.image", `importing ${tag}`)
  for await (const message of jsonLines(response.body)) if (message.error) throw new Error(`importing ${tag}: ${message.error}`)
}

/** Removes every image of a repository (`bench`, `build-test`…): what runs through the binary built. */
export const removeRepository = async (repository: string) => {
  const filters = JSON.stringify({ reference: [repository] })
  const response = await requireDocker().request("GET", "/images/json", { query: { filters } })
  for (const image of (await response.json()) as Array<{ RepoTags?: string[] }>) {
    for (const tag of image.RepoTags ?? []) if (tag.startsWith(`${repository}:`)) await removeImage(tag)
  }
}

/** Removes an image by name or id, whatever tags it has. */
export const removeImage = async (image: string) => {
  const response = await requireDocker().request("DELETE", `/images/${encodeURIComponent(image)}`, { query: { force: 1 } })
  await response.body?.cancel()
}

const freePort = (): number => {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const port = server.port
  server.stop(true)
  return port
}

export type Registry = { host: string; [Symbol.asyncDispose](): Promise<void> }

/** Debian's docker-registry on 127.0.0.1 and a free port; with `auth`, htpasswd (bcrypt) protects it. */
export const startRegistry = async (auth?: { username: string; password: string }): Promise<Registry> => {
  const dir = mkdtempSync(join(tmpdir(), "mlproject-registry-"))
  const port = freePort()
  const lines = ["version: 0.1", "log: {level: error}", `storage: {filesystem: {rootdirectory: ${dir}/data}, delete: {enabled: true}}`]
  lines.push(`http: {addr: "127.0.0.1:${port}", secret: mlproject-test}`)
  if (auth) {
    writeFileSync(join(dir, "htpasswd"), `${auth.username}:${await Bun.password.hash(auth.password, { algorithm: "bcrypt", cost: 4 })}\n`)
    lines.push(`auth: {htpasswd: {realm: mlproject-test, path: ${dir}/htpasswd}}`)
  }
  mkdirSync(join(dir, "data"))
  writeFileSync(join(dir, "config.yml"), `${lines.join("\n")}\n`)
  const program = ["/usr/bin/docker-registry", "/usr/bin/registry"].find((path) => existsSync(path))
  if (!program) throw new Error("docker-registry is not installed: run scripts/ci/docker-setup.sh")
  const child = Bun.spawn([program, "serve", join(dir, "config.yml")], { stdout: "ignore", stderr: "pipe" })
  const host = `127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    const answered = await fetch(`http://${host}/v2/`).then((r) => r.status, () => 0)
    if (answered === 200 || answered === 401) break
    if (i > 100 || child.exitCode !== null) throw new Error(`the registry on ${host} did not start: ${await new Response(child.stderr).text()}`)
    await Bun.sleep(50)
  }
  return {
    host,
    async [Symbol.asyncDispose]() {
      child.kill()
      await child.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
