// Images against the real daemon and registries: pulls with credentials, denials, missing images, build failures, TLS, no daemon.
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { buildProjectImage, ensureImage, inspectImage, prepareDockerImage, type DockerEvent } from "../../src/env/docker-image.ts"
import type { DockerPlan } from "../../src/env/docker.ts"
import type { ToolError } from "../../src/errors.ts"
import type { Event } from "../../src/events/event.ts"
import { connectDocker } from "../../src/util/docker-api.ts"
import { containersOfRun, dockerSkipReason, importFiles, pushImage, removeImage, requireDocker, skipDocker, startRegistry, testImage } from "../lib/docker.ts"
import { runInDocker } from "../lib/docker-run.ts"
import { tlsDaemon } from "../lib/docker-tls.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const failure = async (promise: Promise<unknown>): Promise<ToolError> => {
  try {
    await promise
  } catch (error) {
    return error as ToolError
  }
  throw new Error("expected a failure")
}

const collector = () => {
  const events: Array<Event | DockerEvent> = []
  return { events, emit: (event: Event | DockerEvent) => void events.push(event) }
}

const unique = () => crypto.randomUUID().slice(0, 8)

test("a daemon that does not answer is a clear error: the address, and how to start one or point DOCKER_HOST elsewhere", async () => {
  const error = await failure(connectDocker({ DOCKER_HOST: "unix:///tmp/mlproject-no-such-daemon.sock" }))
  expect(error.code).toBe("docker.daemon")
  expect(error.exitCode).toBe(1)
  expect(error.message).toStartWith("cannot reach the Docker daemon at unix:///tmp/mlproject-no-such-daemon.sock")
  expect(error.hint).toContain("dockerd")
  expect(error.hint).toContain("DOCKER_HOST")
  const tcp = await failure(connectDocker({ DOCKER_HOST: "tcp://127.0.0.1:1" }))
  expect(tcp.message).toStartWith("cannot reach the Docker daemon at tcp://127.0.0.1:1")
})

if (skipDocker) test.skip(dockerSkipReason, () => {})

// Containers, builds and pulls take seconds on a loaded machine; bun's default is 5 s.
const timeout = 60_000

describe.skipIf(skipDocker)("images from registries", () => {
  test("an absent image is pulled (progress shown), a present one is used as is; a missing one is not_found (exit 2)", async () => {
    await using registry = await startRegistry()
    const image = `${registry.host}/open/tiny:${unique()}`
    await importFiles(image, { marker: unique() })
    await pushImage(image, image)
    await removeImage(image)
    const { events, emit } = collector()
    const context = { docker: requireDocker(), env: process.env, emit }
    const pulled = await ensureImage(image, context)
    // Plain assertions: bun's toMatchObject writes asymmetric matchers back into the object it checks.
    expect([pulled.uri, pulled.cached]).toEqual([image, false])
    expect(pulled.id).toMatch(/^sha256:/)
    expect(events[0]).toEqual({ type: "image.pull.started", image })
    expect(events.some((e) => e.type === "progress" && e.task === `pull ${image}`)).toBe(true)
    expect(events.at(-1)).toMatchObject({ type: "image.pull.done", image, id: pulled.id })
    expect(await ensureImage(image, context)).toEqual({ ...pulled, cached: true })
    await removeImage(image)
    const missing = await failure(ensureImage(`${registry.host}/open/absent:1`, context))
    expect(missing.code).toBe("docker.image.not_found")
    expect(missing.exitCode).toBe(2)
    expect(missing.message).toContain(`${registry.host}/open/absent:1`)
  }, timeout)

  test("an htpasswd registry: credentials from ~/.docker/config.json auths, or a credential helper; none or wrong ones are denied", async () => {
    const user = { username: "alice", password: `pw-${unique()}` }
    await using registry = await startRegistry(user)
    await using home = tmpdirFor()
    const image = `${registry.host}/private/base:${unique()}`
    await pushImage(await testImage("busybox"), image, user)
    await removeImage(image)
    const env: Record<string, string | undefined> = { ...process.env, HOME: home.path }
    const context = { docker: requireDocker(), env, emit: collector().emit }

    const denied = await failure(ensureImage(image, context))
    expect(denied.code).toBe("docker.pull.denied")
    expect(denied.exitCode).toBe(1)
    expect(denied.hint).toContain(`no credentials for ${registry.host}`)

    const auth = (password: string) => Buffer.from(`${user.username}:${password}`).toString("base64")
    home.write(".docker/config.json", JSON.stringify({ auths: { [registry.host]: { auth: auth("wrong") } } }))
    const refused = await failure(ensureImage(image, context))
    expect(refused.code).toBe("docker.pull.denied")
    expect(refused.hint).toContain("were refused")
    expect(`${refused.message} ${refused.hint}`).not.toContain("wrong")

    home.write(".docker/config.json", JSON.stringify({ auths: { [`http://${registry.host}`]: { auth: auth(user.password) } } }))
    const pulled = await ensureImage(image, context)
    expect(pulled.cached).toBe(false)
    const run = await runInDocker({ projectDir: home.path, docker: { image }, command: "echo pulled and ran", env })
    expect(run.stdout).toEqual(["pulled and ran"])
    await removeImage(image)

    const helper = home.write("bin/docker-credential-test", `#!/bin/sh\nread server\nprintf '{"ServerURL":"%s","Username":"${user.username}","Secret":"${user.password}"}' "$server"\n`)
    Bun.spawnSync(["chmod", "+x", helper])
    home.write(".docker/config.json", JSON.stringify({ credHelpers: { [registry.host]: "test" } }))
    const viaHelper = await ensureImage(image, { ...context, env: { ...env, PATH: `${join(home.path, "bin")}:${env.PATH}` } })
    expect(viaHelper.cached).toBe(false)
    await removeImage(image)
  }, timeout)
})

describe.skipIf(skipDocker)("failures and transports", () => {
  test("a build that fails reports the builder's message", async () => {
    const base = `mlproject-test/odd-base:${unique()}`
    // /mlflow is a file in this base, so COPY into /mlflow/projects/code cannot succeed.
    await importFiles(base, { mlflow: "not a directory" })
    await using dir = tmpdirFor()
    dir.write("train.py", "print(1)\n")
    const { events, emit } = collector()
    const error = await failure(buildProjectImage({ baseImage: base, projectDir: dir.path, projectName: "odd" }, { docker: requireDocker(), env: process.env, emit }))
    expect(error.code).toBe("docker.build")
    expect(error.exitCode).toBe(1)
    expect(error.message).toStartWith(`building odd:`)
    expect(error.message).toMatch(/not a directory/i)
    expect(events.some((e) => e.type === "image.build.output" && e.line.includes("COPY code/"))).toBe(true)
    await removeImage(base)
  }, timeout)

  test("an interrupt while the build context is sent stops the build: run.interrupted, exit 130", async () => {
    await using dir = tmpdirFor()
    dir.write("train.py", crypto.randomUUID())
    // A large sparse file: cheap on disk, but the context takes long enough to send that the interrupt lands mid-build.
    Bun.spawnSync(["truncate", "-s", "400M", join(dir.path, "big.bin")])
    const interrupt = new AbortController()
    const emit = (event: Event | DockerEvent) => void (event.type === "image.build.started" && setTimeout(() => interrupt.abort("SIGINT"), 50))
    const plan = { image: await testImage(), projectDir: dir.path, projectName: "interrupted", buildImage: true } as DockerPlan
    const started = performance.now()
    const error = await failure(prepareDockerImage(plan, { docker: requireDocker(), env: process.env, emit, signal: interrupt.signal }))
    expect(error.code).toBe("run.interrupted")
    expect(error.exitCode).toBe(130)
    expect(performance.now() - started).toBeLessThan(20_000)
  }, timeout)

  test("-A gpus on a daemon without a GPU runtime fails at start with the daemon's reason, and no container is left", async () => {
    const probe = `probe=${unique()}`
    const error = await failure(runInDocker({ projectDir: "/tmp", docker: { image: await testImage() }, command: "true", dockerArgs: [["gpus", "all"], ["label", probe]] }))
    expect(error.code).toBe("docker.start")
    expect(error.message).toMatch(/gpu|device driver/i)
    expect(await containersOfRun("", probe)).toEqual([])
  }, timeout)

  test("tcp:// with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: a run goes through a mutual-TLS front to the daemon", async () => {
    await using daemon = await tlsDaemon()
    const docker = await connectDocker({ DOCKER_HOST: daemon.host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: daemon.certDir })
    expect(docker.host).toBe(daemon.host)
    const run = await runInDocker({ client: docker, projectDir: "/tmp", docker: { image: await testImage() }, command: "echo over tls" })
    expect(run.stdout).toEqual(["over tls"])
    expect(daemon.requests).toContain(`POST /v${docker.apiVersion}/containers/create`)
    // The CA alone is not enough: the proxy demands the client certificate that DOCKER_CERT_PATH holds.
    await using empty = tmpdirFor()
    Bun.spawnSync(["cp", join(daemon.certDir, "ca.pem"), empty.path])
    const refused = await failure(connectDocker({ DOCKER_HOST: daemon.host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: empty.path }))
    expect(refused.code).toBe("docker.daemon")
    expect(await inspectImage(docker, await testImage())).not.toBeNull()
  }, timeout)
})
