// Environment builds through the binary: installer output to the log file (streamed with --verbose), a progress line on a TTY, the tail on failure.
import { afterAll, describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { binary, cli } from "../lib/cli.ts"
import { isolatedEnv, removeEnvHomes } from "../lib/env-project.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

afterAll(removeEnvHomes, 60_000)

const slow = 120_000

const project = (dir: TmpDir, dependencies: string[]) => {
  dir.write("p/python_env.yaml", `python: "3.11"\nbuild_dependencies: []\ndependencies:\n${dependencies.map((d) => `  - ${d}\n`).join("")}`)
  dir.write("p/MLproject", "name: built\nentry_points:\n  main:\n    command: \"python -c 'import mlp_alpha; print(mlp_alpha.VERSION)'\"\n")
}

/** The step names docs/events.md lists for env.progress, as patterns (VERSION stands for a version). */
const documentedSteps = (): RegExp[] => {
  const docs = readFileSync(resolve(import.meta.dir, "..", "..", "docs", "events.md"), "utf8")
  const section = docs.slice(docs.indexOf("### `env.progress`"), docs.indexOf("### `env.listed`"))
  const row = section.split("\n").find((line) => line.startsWith("| step |")) ?? ""
  return [...row.matchAll(/`([^`]+)`/g)].map((m) => new RegExp(`^${(m[1] as string).replace("VERSION", "\\d+\\.\\d+\\.\\d+")}$`))
}

type Event = Record<string, unknown> & { type: string }

describe("a build's output goes to its log file; the events say what it does", () => {
  test("--json: no installer lines as log events, env.progress with what pip does, step names as documented, no repeats", async () => {
    await using dir = tmpdirFor()
    project(dir, ["mlp_alpha", "mlp_beta"])
    const result = await cli(["run", "p", "--json"], { cwd: dir.path, env: isolatedEnv() })
    expect(result.code, result.stdout).toBe(0)
    // Only the entry point's own line is a log event.
    expect(result.events.filter((e) => e.type === "log")).toEqual([expect.objectContaining({ stream: "stdout", line: "2.0.0" })])
    const progress = result.events.filter((e) => e.type === "env.progress") as Event[]
    const steps = progress.filter((e) => e.detail === undefined).map((e) => e.step as string)
    expect(steps).toEqual(["creating the virtualenv", "installing dependencies"])
    const documented = documentedSteps()
    expect(documented.length).toBeGreaterThan(4)
    for (const step of new Set(progress.map((e) => e.step as string))) expect(documented.some((pattern) => pattern.test(step)), step).toBe(true)
    const details = progress.filter((e) => e.detail !== undefined)
    expect(details.length).toBeGreaterThan(0)
    expect(details.every((e) => e.step === "installing dependencies" && /^(collecting|processing|installing|installed|downloading) /.test(e.detail as string))).toBe(true)
    const said = progress.map((e) => `${e.index} ${e.detail ?? ""}`)
    expect(said.filter((text, i) => i > 0 && text === said[i - 1])).toEqual([])
    const creating = result.events.find((e) => e.type === "env.creating") as Event
    expect(readFileSync(creating.log as string, "utf8")).toContain("Successfully installed mlp_alpha-")
  }, slow)

  test("--verbose streams the installers' output as stderr log events", async () => {
    await using dir = tmpdirFor()
    project(dir, ["mlp_alpha"])
    const result = await cli(["run", "p", "--json", "--verbose"], { cwd: dir.path, env: isolatedEnv() })
    expect(result.code, result.stdout).toBe(0)
    const installer = result.events.filter((e) => e.type === "log" && e.stream === "stderr").map((e) => e.line as string)
    expect(installer.some((line) => line.startsWith("Successfully installed mlp_alpha-"))).toBe(true)
    expect(result.events.filter((e) => e.type === "env.progress" && e.detail !== undefined)).toEqual([])
  }, slow)

  test("the text view off a terminal: one line per step, none of pip's; with --verbose, pip's lines on stderr", async () => {
    await using dir = tmpdirFor()
    project(dir, ["mlp_alpha"])
    const env = isolatedEnv()
    const quiet = await cli(["run", "p"], { cwd: dir.path, env })
    expect(quiet.code, quiet.stderr).toBe(0)
    expect(quiet.stderr).toContain("mlproject: [1/2] creating the virtualenv\nmlproject: [2/2] installing dependencies\n")
    expect(quiet.stderr).not.toContain("Successfully installed")
    expect(quiet.stderr).not.toContain("\r")
    const loud = await cli(["run", "p", "--verbose", "--rebuild-env"], { cwd: dir.path, env })
    expect(loud.code).toBe(0)
    expect(loud.stderr).toContain("Successfully installed mlp_alpha-")
  }, slow)

  test.skipIf(!Bun.which("script"))("on a terminal: a progress line redrawn in place with the step and what pip does, cleared when ready", async () => {
    await using dir = tmpdirFor()
    project(dir, ["mlp_alpha", "mlp_beta"])
    const command = [binary, "run", "p"].map((arg) => `'${arg.replaceAll("'", `'"'"'`)}'`).join(" ")
    // util-linux script(1) gives the binary a pseudo-terminal for stdout and stderr.
    const child = Bun.spawn(["script", "-qec", command, "/dev/null"], { cwd: dir.path, env: isolatedEnv() as Record<string, string>, stdout: "pipe", stderr: "pipe", stdin: "ignore" })
    const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited])
    expect(code, out).toBe(0)
    expect(out).toContain("\rmlproject: [--------------------] 1/2 creating the virtualenv\x1b[K")
    expect(out).toMatch(/\rmlproject: \[#{10}-{10}\] 2\/2 installing dependencies: (collecting|processing|installing|installed) [^\r]*\x1b\[K/)
    expect(out).toContain("\r\x1b[Kmlproject: environment: virtualenv ")
    expect(out).not.toContain("Successfully installed")
  }, slow)
})

describe("a failed build", () => {
  test("shows the end of pip's output from its first error, and the log's path; nothing of pip's before", async () => {
    await using dir = tmpdirFor()
    project(dir, ["mlp_alpha", "mlp_missing==9.9"])
    const result = await cli(["run", "p"], { cwd: dir.path, env: isolatedEnv() })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(
      "error: pip install (dependencies) exited with code 1:\nERROR: Could not find a version that satisfies the requirement mlp_missing==9.9 (from versions: none)\nERROR: No matching distribution found for mlp_missing==9.9\n",
    )
    const log = /hint: full log: (\S+\.log)/.exec(result.stderr)?.[1] as string
    expect(readFileSync(log, "utf8")).toContain("Looking in links")
    // pip's chatter before its error was not streamed: it is in the log only.
    expect(result.stderr).not.toContain("Looking in links")
    expect(result.stderr).toContain("FAILED (env.build.failed")
  }, slow)
})
