// The entry point's fast `--version` and the output written straight to descriptors 1 and 2 (src/util/fd-out.ts).
import { describe, expect, test } from "bun:test"
import { closeSync, openSync } from "node:fs"
import { cli, requireBinary } from "../lib/cli.ts"
import { tmpdirFor } from "../lib/tmp.ts"

describe("--version answered before anything loads", () => {
  test.each([[["--version"]], [["-V"]], [["--version", "extra", "words"]]])("%p prints the version alone and exits 0", async (args: string[]) => {
    const result = await cli(args)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^mlproject \d+\.\d+\.\d+\S*\n$/)
    expect(result.stderr).toBe("")
  })

  test.each([[["--version", "--json"]], [["-V", "--json"]]])("%p still gives the JSON version event", async (args: string[]) => {
    const result = await cli(args)
    expect(result.code).toBe(0)
    const plain = (await cli(["--version"])).stdout.trim().replace(/^mlproject /, "")
    expect(result.events).toEqual([{ type: "version", version: plain, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }])
  })

  test("`--json --version` stays what it was: --json first is no command", async () => {
    const result = await cli(["--json", "--version"])
    expect(result.code).toBe(2)
    expect(result.events).toEqual([expect.objectContaining({ type: "error", code: "usage", message: "unknown command '--json'" })])
  })

  test("a stdout that cannot be written (a full disk, a closed descriptor) does not change the exit code", async () => {
    for (const args of [["--version"], ["--help"], ["describe", "/nonexistent-project"]]) {
      const expected = args[0] === "describe" ? 2 : 0
      const full = Bun.spawn([requireBinary(), ...args], { stdout: Bun.file("/dev/full"), stderr: Bun.file("/dev/full") })
      expect(await full.exited).toBe(expected)
      // bash starts the binary with descriptors 1 and 2 closed and prints its exit code.
      const closed = Bun.spawn(["bash", "-c", '"$@" >&- 2>&-; echo $?', "bash", requireBinary(), ...args], { stdout: "pipe", stderr: "pipe" })
      const [code] = await Promise.all([new Response(closed.stdout).text(), closed.exited])
      expect(code).toBe(`${expected}\n`)
    }
  })
})

describe("output through the descriptors", () => {
  // A parent's pipe may be blocking (a shell) or non-blocking (an event loop): both hold 64 KiB, and a non-blocking one
  // takes part of a write, then answers EAGAIN, while it is full. python3 plays the parent: it reads only after half a
  // second, from the binary's stdout (--json) or from descriptor 3 (--events fd:3).
  test.each([
    ["blocking", "--json"],
    ["non-blocking", "--json"],
    ["non-blocking", "--events"],
  ])("more than a %s pipe holds (%s), read late, arrives whole and in order", async (mode, flag) => {
    await using dir = tmpdirFor()
    // ~120 KiB of JSON from a file under the 128 KiB cap.
    const entries = Array.from({ length: 400 }, (_, i) => `  ep_${i}:\n    parameters:\n      alpha_${i}: {type: float, default: ${i}.5}\n    command: "echo ${"x".repeat(150)} {alpha_${i}}"\n`)
    dir.write("MLproject", `name: big\nentry_points:\n${entries.join("")}`)
    const parent = `
import fcntl, os, subprocess, sys, time
# Both ends above 3, so that placing the write end on descriptor 3 closes neither.
ends = os.pipe()
r, w = (fcntl.fcntl(end, fcntl.F_DUPFD_CLOEXEC, 10) for end in ends)
for end in ends:
    os.close(end)
os.set_blocking(w, sys.argv[1] == "blocking")
os.dup2(w, 3, inheritable=True)
os.close(w)
events = sys.argv[2] == "--events"
child = subprocess.Popen(sys.argv[3:] + (["--events", "fd:3"] if events else ["--json"]), stdout=3 if not events else subprocess.DEVNULL, pass_fds=(3,))
os.close(3)
time.sleep(0.5)
data = b""
while chunk := os.read(r, 65536):
    data += chunk
sys.stdout.buffer.write(data)
sys.exit(child.wait())
`
    const run = Bun.spawn(["python3", "-c", parent, mode, flag, requireBinary(), "describe", dir.path], { stdout: "pipe", stderr: "pipe", env: { ...process.env, MLPROJECT_PARSE_CACHE: "false" } })
    const [stdout, stderr, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited])
    expect(stderr).toBe("")
    expect(code).toBe(0)
    expect(stdout.length).toBeGreaterThan(100_000)
    const events = stdout.trim().split("\n").map((line) => JSON.parse(line))
    expect(events.at(-1).type).toBe("project.described")
    expect(events.at(-1).entry_points.map((ep: { name: string }) => ep.name)).toEqual(entries.map((_, i) => `ep_${i}`))
  })

  test("the human view goes to a file descriptor as text, results on stdout, notes on stderr", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", 'name: small\nentry_points:\n  main:\n    command: "true"\n')
    const out = openSync(`${dir.path}/out.txt`, "w")
    const err = openSync(`${dir.path}/err.txt`, "w")
    const child = Bun.spawn([requireBinary(), "run", dir.path], { stdout: out, stderr: err, cwd: dir.path, env: { ...process.env, MLFLOW_TRACKING_URI: `file://${dir.path}/mlruns` } })
    expect(await child.exited).toBe(0)
    closeSync(out)
    closeSync(err)
    expect(await Bun.file(`${dir.path}/out.txt`).text()).toBe("")
    const notes = await Bun.file(`${dir.path}/err.txt`).text()
    expect(notes).toMatch(/^mlproject: project 'small' from /)
    expect(notes).toMatch(/mlproject: run [0-9a-f]{32} FINISHED in \d+ ms\n/)
  })
})
