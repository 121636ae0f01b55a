// Loads every real MLproject folder of the shared corpus and checks the outcome MLflow's behaviour predicts.
import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileLevelErrors, inspectProject } from "../../src/project/load.ts"
import type { Diagnostic } from "../../src/project/types.ts"
import { hasShared, sharedSkipReason } from "../lib/shared.ts"
import { corpusRoot as root, projectFor, rows } from "./corpus-layout.ts"
import { tmpdirFor } from "../lib/tmp.ts"
import { expected, type Outcome } from "./corpus-expected.ts"

const outcomeOf = (diagnostics: Diagnostic[]): Outcome => {
  const [fileError] = fileLevelErrors(diagnostics)
  if (fileError) return { rejected: fileError.code }
  const broken = [...new Set(diagnostics.filter((d) => d.severity === "error" && d.entry_point !== undefined).map((d) => d.entry_point as string))]
  const pythonEnv = diagnostics.some((d) => d.code === "python_env.invalid")
  const nothing = diagnostics.some((d) => d.code === "project.nothing_to_run" || d.code === "project.no_entry_points")
  if (broken.length || pythonEnv || nothing) {
    return { ...(broken.length ? { broken } : {}), ...(pythonEnv ? { python_env_invalid: true as const } : {}), ...(nothing ? { nothing_to_run: true as const } : {}) }
  }
  return diagnostics.length ? { warnings: [...new Set(diagnostics.map((d) => d.code))].sort() } : "ok"
}

describe.skipIf(!hasShared)(`the real-world MLproject corpus${hasShared ? "" : ` (${sharedSkipReason})`}`, () => {
  const all = rows()

  test("the expected-outcome table covers exactly the corpus folders", () => {
    expect(all.length).toBe(238)
    expect(all.every((r) => r.folder !== "")).toBe(true)
    expect(Object.keys(expected).sort()).toEqual(all.map((r) => r.id).sort())
  })

  for (const row of all) {
    test(`${row.folder}`, async () => {
      await using scratch = tmpdirFor("mlproject-corpus-")
      const layout = projectFor(row, scratch.path)
      const { project, diagnostics } = inspectProject(layout.dir, { root: layout.root })
      const want = expected[row.id]
      expect(outcomeOf(diagnostics)).toEqual(want as Outcome)
      for (const d of diagnostics) {
        expect(d.message).not.toBe("")
        expect(d.file).toBeString()
      }
      for (const d of fileLevelErrors(diagnostics)) {
        expect(d.line).toBeGreaterThanOrEqual(1)
        expect(d.column).toBeGreaterThanOrEqual(1)
      }
      if (typeof want === "object" && "broken" in want && project) {
        const usable = project.entry_points.filter((ep) => ep.problems.length === 0).map((ep) => ep.name)
        expect(usable.length + (want.broken?.length ?? 0)).toBe(project.entry_points.length)
      }
    })
  }

  test("without the rebuilt layout, a project whose env file lives outside its folder is rejected, located", () => {
    const row = all.find((r) => r.id === "028")
    if (!row) throw new Error("corpus row 028 missing")
    const { diagnostics } = inspectProject(join(root, row.folder))
    expect(fileLevelErrors(diagnostics).map((d) => [d.code, d.file, d.line, d.column])).toEqual([["env_file.missing", join(root, row.folder, "MLProject"), 3, 12]])
  })

  test("the misnamed files (048 MLproject.yml, 234 MLproject_dockerfile) read as MLproject", async () => {
    await using scratch = tmpdirFor("mlproject-corpus-")
    const load = (id: string, name: string) => {
      const row = all.find((r) => r.id === id)
      if (!row) throw new Error(`corpus row ${id} missing`)
      scratch.write(`${id}/MLproject`, readFileSync(join(root, row.folder, name), "utf8"))
      return inspectProject(join(scratch.path, id)).diagnostics
    }
    expect(outcomeOf(load("048", "MLproject.yml"))).toEqual({ warnings: ["parameter.type"] })
    // From a non-mainline commit that allowed docker_env.dockerfile; mainline MLflow rejects it (no image).
    const dockerfile = load("234", "MLproject_dockerfile")
    expect(outcomeOf(dockerfile)).toEqual({ rejected: "docker_env.invalid" })
    expect(dockerfile.find((d) => d.code === "docker_env.unknown_key")?.hint).toBe("MLflow cannot build from a Dockerfile: build and tag the image, then set image:")
  })
})
