// `mlproject run` of docker projects through the compiled binary: recorded runs, tags, images, args, quoting, interrupts.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { cli, startRun } from "../lib/cli.ts"
import { containersOfRun, dockerSkipReason, pushImage, removeImage, skipDocker, startRegistry, testImage } from "../lib/docker.ts"
import { tlsDaemon } from "../lib/docker-tls.ts"
import { readRun } from "../lib/mlruns.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

if (skipDocker) test.skip(dockerSkipReason, () => {})

const timeout = 60_000

const dockerProject = (dir: TmpDir, image: string, command: string, extra = "") =>
  dir.write("project/MLproject", `name: Docker Test\ndocker_env:\n  image: ${image}\n${extra}entry_points:\n  main:\n    parameters:\n      msg: {type: string, default: hi}\n    command: ${JSON.stringify(command)}\n`)

const finished = (run: Awaited<ReturnType<typeof cli>>) => run.events.at(-1) as unknown as { type: string; run_id: string; status: string }

describe.skipIf(skipDocker)("mlproject run on docker projects", () => {
  test("without --build-image: the project is mounted, the run is recorded in the host's mlruns with docker tags", async () => {
    await using dir = tmpdirFor()
    const image = await testImage()
    dir.write("project/data/x.csv", "a,b\n")
    dockerProject(dir, image, "pwd; cat data/x.csv; echo run=$MLFLOW_RUN_ID; touch /mlflow/tmp/mlruns/from-container")
    const run = await cli(["run", "project", "--json"], { cwd: dir.path })
    expect(run.code).toBe(0)
    const done = finished(run)
    expect(done).toMatchObject({ type: "run.finished", status: "FINISHED", exit_code: 0 })
    const lines = run.events.filter((e) => e.type === "log").map((e) => e.line)
    expect(lines).toEqual(["/mlflow/projects/code", "a,b", `run=${done.run_id}`])
    // The container's first process as the host sees it, or null when it ended before the daemon was asked: never 0.
    const { pid } = run.events.find((e) => e.type === "run.started") as unknown as { pid: number | null }
    expect(pid === null || (Number.isSafeInteger(pid) && pid > 0)).toBe(true)
    // The entry point's output comes after run.started, as for a local run.
    expect(run.events.findIndex((e) => e.type === "run.started")).toBeLessThan(run.events.findIndex((e) => e.type === "log"))
    const recorded = readRun(join(dir.path, "mlruns"), "0", done.run_id)
    expect(recorded.meta.status).toBe(3)
    expect(recorded.params).toEqual({ msg: "hi" })
    expect(recorded.tags).toMatchObject({ "mlflow.project.env": "docker", "mlflow.docker.image.uri": image, "mlflow.docker.image.id": expect.stringMatching(/^sha256:/) })
    expect(await Bun.file(join(dir.path, "mlruns/from-container")).exists()).toBe(true)
    expect(await containersOfRun(done.run_id)).toEqual([])
  }, timeout)

  test("--build-image: built once, reused unchanged (env.ready cached), tags name the built image", async () => {
    await using dir = tmpdirFor()
    dockerProject(dir, await testImage(), "ls; cat marker")
    dir.write("project/marker", crypto.randomUUID())
    const first = await cli(["run", "project", "--build-image", "--json"], { cwd: dir.path })
    expect(first.code).toBe(0)
    const second = await cli(["run", "project", "--build-image", "--json"], { cwd: dir.path })
    expect(second.code).toBe(0)
    expect(first.events.find((e) => e.type === "env.ready")).toMatchObject({ manager: "docker", cached: false })
    expect(second.events.find((e) => e.type === "env.ready")).toMatchObject({ manager: "docker", cached: true })
    const tags = readRun(join(dir.path, "mlruns"), "0", finished(second).run_id).tags
    expect(tags["mlflow.docker.image.uri"]).toMatch(/^docker-test:[0-9a-f]{16}$/)
    expect(readRun(join(dir.path, "mlruns"), "0", finished(first).run_id).tags["mlflow.docker.image.uri"]).toBe(tags["mlflow.docker.image.uri"] as string)
    await removeImage(tags["mlflow.docker.image.uri"] as string)
  }, timeout)

  test("volumes, environment and -A arguments take effect; hostile values reach the program exactly", async () => {
    await using dir = tmpdirFor()
    dir.write("project/shared/f.txt", "shared file")
    const hostile = "$(touch /tmp/pwned); 'quote\" `id` *\nsecond line"
    const env = "  volumes: [\"$(pwd)/shared:/data\"]\n  environment: [[\"PAIR\", \"a b\"], \"COPIED\"]\n"
    dockerProject(dir, await testImage(), "cat /data/f.txt; echo; printf '[%s]\\n' {msg}; echo $PAIR/$COPIED/$CLI; id -u; df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2", env)
    const run = await cli(["run", "project", "--json", "-P", `msg=${hostile}`, "-A", "user=1234", "-A", "shm-size=128m", "-A", "e=CLI=x y"], {
      cwd: dir.path,
      env: { COPIED: "from host" },
    })
    expect(run.code).toBe(0)
    const lines = run.events.filter((e) => e.type === "log").map((e) => e.line)
    expect(lines).toEqual(["shared file", `[${hostile.split("\n")[0]}`, `${hostile.split("\n")[1]}]`, "a b/from host/x y", "1234", "131072"])
    expect(readRun(join(dir.path, "mlruns"), "0", finished(run).run_id).params.msg).toBe(hostile)
  }, timeout)

  test("input errors exit 2 before any run is recorded: a missing host variable, an unsupported -A key", async () => {
    await using dir = tmpdirFor()
    dockerProject(dir, await testImage(), "true", "  environment: [\"NOT_SET_A\", \"NOT_SET_B\"]\n")
    const missing = await cli(["run", "project", "--json"], { cwd: dir.path })
    expect(missing.code).toBe(2)
    expect(missing.events.at(-1)).toMatchObject({ type: "error", code: "docker.env.missing", message: expect.stringContaining("but NOT_SET_A, NOT_SET_B were not set") })
    dockerProject(dir, await testImage(), "true")
    const badArg = await cli(["run", "project", "--json", "-A", "no-such-flag=1"], { cwd: dir.path })
    expect(badArg.code).toBe(2)
    expect(badArg.events.at(-1)).toMatchObject({ type: "error", code: "docker.args", hint: expect.stringContaining("shm-size") })
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  }, timeout)

  test("no daemon: a clear error (exit 1) that says how to start one", async () => {
    await using dir = tmpdirFor()
    dockerProject(dir, "any:1", "true")
    const run = await cli(["run", "project", "--json"], { cwd: dir.path, env: { DOCKER_HOST: "unix:///tmp/mlproject-no-daemon.sock" } })
    expect(run.code).toBe(1)
    expect(run.events.at(-1)).toMatchObject({ type: "error", code: "docker.daemon", hint: expect.stringContaining("dockerd") })
  }, timeout)

  test("SIGINT: the container stops and is removed, the run is KILLED, exit 130", async () => {
    await using dir = tmpdirFor()
    dockerProject(dir, await testImage(), "sleep 300 & echo ready; wait")
    const { child, events, ready, reading } = startRun(dir.path, ["project"])
    await ready
    // A container still running: its first process as the host sees it, alive and inside the run's container.
    const { pid } = events.find((e) => e.type === "run.started") as { pid: number }
    expect(pid).toBeGreaterThan(0)
    const runningId = (events.find((e) => e.type === "run.created") as { run_id: string }).run_id
    const [container] = await containersOfRun(runningId)
    expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toContain(String(container).slice(0, 12))
    const sentAt = performance.now()
    child.kill("SIGINT")
    expect(await child.exited).toBe(130)
    expect(performance.now() - sentAt).toBeLessThan(3000)
    await reading
    expect(events.at(-1)).toMatchObject({ type: "run.finished", status: "KILLED", signal: "SIGINT" })
    const runId = (events.find((e) => e.type === "run.created") as { run_id: string }).run_id
    expect(readRun(join(dir.path, "mlruns"), "0", runId).meta.status).toBe(5)
    expect(await containersOfRun(runId)).toEqual([])
  }, timeout)

  test("an image from an htpasswd registry is pulled with the credentials in ~/.docker/config.json", async () => {
    const user = { username: "ci", password: `pw-${crypto.randomUUID()}` }
    await using registry = await startRegistry(user)
    await using dir = tmpdirFor()
    const image = `${registry.host}/team/base:${crypto.randomUUID().slice(0, 8)}`
    await pushImage(await testImage("busybox"), image, user)
    await removeImage(image)
    dir.write("home/.docker/config.json", JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${user.username}:${user.password}`).toString("base64") } } }))
    dockerProject(dir, image, "echo pulled")
    const run = await cli(["run", "project", "--json"], { cwd: dir.path, env: { HOME: join(dir.path, "home") } })
    expect(run.code).toBe(0)
    expect(run.events.filter((e) => e.type === "log").map((e) => e.line)).toEqual(["pulled"])
    expect(run.stdout + run.stderr).not.toContain(user.password)
    await removeImage(image)
  }, timeout)

  test("the daemon is pinged once, and a container it removed itself (AutoRemove) is not removed again; exit code and output kept", async () => {
    await using dir = tmpdirFor()
    await using daemon = await tlsDaemon()
    const image = await testImage()
    dockerProject(dir, image, "echo {msg}; exit 3")
    const env = { DOCKER_HOST: daemon.host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: daemon.certDir }
    const run = await cli(["run", "project", "--json"], { cwd: dir.path, env })
    expect(run.code).toBe(1)
    const done = finished(run)
    expect(done).toMatchObject({ type: "run.finished", status: "FAILED", exit_code: 3 })
    expect(run.events.filter((e) => e.type === "log").map((e) => e.line)).toEqual(["hi"])
    expect(readRun(join(dir.path, "mlruns"), "0", done.run_id).meta.status).toBe(4)
    expect(daemon.requests.filter((r) => r.endsWith("/_ping"))).toEqual(["GET /_ping"])
    const create = daemon.requests.findIndex((r) => r.endsWith("/containers/create"))
    expect(daemon.requests.findIndex((r) => r.startsWith("GET ") && r.includes("/images/"))).toBeLessThan(create)
    expect(daemon.requests.filter((r) => r.startsWith("DELETE "))).toEqual([])
    expect(await containersOfRun(done.run_id)).toEqual([])
  }, timeout)
})
