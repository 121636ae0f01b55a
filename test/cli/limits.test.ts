// Numbers at their limits, through the binary: a value past a timer's range, an exact integer or docker's own range is an input error naming the range.
import { describe, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import { zip } from "../lib/archives.ts"
import { binary, cli } from "../lib/cli.ts"
import { skipDocker, testImage } from "../lib/docker.ts"
import { gitRepo } from "../lib/git.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const example = resolve(import.meta.dir, "..", "..", "examples", "hello")

type Case = [string[], Record<string, string>, string, string]

const refused = async ([args, env, code, message]: Case, cwd: string) => {
  const result = await cli([...args, "--json"], { cwd, env })
  expect(result.code, result.stdout).toBe(2)
  expect(result.events.at(-1)).toMatchObject({ type: "error", code, message: expect.stringContaining(message) })
}

describe("--grace past setTimeout's range", () => {
  test("--grace 3000000 (a timer that would fire at once) is refused, naming the range", async () => {
    await using dir = tmpdirFor()
    await refused([["run", example, "--grace", "3000000"], {}, "usage", "--grace 3000000: expected a number of seconds from 0 to 2147483 (about 24 days)"], dir.path)
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  })

  test("the edge itself, 2147483 s, is a grace that holds: an interrupted run is not killed at once", async () => {
    await using dir = tmpdirFor()
    dir.write("p/MLproject", "entry_points:\n  main:\n    command: \"trap 'echo stopping; sleep 0.5; echo stopped; exit 3' TERM; echo ready; while true; do sleep 0.1; done\"\n")
    const child = Bun.spawn([binary, "run", "p", "--grace", "2147483", "--json"], { cwd: dir.path, stdout: "pipe", stderr: "pipe" })
    const events: Array<Record<string, unknown>> = []
    let pending = ""
    for await (const chunk of child.stdout) {
      pending += new TextDecoder().decode(chunk)
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines.filter((l) => l.trim() !== "")) {
        const event = JSON.parse(line) as Record<string, unknown>
        events.push(event)
        if (event.type === "log" && event.line === "ready") child.kill("SIGTERM")
      }
    }
    expect(await child.exited).toBe(130)
    // The entry point got its time to stop by itself (half a second): nothing was killed.
    expect(events.filter((e) => e.type === "log").map((e) => e.line)).toContain("stopped")
    expect(events.filter((e) => e.type === "run.signal").map((e) => e.action)).not.toContain("killed")
    expect(events.at(-1)).toMatchObject({ type: "run.finished", status: "KILLED" })
  })
})

describe("variables that become timers or exact counts", () => {
  test.each([
    [["validate", "REPO"], { MLPROJECT_GIT_IDLE_TIMEOUT: "3000000" }, "http.config.invalid", "MLPROJECT_GIT_IDLE_TIMEOUT=3000000: expected seconds from 0 (no limit) to 2147483"],
    [["validate", "REPO"], { MLPROJECT_HTTP_CONNECT_TIMEOUT: "3000000" }, "http.config.invalid", "MLPROJECT_HTTP_CONNECT_TIMEOUT=3000000: expected seconds, more than 0 and at most 2147483"],
    [["validate", "REPO"], { MLPROJECT_HTTP_IDLE_TIMEOUT: "1e10" }, "http.config.invalid", "MLPROJECT_HTTP_IDLE_TIMEOUT=1e10: expected seconds"],
    [["validate", "REPO"], { MLPROJECT_HTTP_MAX_RESPONSE_BYTES: "1e300" }, "http.config.invalid", "MLPROJECT_HTTP_MAX_RESPONSE_BYTES=1e300: expected a whole number of bytes, from 1 to 9007199254740991"],
    [["validate", "ARCHIVE"], { MLPROJECT_ARCHIVE_MAX_BYTES: "lots" }, "http.config.invalid", "MLPROJECT_ARCHIVE_MAX_BYTES=lots: expected a whole number from 1 to 9007199254740991"],
    [["validate", "ARCHIVE"], { MLPROJECT_ARCHIVE_MAX_ENTRIES: "0" }, "http.config.invalid", "MLPROJECT_ARCHIVE_MAX_ENTRIES=0: expected a whole number from 1"],
    [["log", "param", "a", "b"], { MLFLOW_RUN_ID: "0".repeat(32), MLFLOW_TRACKING_URI: "http://127.0.0.1:9", MLFLOW_HTTP_REQUEST_TIMEOUT: "3000000" }, "tracking.config.invalid", "MLFLOW_HTTP_REQUEST_TIMEOUT=3000000: expected seconds, more than 0 and at most 2147483"],
    [["log", "param", "a", "b"], { MLFLOW_RUN_ID: "0".repeat(32), MLFLOW_TRACKING_URI: "http://127.0.0.1:9", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "3000000" }, "tracking.config.invalid", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER=3000000: expected seconds from 0 to 2147483"],
  ] as Case[])("%p with %p", async (args, env, code, message) => {
    await using repo = gitRepo({ commits: 1 })
    await using dir = tmpdirFor()
    await Bun.write(join(dir.path, "p.zip"), zip([{ name: "MLproject", data: "entry_points:\n  main:\n    command: 'true'\n" }]))
    const resolved = args.map((arg) => (arg === "REPO" ? `file://${repo.path}` : arg === "ARCHIVE" ? "p.zip" : arg))
    await refused([resolved, env, code, message], dir.path)
  })
})

describe("flags of cache, env and log", () => {
  test.each([
    [["cache", "gc", "--older-than", "99999999d"], {}, "usage", "duration '99999999d' for --older-than is too long: expected at most 36500d (100 years)"],
    [["env", "gc", "--older-than", "9999999w"], {}, "usage", "duration '9999999w' for --older-than is too long: expected at most 36500d"],
    [["cache", "gc", "--max-size", "99999T"], {}, "usage", "size '99999T' for --max-size is too large: expected at most 8192T (8 PiB)"],
    [["log", "metric", "loss", "1", "--step", "99999999999999999999"], { MLFLOW_RUN_ID: "0".repeat(32) }, "usage", "--step 99999999999999999999: expected a whole number from -9007199254740991 to 9007199254740991"],
    [["log", "metric", "loss", "1", "--timestamp", "-1"], { MLFLOW_RUN_ID: "0".repeat(32) }, "usage", "--timestamp -1: expected a whole number from 0 to 9007199254740991"],
    [["validate", example, "--events", "fd:99999999999"], {}, "usage", "--events fd:99999999999: expected fd:N with a descriptor number from 0 to 2147483647"],
  ] as Case[])("%p", async (args, env, code, message) => {
    await using dir = tmpdirFor()
    await refused([args, env, code, message], dir.path)
  })

  test("the edges are accepted: 36500d, 8192T", async () => {
    await using dir = tmpdirFor()
    const home = { MLPROJECT_HOME: join(dir.path, "home") }
    expect((await cli(["cache", "gc", "--older-than", "36500d", "--max-size", "8192T", "--kind", "parsed"], { env: home })).code).toBe(0)
  })
})

describe("docker -A values out of range: exit 2 before a run exists", () => {
  const dockerProject = (dir: { write(path: string, text: string): string }, image: string) =>
    dir.write("p/MLproject", `name: bars-py\ndocker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: 'true'\n`)

  test.each([
    [["memory=1k"], "-A memory=1k: expected 0 (no limit) or a size from 6m (docker's minimum) to 8p"],
    [["shm-size=99999999999999999999g"], "-A shm-size=99999999999999999999g: expected a size up to 8 PiB (8p)"],
    [["cpus=0.001"], "-A cpus=0.001: expected a number of CPUs from 0.01"],
    [["cpu-shares=99999999"], "-A cpu-shares=99999999: expected a whole number from 2 to 262144"],
    [["ulimit=nofile=5:2"], "-A ulimit=nofile=5:2: the soft limit (5) may not be over the hard limit (2)"],
    [["memory-swap=10m"], "-A memory-swap=10m needs -A memory"],
  ])("-A %p", async (args, message) => {
    await using dir = tmpdirFor()
    dockerProject(dir, "bars-py:2")
    // A dry run checks -A without a daemon, like a real run does before it connects.
    await refused([["run", "p", "--dry-run", ...args.flatMap((a) => ["-A", a])], {}, "docker.args", message], dir.path)
  })

  test.skipIf(skipDocker)("-A cpus beyond the daemon's CPUs is refused before the run is recorded", async () => {
    await using dir = tmpdirFor()
    dockerProject(dir, await testImage("busybox"))
    const result = await cli(["run", "p", "-A", "cpus=100000", "--json"], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.events.at(-1)).toMatchObject({ type: "error", code: "docker.args", message: expect.stringMatching(/^-A cpus=100000: expected a number of CPUs from 0\.01 to \d+, the CPUs the Docker daemon has$/) })
    expect(result.events.some((e) => e.type === "run.created")).toBe(false)
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  }, 120_000)
})
