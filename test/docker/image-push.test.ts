// Pushing project images to a real htpasswd registry (skipped when the registry has the tag), and the Bearer token flow.
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { buildProjectImage, type DockerEvent } from "../../src/env/docker-image.ts"
import { pushImage } from "../../src/env/image-push.ts"
import type { ToolError } from "../../src/errors.ts"
import type { Event } from "../../src/events/event.ts"
import type { DockerClient } from "../../src/util/docker-api.ts"
import { manifestAccept, parseChallenge } from "../../src/util/registry-api.ts"
import { httpLimits } from "../../src/util/http-limits.ts"
import { dockerSkipReason, importFiles, pushImage as forcePush, removeImage, requireDocker, skipDocker, startRegistry, testImage } from "../lib/docker.ts"
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
const basic = (username: string, password: string) => Buffer.from(`${username}:${password}`).toString("base64")

describe("WWW-Authenticate challenges", () => {
  const table: Array<[string | null, ReturnType<typeof parseChallenge>]> = [
    ['Basic realm="Registry Realm"', { scheme: "basic" }],
    ["basic", { scheme: "basic" }],
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
      { scheme: "bearer", realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/ubuntu:pull" },
    ],
    // A scope with several actions holds a comma inside its quotes; parameters may come in any order, case and spacing.
    ['bearer scope="repository:a/b:pull,push", Realm="http://127.0.0.1:1/t"', { scheme: "bearer", realm: "http://127.0.0.1:1/t", scope: "repository:a/b:pull,push" }],
    ["Bearer realm=http://h/token,service=h", { scheme: "bearer", realm: "http://h/token", service: "h" }],
    ['Bearer service="h"', null],
    ['Negotiate abc', null],
    ["", null],
    [null, null],
  ]
  for (const [header, expected] of table) test(`${JSON.stringify(header)}`, () => expect(parseChallenge(header)).toEqual(expected))
})

/** A daemon that knows one local image and nothing else: the registry look-up alone decides, no push can happen. */
const stubDocker = (repoDigests: string[] = []): DockerClient => ({
  host: "stub",
  apiVersion: "1.45",
  limits: httpLimits({}),
  request: async (method, path) => {
    if (method === "GET" && path.startsWith("/images/")) return Response.json({ Id: "sha256:local", RepoDigests: repoDigests })
    throw new Error(`unexpected daemon call ${method} ${path}`)
  },
})

describe("a Bearer token registry (a loopback fake with its token realm)", () => {
  const digest = `sha256:${"ab".repeat(32)}`
  const fake = (secret: { username?: string; password?: string; refresh?: string }) => {
    const seen: string[] = []
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        const url = new URL(request.url)
        seen.push(`${request.method} ${url.pathname}`)
        if (url.pathname === "/token") {
          const form = request.method === "POST" ? new URLSearchParams(await request.text()) : null
          const ok = form
            ? form.get("grant_type") === "refresh_token" && form.get("refresh_token") === secret.refresh
            : request.headers.get("authorization") === `Basic ${basic(secret.username ?? "", secret.password ?? "")}`
          const scope = form?.get("scope") ?? url.searchParams.get("scope")
          if (!ok || scope !== "repository:team/proj:pull") return new Response("no", { status: 401 })
          return Response.json(form ? { access_token: "tok-123" } : { token: "tok-123" })
        }
        if (request.headers.get("authorization") !== "Bearer tok-123") {
          const realm = `http://${url.host}/token`
          return new Response(null, { status: 401, headers: { "www-authenticate": `Bearer realm="${realm}",service="fake",scope="repository:team/proj:pull"` } })
        }
        if (url.pathname !== "/v2/team/proj/manifests/v1" || !request.headers.get("accept")?.includes("oci.image.index")) return new Response(null, { status: 404 })
        return new Response(null, { headers: { "docker-content-digest": digest } })
      },
    })
    return { host: `127.0.0.1:${server.port}`, seen, [Symbol.asyncDispose]: async () => void server.stop(true) }
  }

  test("a password by Basic to the realm, the token on the retry: the tag is there, nothing is pushed", async () => {
    await using registry = fake({ username: "bob", password: "s3cret-pw" })
    await using config = tmpdirFor()
    config.write("config.json", JSON.stringify({ auths: { [registry.host]: { auth: basic("bob", "s3cret-pw") } } }))
    const { events, emit } = collector()
    const result = await pushImage(`${registry.host}/team/proj:v1`, { docker: stubDocker(), env: { DOCKER_CONFIG: config.path }, emit })
    expect(result).toMatchObject({ uri: `${registry.host}/team/proj@${digest}`, digest, pushed: false })
    expect(registry.seen).toEqual(["HEAD /v2/team/proj/manifests/v1", "GET /token", "HEAD /v2/team/proj/manifests/v1"])
    expect(events.map((e) => e.type)).toEqual(["image.push.started", "image.push.done"])
  })

  test("an identity token is a refresh token; a refused password is docker.push.denied and never shown", async () => {
    await using registry = fake({ refresh: "refresh-xyz", username: "bob", password: "right" })
    await using config = tmpdirFor()
    const image = `${registry.host}/team/proj:v1`
    config.write("config.json", JSON.stringify({ auths: { [registry.host]: { identitytoken: "refresh-xyz" } } }))
    expect((await pushImage(image, { docker: stubDocker(), env: { DOCKER_CONFIG: config.path }, emit: () => {} })).digest).toBe(digest)
    config.write("config.json", JSON.stringify({ auths: { [registry.host]: { auth: basic("bob", "wrong-pw-42") } } }))
    const denied = await failure(pushImage(image, { docker: stubDocker(), env: { DOCKER_CONFIG: config.path }, emit: () => {} }))
    expect(denied.code).toBe("docker.push.denied")
    expect(denied.hint).toContain(`docker login ${registry.host}`)
    expect(`${denied.message} ${denied.hint}`).not.toContain("wrong-pw-42")
  })
})

test("an interrupt during the registry look-up stops the push: run.interrupted, exit 130", async () => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Bun.sleep(10_000).then(() => new Response(null, { status: 404 })) })
  try {
    const interrupt = new AbortController()
    setTimeout(() => interrupt.abort("SIGINT"), 100)
    const started = performance.now()
    const error = await failure(pushImage(`127.0.0.1:${server.port}/team/proj:v1`, { docker: stubDocker(), env: {}, emit: () => {}, signal: interrupt.signal }))
    expect([error.code, error.exitCode]).toEqual(["run.interrupted", 130])
    expect(performance.now() - started).toBeLessThan(5_000)
  } finally {
    server.stop(true)
  }
})

if (skipDocker) test.skip(dockerSkipReason, () => {})

const timeout = 90_000

/** What the registry itself says the tag's digest is, asked with Basic auth. */
const registryDigest = async (host: string, path: string, tag: string, user: { username: string; password: string }): Promise<string | null> => {
  const response = await fetch(`http://${host}/v2/${path}/manifests/${tag}`, {
    method: "HEAD",
    headers: { accept: manifestAccept, authorization: `Basic ${basic(user.username, user.password)}` },
  })
  return response.ok ? response.headers.get("docker-content-digest") : null
}

const tagImage = async (source: string, target: string) => {
  const colon = target.lastIndexOf(":")
  const response = await requireDocker().request("POST", `/images/${encodeURIComponent(source)}/tag`, { query: { repo: target.slice(0, colon), tag: target.slice(colon + 1) } })
  expect(response.status).toBe(201)
}

describe.skipIf(skipDocker)("pushing to an htpasswd registry", () => {
  test("a built image tagged in its repository is pushed with its registry digest; the same tag again is not sent", async () => {
    const user = { username: "alice", password: `pw-${unique()}` }
    await using registry = await startRegistry(user)
    await using config = tmpdirFor()
    await using project = tmpdirFor()
    config.write("config.json", JSON.stringify({ auths: { [registry.host]: { auth: basic(user.username, user.password) } } }))
    project.write("train.py", `print("${unique()}")\n`)
    const env = { ...process.env, DOCKER_CONFIG: config.path }
    const { events, emit } = collector()
    const context = { docker: requireDocker(), env, emit }
    const repository = `${registry.host}/team/proj`
    const built = await buildProjectImage({ baseImage: await testImage("busybox"), projectDir: project.path, projectName: "ignored", repository }, context)
    const other = `mlproject-test/other:${unique()}`
    try {
      expect(built.uri).toMatch(new RegExp(`^${repository.replaceAll(".", "\\.")}:[0-9a-f]{16}$`))
      const tag = built.uri.slice(repository.length + 1)
      const first = await pushImage(built.uri, context)
      expect(first.pushed).toBe(true)
      expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(first.digest).toBe((await registryDigest(registry.host, "team/proj", tag, user)) as string)
      expect(first.uri).toBe(`${repository}@${first.digest}`)
      expect(events.some((e) => e.type === "progress" && e.task === `push ${built.uri}`)).toBe(true)
      expect(events.filter((e) => e.type.startsWith("image.push"))).toEqual([
        { type: "image.push.started", image: built.uri, registry: registry.host },
        { type: "image.push.done", image: built.uri, digest: first.digest, pushed: true, ms: first.ms },
      ])

      // The tag now names other content locally (never pushed here): a push would move the registry's tag to it.
      await importFiles(other, { marker: unique() })
      await tagImage(other, built.uri)
      events.length = 0
      const second = await pushImage(built.uri, context)
      expect([second.pushed, second.digest]).toEqual([false, first.digest])
      expect(await registryDigest(registry.host, "team/proj", tag, user)).toBe(first.digest)
      expect(events.some((e) => e.type === "progress")).toBe(false)
    } finally {
      await removeImage(built.uri)
      await removeImage(other)
    }
  }, timeout)

  test("a tag moved in the registry (the daemon knows other digests of the repository) is pushed again", async () => {
    const user = { username: "alice", password: `pw-${unique()}` }
    await using registry = await startRegistry(user)
    await using config = tmpdirFor()
    config.write("config.json", JSON.stringify({ auths: { [registry.host]: { auth: basic(user.username, user.password) } } }))
    const context = { docker: requireDocker(), env: { ...process.env, DOCKER_CONFIG: config.path }, emit: () => {} }
    const [a, b, target] = [`mlproject-test/a:${unique()}`, `mlproject-test/b:${unique()}`, `${registry.host}/team/moved:latest`]
    await importFiles(a, { marker: `a-${unique()}` })
    await importFiles(b, { marker: `b-${unique()}` })
    try {
      await tagImage(a, target)
      const first = await pushImage(target, context)
      await forcePush(b, target, user)
      await tagImage(a, target)
      const again = await pushImage(target, context)
      expect([again.pushed, again.digest]).toEqual([true, first.digest])
      expect(await registryDigest(registry.host, "team/moved", "latest", user)).toBe(first.digest)
    } finally {
      for (const image of [a, b, target]) await removeImage(image)
    }
  }, timeout)

  test("wrong password, no credentials: docker.push.denied with the docker login hint; a credential helper works", async () => {
    const user = { username: "alice", password: `pw-${unique()}` }
    await using registry = await startRegistry(user)
    await using config = tmpdirFor()
    const image = `${registry.host}/private/img:${unique()}`
    await importFiles(image, { marker: unique() })
    const env: Record<string, string | undefined> = { ...process.env, DOCKER_CONFIG: config.path }
    const context = { docker: requireDocker(), env, emit: () => {} }
    try {
      const none = await failure(pushImage(image, context))
      expect([none.code, none.exitCode]).toEqual(["docker.push.denied", 1])
      expect(none.hint).toContain(`docker login ${registry.host}`)
      expect(none.hint).toContain("no credentials")

      config.write("config.json", JSON.stringify({ auths: { [registry.host]: { auth: basic(user.username, "Wr0ngPassw0rd") } } }))
      const wrong = await failure(pushImage(image, context))
      expect(wrong.code).toBe("docker.push.denied")
      expect(wrong.hint).toContain("were refused")
      expect(`${wrong.message} ${wrong.hint}`).not.toContain("Wr0ngPassw0rd")
      expect(await registryDigest(registry.host, "private/img", image.split(":").at(-1) as string, user)).toBeNull()

      const helper = config.write("bin/docker-credential-test", `#!/bin/sh\nread server\nprintf '{"ServerURL":"%s","Username":"${user.username}","Secret":"${user.password}"}' "$server"\n`)
      Bun.spawnSync(["chmod", "+x", helper])
      config.write("config.json", JSON.stringify({ credHelpers: { [registry.host]: "test" } }))
      const viaHelper = await pushImage(image, { ...context, env: { ...env, PATH: `${join(config.path, "bin")}:${env.PATH}` } })
      expect(viaHelper.pushed).toBe(true)
      expect(viaHelper.digest).toBe((await registryDigest(registry.host, "private/img", image.split(":").at(-1) as string, user)) as string)
    } finally {
      await removeImage(image)
    }
  }, timeout)

  test("an unreachable registry names itself", async () => {
    const image = `127.0.0.1:1/team/gone:${unique()}`
    await importFiles(image, { marker: unique() })
    try {
      const error = await failure(pushImage(image, { docker: requireDocker(), env: { ...process.env }, emit: () => {} }))
      expect(error.code).toBe("http.unreachable")
      expect(error.message).toStartWith("cannot reach the registry 127.0.0.1:1")
      expect(error.hint).toContain("127.0.0.1:1")
    } finally {
      await removeImage(image)
    }
  }, timeout)
})
