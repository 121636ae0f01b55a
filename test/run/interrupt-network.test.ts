// Interrupts through the compiled binary while it waits on the network: a hung tracking server, a stalled archive or
// `path` download, `mlproject log`. Each must end with exit 130 within the grace period plus one second.
import { describe, expect, test } from "bun:test"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { liveCli } from "../lib/cli.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { patientServer, silentServer, stalled } from "../lib/stall.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const graceS = 1
// The acceptance bound: the grace period, plus one second for everything else.
const boundMs = graceS * 1000 + 1000

const project = (command = "echo hi", parameters = "") => `entry_points:\n  main:\n${parameters}    command: ${JSON.stringify(command)}\n`

const errorOf = (events: Array<Record<string, unknown>>) => events.find((e) => e.type === "error")

describe("an interrupt while the tracking server hangs", () => {
  test("before the run exists: the call in flight is dropped, exit 130, no bug report", async () => {
    await using dir = tmpdirFor()
    await using server = silentServer()
    dir.write("p/MLproject", project())
    const run = liveCli(["run", "p", "--json", "--grace", String(graceS)], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: `http://127.0.0.1:${server.port}` } })
    await server.connected()
    const { code, ms } = await run.interrupt("SIGINT")
    expect(code).toBe(130)
    expect(ms).toBeLessThan(boundMs)
    expect(errorOf(run.events)).toMatchObject({ code: "interrupted" })
    expect(run.events.some((e) => e.type === "run.created")).toBe(false)
  })

  test.each(["SIGTERM", "SIGHUP"] as const)("%s is honoured the same way", async (signal) => {
    await using dir = tmpdirFor()
    await using server = silentServer()
    dir.write("p/MLproject", project())
    const run = liveCli(["run", "p", "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: `http://127.0.0.1:${server.port}` } })
    await server.connected()
    const { code, ms } = await run.interrupt(signal)
    expect(code).toBe(130)
    // The default grace period is 10 s: nothing is left to stop here, so the exit is at once.
    expect(ms).toBeLessThan(1000)
  })

  test("while the final status is written: the write gets what is left of the grace period, a warning names the run", async () => {
    await using dir = tmpdirFor()
    await using server = mlflowServer()
    dir.write("p/MLproject", project("echo ready; sleep 30"))
    const run = liveCli(["run", "p", "--json", "--grace", String(graceS)], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: server.url } })
    await run.until((e) => e.type === "log" && e.line === "ready")
    // From now on the server takes every request and answers none in time.
    for (const endpoint of ["runs/get", "runs/update"]) server.fail({ endpoint, delayMs: 20_000, times: 100 })
    const { code, ms } = await run.interrupt("SIGINT")
    expect(code).toBe(130)
    expect(ms).toBeLessThan(boundMs)
    const created = run.events.find((e) => e.type === "run.created") as unknown as { run_id: string }
    const warning = run.events.find((e) => e.type === "warning" && e.code === "run.status_not_recorded") as unknown as { message: string }
    expect(warning.message).toContain(`run ${created.run_id} could not be recorded as KILLED in ${server.url}`)
    expect(run.events.at(-1)).toMatchObject({ type: "run.finished", run_id: created.run_id, status: "KILLED" })
    expect(server.runs.get(created.run_id)?.info.status).toBe("RUNNING")
  })

  test("while the final status is written to a healthy server: it is recorded, KILLED", async () => {
    await using dir = tmpdirFor()
    await using server = mlflowServer()
    dir.write("p/MLproject", project("echo ready; sleep 30"))
    const run = liveCli(["run", "p", "--json", "--grace", String(graceS)], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: server.url } })
    const created = (await run.until((e) => e.type === "run.created")) as { run_id: string }
    await run.until((e) => e.type === "log" && e.line === "ready")
    const { code, ms } = await run.interrupt("SIGINT")
    expect(code).toBe(130)
    expect(ms).toBeLessThan(boundMs)
    expect(run.events.some((e) => e.type === "warning")).toBe(false)
    expect(server.runs.get(created.run_id)?.info.status).toBe("KILLED")
  })
})

describe("an interrupt while a cloud storage endpoint hangs", () => {
  test.each([
    ["s3", { MLFLOW_S3_ENDPOINT_URL: "ENDPOINT", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test-secret" }],
    // GCS's metadata calls take no signal: the wait for them is what the interrupt ends.
    ["gs", { MLPROJECT_GCS_ENDPOINT: "ENDPOINT" }],
  ] as const)("of a %s:// `path` parameter whose endpoint hangs: exit 130", async (scheme, variables) => {
    await using dir = tmpdirFor()
    await using server = silentServer()
    const endpoint = `http://127.0.0.1:${server.port}`
    dir.write("p/MLproject", project("cat {data}", "    parameters:\n      data: {type: path}\n"))
    const env = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, value === "ENDPOINT" ? endpoint : value]))
    const run = liveCli(["run", "p", "-P", `data=${scheme}://bucket/data.csv`, "--json", "--grace", String(graceS)], {
      cwd: dir.path,
      env: { ...env, MLPROJECT_HOME: join(dir.path, "home") },
    })
    await server.connected()
    const { code, ms } = await run.interrupt("SIGINT")
    expect(code).toBe(130)
    expect(ms).toBeLessThan(boundMs)
    expect(errorOf(run.events)).toMatchObject({ code: "interrupted" })
  })
})

test("mlproject log against a hung server: exit 130 at once", async () => {
  await using server = silentServer()
  const log = liveCli(["log", "metric", "loss", "0.5", "--json"], {
    env: { MLFLOW_TRACKING_URI: `http://127.0.0.1:${server.port}`, MLFLOW_RUN_ID: "0123456789abcdef0123456789abcdef" },
  })
  await server.connected()
  const { code, ms } = await log.interrupt("SIGINT")
  expect(code).toBe(130)
  expect(ms).toBeLessThan(1000)
  expect(errorOf(log.events)).toMatchObject({ code: "interrupted" })
})

test("mlproject log batch - waiting on a standard input that never ends: exit 130 at once", async () => {
  await using dir = tmpdirFor()
  const log = liveCli(["log", "batch", "-", "--json"], { cwd: dir.path, stdin: "pipe", env: { MLFLOW_TRACKING_URI: join(dir.path, "mlruns"), MLFLOW_RUN_ID: "0123456789abcdef0123456789abcdef" } })
  await Bun.sleep(300)
  const { code, ms } = await log.interrupt("SIGINT")
  expect(code).toBe(130)
  expect(ms).toBeLessThan(1000)
  expect(errorOf(log.events)).toMatchObject({ code: "interrupted" })
})

describe("an interrupt during a stalled download", () => {
  test("of a project archive: exit 130, nothing left in the fetch cache's scratch folder", async () => {
    await using dir = tmpdirFor()
    await using server = patientServer(() => new Response(stalled(new Uint8Array(1000)), { headers: { "content-length": "100000" } }))
    const home = join(dir.path, "home")
    const run = liveCli(["run", `${server.url}/project.tar.gz`, "--json", "--grace", String(graceS)], { cwd: dir.path, env: { MLPROJECT_HOME: home } })
    await run.until((e) => e.type === "fetch.started")
    while (server.requests.length === 0) await Bun.sleep(20)
    const { code, ms } = await run.interrupt("SIGINT")
    expect(code).toBe(130)
    expect(ms).toBeLessThan(boundMs)
    expect(errorOf(run.events)).toMatchObject({ code: "source.interrupted" })
    const scratch = join(home, "projects", "tmp")
    expect(existsSync(scratch) ? readdirSync(scratch).filter((name) => name.endsWith(".download")) : []).toEqual([])
  })

  test("of a remote `path` parameter: exit 130 before any run exists", async () => {
    await using dir = tmpdirFor()
    const size = 10_000_000
    // No ranges: the size comes from the probe's Content-Length, then the download stalls after its first kilobyte.
    await using server = patientServer(() => new Response(stalled(new Uint8Array(1024)), { headers: { "content-length": String(size) } }))
    dir.write("p/MLproject", project("cat {data} | wc -c", "    parameters:\n      data: {type: path}\n"))
    const run = liveCli(["run", "p", "-P", `data=${server.url}/data.bin`, "--json", "--grace", String(graceS)], {
      cwd: dir.path,
      env: { MLPROJECT_HOME: join(dir.path, "home") },
    })
    await run.until((e) => e.type === "download.started")
    while (server.requests.length < 2) await Bun.sleep(20)
    const { code, ms } = await run.interrupt("SIGINT")
    expect(code).toBe(130)
    expect(ms).toBeLessThan(boundMs)
    expect(errorOf(run.events)).toMatchObject({ code: "interrupted" })
    expect(run.events.some((e) => e.type === "run.created")).toBe(false)
  })
})

test("interrupted while its params are logged, the run just created is ended KILLED", async () => {
  await using dir = tmpdirFor()
  await using server = mlflowServer()
  server.fail({ endpoint: "runs/log-batch", delayMs: 20_000 })
  dir.write("p/MLproject", project("echo never", "    parameters:\n      alpha: {type: float, default: 0.5}\n"))
  const run = liveCli(["run", "p", "--json", "--grace", String(graceS)], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: server.url } })
  while (server.calls("runs/log-batch").length === 0) await Bun.sleep(20)
  const { code, ms } = await run.interrupt("SIGINT")
  expect(code).toBe(130)
  expect(ms).toBeLessThan(boundMs)
  const [only] = [...server.runs.values()]
  expect(only?.info.status).toBe("KILLED")
  expect(run.events.some((e) => e.type === "log")).toBe(false)
})

test("an interrupt while pyenv lists the Pythons it can install (it may wait on the network): exit 130 at once", async () => {
  await using dir = tmpdirFor()
  const marker = join(dir.path, "listing")
  // A pyenv that knows no installed version and hangs when asked what it could install.
  dir.write("bin/pyenv", `#!/bin/sh\n[ "$1 $2" = "install --list" ] && { touch ${marker}; exec sleep 60; }\nexit 1\n`)
  Bun.spawnSync(["chmod", "+x", join(dir.path, "bin/pyenv")])
  dir.write("p/MLproject", `python_env: python_env.yaml\n${project()}`)
  dir.write("p/python_env.yaml", 'python: "3.4"\n')
  const run = liveCli(["run", "p", "--json"], {
    cwd: dir.path,
    env: { PATH: `${join(dir.path, "bin")}:/usr/bin:/bin`, PYENV_ROOT: join(dir.path, "no-pyenv-root") },
  })
  for (let waited = 0; !existsSync(marker) && waited < 10_000; waited += 20) await Bun.sleep(20)
  expect(existsSync(marker)).toBe(true)
  const { code, ms } = await run.interrupt("SIGINT")
  expect(code).toBe(130)
  expect(ms).toBeLessThan(1000)
  expect(run.events.some((e) => e.type === "run.created")).toBe(false)
})
