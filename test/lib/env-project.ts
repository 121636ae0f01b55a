// Tiny projects with a python_env.yaml or conda.yaml, as loaded Project data, for environment tests.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import type { Project } from "../../src/project/types.ts"
import { offlinePip } from "./wheels.ts"

export type EnvProject = {
  dir: string
  project: Project
  write(relative: string, content: string): string
  [Symbol.asyncDispose](): Promise<void>
}

/** A project folder holding `files`; the env kind follows from python_env.yaml or conda.yaml among them. */
export const envProject = (files: Record<string, string>): EnvProject => {
  const dir = mkdtempSync(join(tmpdir(), "mlproject-envproj-"))
  const write = (relative: string, content: string) => {
    const file = join(dir, relative)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, content)
    return file
  }
  for (const [name, content] of Object.entries(files)) write(name, content)
  const env: Project["env"] =
    "python_env.yaml" in files
      ? { kind: "python_env", file: join(dir, "python_env.yaml"), implicit: true }
      : "conda.yaml" in files
        ? { kind: "conda_env", file: join(dir, "conda.yaml"), implicit: true }
        : { kind: "none" }
  const project: Project = { dir, root: dir, file: null, name: "envtest", env, entry_points: [], diagnostics: [] }
  return { dir, project, write, async [Symbol.asyncDispose]() {
    rmSync(dir, { recursive: true, force: true })
  } }
}

/** The five test packages as a python_env.yaml: the dependencies go through a requirements file. */
export const fivePackages = (python = "3.11") => ({
  "python_env.yaml": `python: "${python}"\nbuild_dependencies: []\ndependencies:\n  - -r requirements.txt\n`,
  "requirements.txt": "mlp_alpha==1.0.0\nmlp_beta\nmlp_gamma\nmlp_delta\nmlp_epsilon\n",
})

const homes: string[] = []

/** Built environments are megabytes each: test files call this in afterAll (bun fires no process exit event). */
export const removeEnvHomes = (): void => {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true })
}

/** The process environment with a fresh cache home and pip pointed only at the test wheelhouse. */
export const isolatedEnv = (extra: Record<string, string | undefined> = {}): Record<string, string | undefined> => {
  const home = mkdtempSync(join(tmpdir(), "mlproject-envhome-"))
  homes.push(home)
  return { ...process.env, ...offlinePip(), MLPROJECT_HOME: home, ...extra }
}

/** Collects what env/ emits, for assertions. */
export const recorder = () => {
  const events: Array<{ type: string } & Record<string, unknown>> = []
  return { events, emit: (event: { type: string }) => void events.push(event as (typeof events)[number]), of: (type: string) => events.filter((e) => e.type === type) }
}

/** The newest installed pyenv version of a minor line ("3.11" → "3.11.7"), as the code under test resolves it. */
export const installedPython = (minor: string): string => {
  const root = process.env.PYENV_ROOT ?? join(process.env.HOME ?? "/root", ".pyenv")
  const found = readdirSync(join(root, "versions"))
    .filter((name) => name.startsWith(`${minor}.`) && /^\d+\.\d+\.\d+$/.test(name))
    .sort((a, b) => Number(a.split(".")[2]) - Number(b.split(".")[2]))
    .at(-1)
  if (!found) throw new Error(`these tests need a pyenv Python ${minor} (pyenv install ${minor})`)
  return found
}
