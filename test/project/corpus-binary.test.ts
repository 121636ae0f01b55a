// Every real MLproject folder through the compiled binary: validate and describe exit as the expected outcome says, never crash.
import { describe, expect, test } from "bun:test"
import { cli } from "../lib/cli.ts"
import { hasShared, sharedSkipReason } from "../lib/shared.ts"
import { tmpdirFor } from "../lib/tmp.ts"
import { expected } from "./corpus-expected.ts"
import { projectFor, rows } from "./corpus-layout.ts"

describe.skipIf(!hasShared)(`mlproject validate and describe on the corpus${hasShared ? "" : ` (${sharedSkipReason})`}`, () => {
  test("each folder: exit 0 with warnings allowed, or exit 2 with a located error; no internal error", async () => {
    await using scratch = tmpdirFor("mlproject-corpus-bin-")
    const all = rows()
    const failures: string[] = []
    const check = async (row: (typeof all)[number]) => {
      // `REPO#sub` for the projects whose env file lives elsewhere in their repository: the repository is their root.
      const dir = projectFor(row, scratch.path).uri
      const want = expected[row.id]
      const [validate, describeRun] = await Promise.all([cli(["validate", dir, "--json"]), cli(["describe", dir, "--json"])])
      const events = [...validate.events, ...describeRun.events]
      if (events.some((e) => e.type === "error" && e.code === "internal")) failures.push(`${row.folder}: internal error`)
      const rejected = typeof want === "object" && "rejected" in want
      const hasErrors = typeof want === "object" && ("rejected" in want || "broken" in want || "python_env_invalid" in want || "nothing_to_run" in want)
      if (validate.code !== (hasErrors ? 2 : 0)) failures.push(`${row.folder}: validate exited ${validate.code}`)
      if (describeRun.code !== (rejected ? 2 : 0)) failures.push(`${row.folder}: describe exited ${describeRun.code}`)
      if (rejected) {
        const error = describeRun.events.find((e) => e.type === "error")
        if (!error?.file || !error.line) failures.push(`${row.folder}: rejection not located: ${JSON.stringify(error)}`)
      }
    }
    // A few at a time: 476 processes in all on a 2-core machine.
    for (let i = 0; i < all.length; i += 6) await Promise.all(all.slice(i, i + 6).map(check))
    expect(failures).toEqual([])
    expect(all.length).toBe(238)
  }, 300_000)
})
