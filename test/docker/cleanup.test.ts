// A docker run's container is removed on every path: by the daemon at its exit (even when mlproject is SIGKILLed), and by
// us after the last attempt when --retries starts the same container again.
import { describe, expect, test } from "bun:test"
import { cli, startRun } from "../lib/cli.ts"
import { containersOfRun, dockerSkipReason, skipDocker, testImage } from "../lib/docker.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

if (skipDocker) test.skip(dockerSkipReason, () => {})

const timeout = 60_000

const dockerProject = (dir: TmpDir, image: string, command: string) =>
  dir.write("project/MLproject", `name: cleanup\ndocker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: ${JSON.stringify(command)}\n`)

describe.skipIf(skipDocker)("docker containers are removed on every path", () => {
  test("mlproject SIGKILLed while the entry point runs: the daemon removes the container once it ends", async () => {
    await using dir = tmpdirFor()
    dockerProject(dir, await testImage(), "echo ready; sleep 2")
    const { child, events, ready, reading } = startRun(dir.path, ["project"])
    await ready
    const runId = (events.find((e) => e.type === "run.created") as { run_id: string }).run_id
    expect(await containersOfRun(runId)).toHaveLength(1)
    child.kill("SIGKILL")
    await child.exited
    await reading
    // Nobody is left to remove it: only the daemon can, when `sleep 2` ends.
    const deadline = Date.now() + 20_000
    while ((await containersOfRun(runId)).length > 0 && Date.now() < deadline) await Bun.sleep(200)
    expect(await containersOfRun(runId)).toEqual([])
  }, timeout)

  test("--retries 1: the failed attempt's container is started again, then removed", async () => {
    await using dir = tmpdirFor()
    dockerProject(dir, await testImage(), "echo attempt; exit 3")
    const run = await cli(["run", "project", "--json", "--retries", "1"], { cwd: dir.path })
    expect(run.code).toBe(1)
    expect(run.events.filter((e) => e.type === "log").map((e) => e.line)).toEqual(["attempt", "attempt"])
    const done = run.events.at(-1) as { type: string; run_id: string }
    expect(done).toMatchObject({ type: "run.finished", status: "FAILED", exit_code: 3, attempts: 2 })
    expect(await containersOfRun(done.run_id)).toEqual([])
  }, timeout)

  test("a trivial entry point: exit code passed on, no container left", async () => {
    await using dir = tmpdirFor()
    dockerProject(dir, await testImage(), "exit 7")
    const run = await cli(["run", "project", "--json"], { cwd: dir.path })
    expect(run.code).toBe(1)
    const done = run.events.at(-1) as { type: string; run_id: string }
    expect(done).toMatchObject({ type: "run.finished", status: "FAILED", exit_code: 7 })
    expect(await containersOfRun(done.run_id)).toEqual([])
  }, timeout)
})
