// Control bytes through the binary: shown escaped in the text view, raw in JSON, and untouched in the entry point's own output.
import { describe, expect, test } from "bun:test"
import { cli } from "../lib/cli.ts"
import { gitRepo } from "../lib/git.ts"
import { gitHttp } from "../lib/git-http.ts"
import { loopback } from "../lib/loopback.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"
import { visible, visibleEvent } from "../../src/events/terminal-text.ts"

// ESC sequences (colour, clear screen, window title), a carriage return that would hide what precedes it, a
// backspace, a BEL and a C1 CSI (U+009B).
const hostile = "\x1b[31mred\x1b[2J\x1b]0;title\x07 over\rwrite\bx\u009b1m"
const shown = "\\x1b[31mred\\x1b[2J\\x1b]0;title\\x07 over\\rwrite\\bx\\x9b1m"
const anyControl = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/

const project = (dir: TmpDir) =>
  dir.write("project/MLproject", "name: t\nentry_points:\n  main:\n    parameters:\n      msg: string\n    command: \"printf '%s\\\\n' {msg}\"\n")

describe("terminal control bytes", () => {
  test("a parameter value: escaped where mlproject shows it, byte-exact in the entry point's output", async () => {
    await using dir = tmpdirFor()
    project(dir)
    const text = await cli(["run", "project", "-P", `msg=${hostile}`], { cwd: dir.path })
    expect(text.code).toBe(0)
    // The program printed the value itself: passed through as it is.
    expect(text.stdout).toBe(`${hostile}\n`)
    // mlproject's own lines (the command it runs) show the bytes, never send them.
    expect(text.stderr).toContain(shown)
    expect(text.stderr).not.toMatch(anyControl)
    const json = await cli(["run", "project", "-P", `msg=${hostile}`, "--json"], { cwd: dir.path })
    expect(json.events.find((e) => e.type === "run.started")?.command).toContain(hostile)
    expect(json.events.filter((e) => e.type === "log").map((e) => e.line)).toEqual([hostile])
  })

  test("a server's error body (a tracking server's message)", async () => {
    await using server = loopback(() => Response.json({ error_code: "INVALID_PARAMETER_VALUE", message: `bad ${hostile}` }, { status: 400 }))
    await using dir = tmpdirFor()
    project(dir)
    const env = { MLFLOW_TRACKING_URI: server.url, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" }
    const text = await cli(["run", "project", "-P", "msg=x"], { cwd: dir.path, env })
    expect(text.code).toBe(2)
    expect(text.stderr).toContain(`bad ${shown}`)
    expect(text.stderr).not.toMatch(anyControl)
    const json = await cli(["run", "project", "-P", "msg=x", "--json"], { cwd: dir.path, env })
    expect(json.events.at(-1)).toMatchObject({ type: "error", code: "tracking.server", message: expect.stringContaining(`bad ${hostile}`) })
  })

  test("a `path` download's error body, and git's messages", async () => {
    await using server = loopback(() => new Response(`nope ${hostile}`, { status: 400 }))
    await using dir = tmpdirFor()
    dir.write("p/MLproject", "name: p\nentry_points:\n  main:\n    parameters:\n      data: path\n    command: \"true\"\n")
    const download = await cli(["run", "p", "-P", `data=${server.url}/d.csv`], { cwd: dir.path })
    expect(download.stderr).toContain(`nope ${shown}`)
    expect(download.stderr).not.toMatch(anyControl)
    // Git names the version it cannot find; the text view shows that name escaped.
    await using repo = gitRepo({ commits: 2 })
    await using git = gitHttp(repo.base)
    const version = await cli(["run", `${git.url}/repo.git`, "-v", `v1${hostile}`], { cwd: dir.path })
    expect(version.code).toBe(2)
    expect(version.stderr).toContain(`version 'v1${shown}'`)
    expect(version.stderr).not.toMatch(anyControl)
  })
})

test("every string of an event is escaped, keys too, and a key named __proto__ stays a key", () => {
  // JSON.parse makes `__proto__` an own key, as a run's params from a store would be.
  const event = JSON.parse('{"type":"run.shown","params":{"__proto__":"\\u001bx","a\\r":[1,"\\b",null]},"n":2}')
  const shownEvent = visibleEvent(event)
  expect(shownEvent).toEqual(JSON.parse('{"type":"run.shown","params":{"__proto__":"\\\\x1bx","a\\\\r":[1,"\\\\b",null]},"n":2}'))
  expect(Object.keys(shownEvent.params)).toEqual(["__proto__", "a\\r"])
  expect(Object.getPrototypeOf(shownEvent.params)).toBe(Object.prototype)
})

describe("visibleEvent", () => {
  // Every byte `visible` escapes (C0 but tab and newline, DEL, C1).
  const escaped = [...Array.from({ length: 0x20 }, (_, i) => i).filter((i) => i !== 0x09 && i !== 0x0a), ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i)]

  test.each(escaped.map((code) => [code.toString(16)]))("a \\x%s in a value or a key, at any depth, is escaped", (hexCode) => {
    const char = String.fromCharCode(parseInt(hexCode, 16))
    const event = { type: "warning", message: `a${char}b`, nested: { list: ["ok", { [`k${char}`]: 1 }] } }
    expect(visibleEvent(event)).toEqual({ type: "warning", message: `a${visible(char)}b`, nested: { list: ["ok", { [`k${visible(char)}`]: 1 }] } })
    expect(visible(char)).not.toBe(char)
  })

  test("an event without control bytes (tabs, newlines and other text included) is used as it is", () => {
    const event = { type: "warning", message: "a\tb\nc é ✓ \u2028 \\n \\t \\x1b", list: [1, null, true, "x"] }
    expect(visibleEvent(event)).toBe(event)
  })

  test("a backslash before b, f or r is text, shown as it is", () => {
    const event = { type: "warning", message: "C:\\build \\files \\rest \\u0001" }
    expect(visibleEvent(event)).toEqual(event)
  })
})
