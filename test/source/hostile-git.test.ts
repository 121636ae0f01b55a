// A served Git repository whose MLproject, env file, requirements file, script or subdir is a symlink out of it: refused, never read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { cli, type CliResult } from "../lib/cli.ts"
import { gitDaemon, type GitDaemon } from "../lib/git-daemon.ts"
import { gitRepo, type GitRepo } from "../lib/git.ts"

const secret = `S3CRET-${Math.random().toString(36).slice(2, 12)}`
let outside: string
let marker: string
let repo: GitRepo
let daemon: GitDaemon

const project = (body: string) => `name: hostile\n${body}entry_points:\n  main:\n    command: "touch ${"{m}"}"\n    parameters:\n      m: {type: string, default: x}\n`

beforeAll(async () => {
  // The host's files a hostile repository would like to read or run: a secret and a script that leaves a mark.
  outside = mkdtempSync(join(tmpdir(), "mlproject-host-"))
  marker = join(outside, "ran")
  writeFileSync(join(outside, "secret.yaml"), `${secret}: ${secret}\nname: ${secret}\nentry_points: {main: {command: "touch ${marker}"}}\n`)
  writeFileSync(join(outside, "secret.txt"), `${secret}==1.0\n-r ${secret}.txt\n`)
  writeFileSync(join(outside, "script.sh"), `touch ${marker}\necho ${secret}\n`)
  mkdirSync(join(outside, "hostproj"))
  writeFileSync(join(outside, "hostproj", "MLproject"), `name: host\nentry_points:\n  main:\n    command: "touch ${marker}; echo ${secret}"\n`)
  repo = gitRepo({
    commits: 2,
    files: {
      "env-link/MLproject": project("python_env: python_env.yaml\n"),
      "req-link/MLproject": project("python_env: python_env.yaml\n"),
      "req-link/python_env.yaml": 'python: "3.11"\ndependencies:\n  - -r requirements.txt\n',
      "req-abs/MLproject": project("python_env: python_env.yaml\n"),
      "req-abs/python_env.yaml": `python: "3.11"\ndependencies:\n  - -r ${join(outside, "secret.txt")}\n`,
      "conda-link/MLproject": project("conda_env: conda.yaml\n"),
      "script-link/MLproject": "name: scripts\n",
      "shared/MLproject.yaml": "name: shared\nentry_points:\n  main:\n    command: echo inside\n",
    },
    symlinks: {
      "mlp-link/MLproject": join(outside, "secret.yaml"),
      "mlp-zero/MLproject": "/dev/zero",
      "env-link/python_env.yaml": join(outside, "secret.yaml"),
      "req-link/requirements.txt": join(outside, "secret.txt"),
      "conda-link/conda.yaml": join(outside, "secret.yaml"),
      "script-link/train.sh": join(outside, "script.sh"),
      "subdir-link": join(outside, "hostproj"),
      // A symlink that stays inside the repository is fine, as in MLflow.
      "ok/MLproject": "../shared/MLproject.yaml",
    },
  })
  daemon = await gitDaemon(repo.base)
})

afterAll(async () => {
  await daemon[Symbol.asyncDispose]()
  await repo[Symbol.asyncDispose]()
  rmSync(outside, { recursive: true, force: true })
})

/** `names`: the file the refusal must name. A script is only named by `run -e`: validate just finds nothing to run. */
type Case = { sub: string; args?: string[]; names: string; validate?: "nothing_to_run" }
const cases: Case[] = [
  { sub: "mlp-link", names: "MLproject" },
  { sub: "mlp-zero", names: "MLproject" },
  { sub: "env-link", names: "python_env.yaml" },
  { sub: "req-link", names: "requirements.txt" },
  { sub: "req-abs", names: "secret.txt" },
  { sub: "conda-link", names: "conda.yaml" },
  { sub: "script-link", args: ["-e", "train.sh"], names: "train.sh", validate: "nothing_to_run" },
  { sub: "subdir-link", names: "subdir-link" },
]

const errorOf = (result: CliResult) => result.events.find((e) => e.type === "error") as Record<string, unknown> | undefined

/** The failed command's own diagnostics: the error event of run, or validate's error diagnostics. */
const problems = (result: CliResult): Array<Record<string, unknown>> => {
  const validated = result.events.find((e) => e.type === "project.validated") as { diagnostics?: Array<Record<string, unknown>> } | undefined
  return [...(validated?.diagnostics ?? []).filter((d) => d.severity === "error"), ...(errorOf(result) ? [errorOf(result) as Record<string, unknown>] : [])]
}

const sources = () => [
  ["git daemon", `${daemon.url}/repo.git`],
  ["bare repository path", repo.path],
] as const

describe("symlinks out of a fetched Git repository", () => {
  for (const c of cases) {
    test(`${c.sub}: validate and run exit 2 naming ${c.names}; nothing outside is read or run`, async () => {
      for (const [, base] of sources()) {
        const uri = `${base}#${c.sub}`
        const validate = await cli(["validate", uri, "--json"])
        const run = await cli(["run", uri, ...(c.args ?? []), "--json"], { cwd: outside })
        for (const result of [validate, run]) {
          expect(result.code).toBe(2)
          const found = problems(result)
          expect(found.some((p) => p.code === "internal")).toBe(false)
          if (result === validate && c.validate) expect(found.map((p) => p.code)).toEqual(["project.nothing_to_run"])
          else expect(found.some((p) => String(p.message).includes(`${c.names} resolves to`) && String(p.message).includes("outside the project folder"))).toBe(true)
          expect(result.stdout + result.stderr).not.toContain(secret)
          expect(result.events.some((e) => e.type === "run.created")).toBe(false)
          expect(result.ms).toBeLessThan(10_000)
        }
      }
      expect(existsSync(marker)).toBe(false)
    }, 60_000)
  }

  test("a symlink that stays inside the repository works, as in MLflow", async () => {
    for (const [, base] of sources()) {
      const validate = await cli(["validate", `${base}#ok`, "--json"])
      expect(validate.code).toBe(0)
      const run = await cli(["run", `${base}#ok`, "--json"], { cwd: outside })
      expect(run.code).toBe(0)
      expect(run.events.some((e) => e.type === "log" && e.line === "inside")).toBe(true)
    }
  }, 60_000)
})
