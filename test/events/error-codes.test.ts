// Every error code is documented and used: src/error-codes.ts, the ToolError calls in src/ and docs/events.md agree.
import { expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { errorCodes } from "../../src/error-codes.ts"

const root = resolve(import.meta.dir, "..", "..")

const documentedCodes = (): string[] => {
  const text = readFileSync(resolve(root, "docs", "events.md"), "utf8")
  const section = text.slice(text.indexOf("## Error codes"))
  return [...section.matchAll(/^\| `([a-z_.]+)` \| (\d+) \|/gm)].map((match) => match[1] as string)
}

const sources = (): string =>
  [...new Bun.Glob("src/**/*.ts").scanSync(root)].filter((file) => !file.endsWith("error-codes.ts")).map((file) => readFileSync(resolve(root, file), "utf8")).join("\n")

test("docs/events.md lists exactly the codes of src/error-codes.ts, once each", () => {
  const documented = documentedCodes()
  expect(new Set(documented).size).toBe(documented.length)
  expect([...documented].sort()).toEqual([...errorCodes].sort())
})

test("every listed code is used by the code (no stale entries)", () => {
  const text = sources()
  // Lock waits name their codes from their owner: `${what}.interrupted`, `${what}.timeout`.
  const lockOwners = ["lock", ...[...text.matchAll(/what: "([a-z.]+)"/g)].map((match) => match[1] as string)]
  const generated = new Set(lockOwners.flatMap((owner) => [`${owner}.interrupted`, `${owner}.timeout`]))
  const unused = errorCodes.filter((code) => code !== "internal" && !generated.has(code) && !text.includes(`"${code}"`))
  expect(unused).toEqual([])
})
