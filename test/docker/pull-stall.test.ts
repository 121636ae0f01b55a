// An image pull from a registry that stalls, through the compiled binary: an interrupt stops it (exit 130, KILLED),
// and with no interrupt the idle timeout ends it with a clear error (the daemon itself would wait for ever).
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { cli, liveCli } from "../lib/cli.ts"
import { dockerSkipReason, skipDocker } from "../lib/docker.ts"
import { readRun } from "../lib/mlruns.ts"
import { patientServer } from "../lib/stall.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

if (skipDocker) test.skip(dockerSkipReason, () => {})

/** A registry that answers the version check and then takes every request without answering it. */
const stallingRegistry = () =>
  patientServer((_request, url) => {
    if (url.pathname === "/v2/") return new Response("{}", { headers: { "docker-distribution-api-version": "registry/2.0", "content-type": "application/json" } })
    return new Promise<Response>(() => {})
  })

const dockerProject = (dir: TmpDir, image: string) => dir.write("project/MLproject", `docker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: echo never\n`)

const manifestAsked = async (registry: ReturnType<typeof stallingRegistry>) => {
  for (let i = 0; i < 400 && !registry.requests.some((r) => r.path.includes("/manifests/")); i++) await Bun.sleep(25)
  expect(registry.requests.some((r) => r.path.includes("/manifests/"))).toBe(true)
}

describe.skipIf(skipDocker)("a pull that stalls at the registry", () => {
  test("an interrupt stops it within the grace period: exit 130, the run KILLED", async () => {
    await using dir = tmpdirFor()
    await using registry = stallingRegistry()
    const image = `${registry.url.replace("http://", "")}/stall/base:${crypto.randomUUID().slice(0, 8)}`
    dockerProject(dir, image)
    const run = liveCli(["run", "project", "--json", "--grace", "1"], { cwd: dir.path })
    await run.until((e) => e.type === "image.pull.started")
    await manifestAsked(registry)
    const { code, ms } = await run.interrupt("SIGINT")
    expect(code).toBe(130)
    expect(ms).toBeLessThan(2000)
    const done = run.events.at(-1) as { type: string; run_id: string; status: string }
    expect(done).toMatchObject({ type: "run.finished", status: "KILLED" })
    expect(readRun(join(dir.path, "mlruns"), "0", done.run_id).meta.status).toBe(5)
  }, 60_000)

  test("with no interrupt, no progress for MLPROJECT_HTTP_IDLE_TIMEOUT ends it: http.timeout naming the image and registry", async () => {
    await using dir = tmpdirFor()
    await using registry = stallingRegistry()
    const host = registry.url.replace("http://", "")
    const image = `${host}/stall/base:${crypto.randomUUID().slice(0, 8)}`
    dockerProject(dir, image)
    const started = performance.now()
    const run = await cli(["run", "project", "--json"], { cwd: dir.path, env: { MLPROJECT_HTTP_IDLE_TIMEOUT: "1.5" } })
    expect(run.code).toBe(1)
    expect(performance.now() - started).toBeLessThan(10_000)
    const error = run.events.find((e) => e.type === "error") as Record<string, string>
    expect(error.code).toBe("http.timeout")
    expect(error.message).toBe(`pulling ${image} stalled: the Docker daemon reported no progress for 1.5 s (waiting on ${host})`)
    expect(error.hint).toContain("MLPROJECT_HTTP_IDLE_TIMEOUT")
    const created = run.events.find((e) => e.type === "run.created") as unknown as { run_id: string }
    expect(readRun(join(dir.path, "mlruns"), "0", created.run_id).meta.status).toBe(4)
  }, 60_000)
})
