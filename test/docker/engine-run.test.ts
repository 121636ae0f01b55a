// Docker runs end to end through the env and backend modules against the real daemon: mounts, builds, args, quoting, interrupts.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { shellQuote } from "../../src/project/shell-quote.ts"
import { containersOfRun, dockerSkipReason, removeImage, skipDocker, testImage } from "../lib/docker.ts"
import { hasPython } from "../lib/docker-rootfs.ts"
import { runInDocker, type HarnessOptions } from "../lib/docker-run.ts"
import { tmpdirFor } from "../lib/tmp.ts"

if (skipDocker) test.skip(dockerSkipReason, () => {})

// Containers, builds and pulls take seconds on a loaded machine; bun's default is 5 s.
const timeout = 60_000

describe.skipIf(skipDocker)("docker runs (Engine API)", () => {
  test("without --build-image: the project is mounted and is the working dir, the store and artifacts are mounted, streams stay apart", async () => {
    await using dir = tmpdirFor()
    dir.write("project/hello.txt", "hello from the host\n")
    const mlruns = join(dir.path, "mlruns")
    const run = await runInDocker({
      projectDir: join(dir.path, "project"),
      mlruns,
      docker: { image: await testImage() },
      command: [
        "pwd; cat hello.txt; echo to-stderr >&2",
        'echo "$MLFLOW_RUN_ID $MLFLOW_EXPERIMENT_ID $MLFLOW_TRACKING_URI $MLFLOW_ALLOW_FILE_STORE"',
        "echo written > from-container.txt",
        "touch /mlflow/tmp/mlruns/seen-by-container",
        "exit 3",
      ].join("; "),
    })
    expect(run.outcome).toEqual({ exitCode: 3, signal: null, interrupted: null, endedAt: expect.any(Number) })
    expect(run.stdout).toEqual(["/mlflow/projects/code", "hello from the host", `${run.runId} 0 file:///mlflow/tmp/mlruns true`])
    expect(run.stderr).toEqual(["to-stderr"])
    expect(readFileSync(join(dir.path, "project/from-container.txt"), "utf8")).toBe("written\n")
    expect(existsSync(join(mlruns, "seen-by-container"))).toBe(true)
    expect(await containersOfRun(run.runId)).toEqual([])
  }, timeout)

  test("the run's artifact folder is mounted at its own host path, so a logged artifact lands on the host", async () => {
    await using dir = tmpdirFor()
    const mlruns = join(dir.path, "mlruns")
    const run = await runInDocker({
      projectDir: dir.path,
      mlruns,
      docker: { image: await testImage() },
      command: `echo artifact > "${mlruns}/0/$MLFLOW_RUN_ID/artifacts/model.txt"`,
    })
    expect(run.outcome.exitCode).toBe(0)
    expect(readFileSync(join(mlruns, "0", run.runId, "artifacts/model.txt"), "utf8")).toBe("artifact\n")
  }, timeout)

  test("--build-image: the code is copied (.dockerignore honoured), an unchanged project reuses its image, a change rebuilds", async () => {
    await using dir = tmpdirFor()
    // Unique content: images are content-addressed, so one left by an earlier test run would be reused.
    dir.write("train.py", `print('v1') # ${crypto.randomUUID()}\n`)
    dir.write("data/big.bin", "x".repeat(10_000))
    dir.write(".dockerignore", "data\n")
    const base = await testImage()
    const options = { projectDir: dir.path, projectName: "Build Test", docker: { image: base }, buildImage: true, command: "ls -A; cat train.py" }
    const first = await runInDocker(options)
    expect(first.outcome.exitCode).toBe(0)
    expect(first.stdout).toEqual([".dockerignore", "train.py", expect.stringMatching(/^print\('v1'\)/)])
    // Plain assertions: bun's toMatchObject writes asymmetric matchers back into the object it checks.
    expect([first.image.built, first.image.cached]).toEqual([true, false])
    expect(first.image.uri).toMatch(/^build-test:[0-9a-f]{16}$/)
    expect(first.events.some((e) => e.type === "image.build.output" && e.line.startsWith("Step 2/"))).toBe(true)
    // The store is written between runs; it lives in the project folder and must not count as a change.
    dir.write("mlruns/0/x/meta.yaml", "run: 1\n")
    dir.write("data/big.bin", "changed, but ignored")
    const second = await runInDocker(options)
    expect(second.image).toEqual({ ...first.image, cached: true })
    expect(second.events.some((e) => e.type === "image.build.started")).toBe(false)
    dir.write("train.py", "print('v2')\n")
    const third = await runInDocker(options)
    expect(third.image.uri).not.toBe(first.image.uri)
    expect(third.stdout.at(-1)).toBe("print('v2')")
    for (const uri of [first.image.uri, third.image.uri]) await removeImage(uri)
  }, timeout)

  test("docker_env volumes and environment, and -A arguments, take effect inside the container", async () => {
    await using dir = tmpdirFor()
    dir.write("shared/data.csv", "a,b\n")
    const probe = [
      "cat /data/data.csv",
      'echo "pair=$PAIR copied=$COPIED cli=$CLI"',
      "id -u; id -g",
      "df -k /dev/shm | tail -1 | awk '{print $2}'",
      "ulimit -n",
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
      "ls /sys/class/net",
      "ls -l /dev/probe-null | cut -c1",
      "grep -c scratch /proc/mounts",
    ].join("; ")
    const run = await runInDocker({
      projectDir: dir.path,
      docker: { image: await testImage(), volumes: ["$(pwd)/shared:/data:ro"], environment: [["PAIR", "a b $c"], "COPIED"] },
      env: { ...process.env, COPIED: "from host" },
      dockerArgs: [
        ["e", "CLI=x;y"],
        ["user", "1234:4321"],
        ["shm-size", "128m"],
        ["ulimit", "nofile=512:1024"],
        ["memory", "256m"],
        ["network", "none"],
        ["device", "/dev/null:/dev/probe-null"],
        ["tmpfs", "/scratch"],
      ],
      command: probe,
    })
    expect(run.stderr).toEqual([])
    expect(run.stdout).toEqual(["a,b", "pair=a b $c copied=from host cli=x;y", "1234", "4321", "131072", "512", String(256 * 1024 ** 2), "lo", "c", "1"])
  }, timeout)

  test("hostile parameter values reach the program exactly: no host shell, no re-splitting", async () => {
    const values = ["$(touch /tmp/pwned)", "a'b\"c", "; rm -rf / #", "line1\nline2", "`id`", "*", "", "-n", "naïve ☃", "tab\there", "back\\slash", "$HOME"]
    const printer = hasPython ? "python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))'" : `sh -c 'for a; do printf "%s\\0" "$a"; done' sh`
    const run = await runInDocker({ projectDir: "/tmp", docker: { image: await testImage() }, command: `${printer} ${values.map(shellQuote).join(" ")}; ls /tmp/pwned 2>&1` })
    if (hasPython) expect(JSON.parse(run.stdout[0] as string)).toEqual(values)
    expect(run.stdout.at(-1)).toContain("No such file")
  }, timeout)

  test("an image without bash runs the command with sh", async () => {
    const run = await runInDocker({ projectDir: "/tmp", docker: { image: await testImage("busybox") }, command: "command -v bash || echo no-bash; echo 'quoted ok'" })
    expect(run.stdout).toEqual(["no-bash", "quoted ok"])
  }, timeout)

  test("output that is not captured goes raw to the terminal streams, demultiplexed, partial lines included", async () => {
    const seen = { stdout: "", stderr: "" }
    const terminal = {
      stdout: (chunk: Uint8Array) => void (seen.stdout += new TextDecoder().decode(chunk)),
      stderr: (chunk: Uint8Array) => void (seen.stderr += new TextDecoder().decode(chunk)),
    }
    const run = await runInDocker({
      projectDir: "/tmp",
      docker: { image: await testImage() },
      command: "printf 'no newline'; printf 'err\\n' >&2; head -c 70000 /dev/zero | tr '\\0' x",
      captureOutput: false,
      terminal,
    })
    expect(run.events.filter((e) => e.type === "log")).toEqual([])
    expect(seen.stderr).toBe("err\n")
    expect(seen.stdout).toBe(`no newline${"x".repeat(70000)}`)
  }, timeout)
})

describe.skipIf(skipDocker)("interrupting a docker run", () => {
  const sent = { at: 0 }
  /** Interrupts once the program printed "ready" (noting when in `sent.at`); with `force`, a second interrupt 100 ms later. */
  const interruptWhenReady = (signal: string, force = false): HarnessOptions["onStarted"] => (_handle, control) => {
    const timer = setInterval(() => {
      if (!control.events.some((e) => e.type === "log" && e.line === "ready")) return
      clearInterval(timer)
      sent.at = performance.now()
      control.interrupt(signal)
      if (force) setTimeout(() => control.force(), 100)
    }, 10)
  }

  test.each(["SIGINT", "SIGTERM"])("%s reaches the whole process tree: the container stops at once and is removed", async (signal) => {
    const run = await runInDocker({
      projectDir: "/tmp",
      docker: { image: await testImage() },
      command: "sleep 300 & sleep 300 & echo ready; wait",
      onStarted: interruptWhenReady(signal),
    })
    expect(performance.now() - sent.at).toBeLessThan(2000)
    expect(run.outcome.interrupted).toBe(signal)
    expect(run.events).toContainEqual({ type: "run.signal", run_id: run.runId, signal, action: "forwarded" })
    expect(run.events.some((e) => e.type === "run.signal" && e.action === "killed")).toBe(false)
    expect(await containersOfRun(run.runId)).toEqual([])
  }, timeout)

  test("a program that ignores the signal is killed when the grace period runs out; a second interrupt kills at once", async () => {
    const stubborn = "trap '' INT TERM; echo ready; while true; do sleep 0.1; done"
    const graceful = await runInDocker({ projectDir: "/tmp", docker: { image: await testImage() }, command: stubborn, graceMs: 500, onStarted: interruptWhenReady("SIGINT") })
    const stoppedAfter = performance.now() - sent.at
    expect(stoppedAfter).toBeGreaterThan(450)
    expect(stoppedAfter).toBeLessThan(3000)
    expect(graceful.outcome.interrupted).toBe("SIGINT")
    expect(graceful.events.some((e) => e.type === "run.signal" && e.action === "killed")).toBe(true)
    const forced = await runInDocker({ projectDir: "/tmp", docker: { image: await testImage() }, command: stubborn, graceMs: 60_000, onStarted: interruptWhenReady("SIGINT", true) })
    expect(performance.now() - sent.at).toBeLessThan(3000)
    expect(forced.events.some((e) => e.type === "run.signal" && e.action === "killed")).toBe(true)
    expect(await containersOfRun(forced.runId)).toEqual([])
  }, timeout)
})
