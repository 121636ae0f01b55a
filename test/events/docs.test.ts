// docs/events.md is the event contract: every event the binary prints, and every type in the union, is documented.
import { expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { cli } from "../lib/cli.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const root = resolve(import.meta.dir, "..", "..")
const example = resolve(root, "examples", "hello")

type FieldDoc = { name: string; optional: boolean }
const documented = (): Map<string, FieldDoc[]> => {
  const docs = new Map<string, FieldDoc[]>()
  let current: FieldDoc[] | null = null
  for (const line of readFileSync(resolve(root, "docs", "events.md"), "utf8").split("\n")) {
    const heading = line.match(/^### `([a-z.]+)`$/)
    if (heading) docs.set(heading[1] as string, (current = []))
    const row = line.match(/^\| ([a-z_]+) \| (.+?) \| /)
    if (current && row && row[1] !== "field") current.push({ name: row[1] as string, optional: (row[2] as string).trim().endsWith("?") })
  }
  return docs
}

test("the documented types are exactly the types of the Event union", () => {
  const source = readFileSync(resolve(root, "src", "events", "event.ts"), "utf8")
  const union = [...source.matchAll(/\{ type: "([a-z.]+)"|type: "([a-z.]+)"\n/g)].map((m) => m[1] ?? m[2])
  expect([...documented().keys()].sort()).toEqual([...new Set(union)].sort() as string[])
})

test("every event the binary prints matches its documented fields", async () => {
  const docs = documented()
  await using dir = tmpdirFor()
  dir.write("bad/MLproject", "entry_points:\n  main:\n    parameters:\n      a: {type: flaot}\n    command: echo {a} {b}\n")
  dir.write("odd/MLproject", "entry_points:\n  main:\n    parameters:\n      a: {type: flaot, default: 1}\n    command: echo {a}\n")
  const runs = [
    ["--version", "--json"],
    ["run", "--help", "--json"],
    ["validate", example, "--json"],
    ["validate", `${dir.path}/bad`, "--json"],
    ["describe", example, "-P", "alpha=0.1", "--json"],
    ["describe", `${dir.path}/odd`, "--json"],
    ["run", `${dir.path}/bad`, "--json"],
    ["run", example, "--dry-run", "--json"],
    ["run", example, "--json", "-P", "epochs=1", "--experiment-name", "docs"],
    ["run", example, "-e", "shout", "--json"],
    ["runs", "list", "--experiment-name", "docs", "--json"],
    ["cache", "list", "--json"],
    ["cache", "gc", "--max-size", "0", "--kind", "parsed,envs", "--json"],
    ["env", "list", "--json"],
    ["env", "gc", "--json"],
  ]
  const seen = new Set<string>()
  for (const args of runs) {
    const result = await cli(args, { cwd: dir.path })
    for (const event of result.events) {
      seen.add(event.type)
      const fields = docs.get(event.type)
      expect(fields, `event type ${event.type} is documented`).toBeDefined()
      const names = new Set(fields?.map((f) => f.name))
      for (const key of Object.keys(event)) {
        if (key !== "type" && key !== "time") expect(names.has(key), `${event.type}.${key} is documented`).toBe(true)
      }
      for (const field of fields ?? []) {
        if (!field.optional) expect(event, `${event.type} has ${field.name}`).toHaveProperty(field.name)
      }
      expect(typeof event.time).toBe("string")
    }
  }
  for (const type of ["version", "help", "project.validated", "project.described", "run.planned", "run.created", "log", "run.finished", "error", "warning", "cache.listed", "cache.removed", "cache.collected", "env.listed", "env.collected", "run.listed", "runs.listed"]) {
    expect(seen.has(type), `scenarios exercised ${type}`).toBe(true)
  }
})
