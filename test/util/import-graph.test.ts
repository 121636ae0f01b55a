// Hot paths load no module they do not use: node:crypto, node:zlib and node:stream each cost a fresh process 2–3 ms
// to initialise, so the static imports (import() is deferred and left out) of these entry files must not reach them.
import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"

const src = resolve(import.meta.dir, "../../src")
const transpiler = new Bun.Transpiler({ loader: "ts" })

/** Every module the file's static imports reach, with the chain that first reached it. */
const staticGraph = (entry: string): Map<string, string[]> => {
  const reached = new Map<string, string[]>()
  const visit = (file: string, chain: string[]) => {
    const code = readFileSync(file, "utf8")
    for (const found of transpiler.scanImports(code)) {
      if (found.kind !== "import-statement") continue
      const path = found.path
      if (!path.startsWith(".")) {
        if (!reached.has(path)) reached.set(path, [...chain, path])
        continue
      }
      if (!/\.ts$/.test(path)) continue
      const target = resolve(dirname(file), path)
      if (reached.has(target)) continue
      reached.set(target, [...chain, target.slice(src.length + 1)])
      visit(target, [...chain, target.slice(src.length + 1)])
    }
  }
  visit(join(src, entry), [entry])
  return reached
}

const heavy = ["node:crypto", "crypto", "node:zlib", "zlib", "node:stream", "stream", "node:stream/promises", "node:http", "node:https"]

describe("static imports of hot paths", () => {
  test.each([
    // A local run, its supervisor (`--detach`) and `log metric`: startup is the cost of the trivial command.
    ["cli/run.ts"],
    ["run/supervise.ts"],
    ["backend/local.ts"],
    ["cli/log.ts"],
    // The Databricks backend of an unchanged project: the archive reused, nothing packed or hashed by node.
    ["backend/databricks.ts"],
    ["databricks/archive.ts"],
    ["backend/databricks-binary.ts"],
    ["databricks/upload.ts"],
  ])("%s reaches none of node:crypto, zlib, stream, http", (entry) => {
    const graph = staticGraph(entry)
    const found = heavy.filter((name) => graph.has(name)).map((name) => graph.get(name)?.join(" → "))
    expect(found).toEqual([])
    // The walk is real: it sees node:fs and our own modules.
    expect([...graph.keys()].some((name) => name.startsWith("node:"))).toBe(true)
  })

  test("the walk finds a heavy module where one is imported (the packer)", () => {
    expect(staticGraph("util/det-tar.ts").has("node:zlib")).toBe(true)
    expect(staticGraph("util/det-tar.ts").has("node:stream")).toBe(true)
  })
})
