// Every generated hostile project through the binary: validate and run exit 2, located, fast, never an internal error, never a host file's contents.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { cli, type CliResult } from "../lib/cli.ts"
import { variants, type Host } from "./hostile-variants.ts"

let base: string
let host: Host

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "mlproject-hostile-"))
  const dir = join(base, "host")
  const secret = `S3CRET-${Math.random().toString(36).slice(2, 12)}`
  const marker = join(base, "ran")
  host = { dir, secret, marker }
  mkdirSync(join(dir, "hostproj"), { recursive: true })
  // Each target is written so that reading it would echo the secret: as YAML keys and values, as requirement lines.
  writeFileSync(join(dir, "secret.yaml"), `${secret}: ${secret}\nname: ${secret}\npython: "${secret}"\nentry_points: {main: {command: "touch ${marker}"}}\n`)
  writeFileSync(join(dir, "secret.txt"), `${secret}==1..0\n${secret}\n`)
  writeFileSync(join(dir, "base.txt"), `${secret}==1..0\n`)
  writeFileSync(join(dir, "script.sh"), `touch ${marker}\necho ${secret}\n`)
  writeFileSync(join(dir, "hostproj", "MLproject"), `name: host\nentry_points:\n  main:\n    command: "touch ${marker}; echo ${secret}"\n`)
})

afterAll(() => rmSync(base, { recursive: true, force: true }))

const all = variants()

/** Errors the command reported: validate's error diagnostics, and the error event. */
const problems = (result: CliResult): Array<Record<string, unknown>> => {
  const validated = result.events.find((e) => e.type === "project.validated") as { diagnostics?: Array<Record<string, unknown>> } | undefined
  const error = result.events.find((e) => e.type === "error")
  return [...(validated?.diagnostics ?? []).filter((d) => d.severity === "error"), ...(error ? [error] : [])]
}

/** "MLproject": an error at MLproject:LINE:COL; anything else: an error whose message or file names it. */
const located = (found: Array<Record<string, unknown>>, where: string): boolean =>
  where === "MLproject"
    ? found.some((p) => String(p.file ?? "").endsWith("/MLproject") && Number(p.line) >= 1 && Number(p.column) >= 1)
    : found.some((p) => String(p.message).includes(where) || String(p.file ?? "").endsWith(`/${where}`))

describe("generated hostile MLproject variants", () => {
  test("there are at least 50 of them, each with its own name", () => {
    expect(all.length).toBeGreaterThanOrEqual(50)
    expect(new Set(all.map((v) => v.name)).size).toBe(all.length)
  })

  all.forEach((variant, i) => {
    test(variant.name, async () => {
      const dir = join(base, `v${i}`)
      mkdirSync(dir)
      variant.setup(dir, host)
      const uri = variant.uri?.(dir) ?? dir
      // The run's own cwd and cache: exit 2 must leave both as they were.
      const cwd = join(base, `cwd${i}`)
      mkdirSync(cwd)
      const env = { MLPROJECT_HOME: join(cwd, ".home") }
      const validate = await cli(["validate", uri, "--json"], { cwd, env })
      const human = await cli(["validate", uri], { cwd, env })
      const run = await cli(["run", uri, ...(variant.run?.(host) ?? []), "--json"], { cwd, env })
      const report = (r: CliResult) => `${variant.name}: exit ${r.code} in ${Math.round(r.ms)} ms\n${r.stdout}\n${r.stderr}`
      for (const [result, where] of [
        [validate, variant.validateWhere ?? variant.where],
        [run, variant.where],
      ] as const) {
        expect(result.code, report(result)).toBe(2)
        const found = problems(result)
        expect(found.some((p) => p.code === "internal"), report(result)).toBe(false)
        expect(located(found, where), report(result)).toBe(true)
        expect(result.events.some((e) => e.type === "run.created")).toBe(false)
      }
      if ((variant.validateWhere ?? variant.where) === "MLproject") expect(human.stdout + human.stderr).toMatch(/\/MLproject:\d+:\d+: error/)
      expect(human.code).toBe(2)
      for (const result of [validate, human, run]) {
        expect(result.ms, report(result)).toBeLessThan(2000)
        expect(result.stdout + result.stderr).not.toContain(host.secret)
        expect(result.stderr).not.toContain("internal error")
      }
      expect(existsSync(host.marker)).toBe(false)
      expect(readdirSync(cwd).filter((name) => name !== ".home")).toEqual([])
    }, 30_000)
  })
})
