// Test Git repositories: bare repos with thousands of commits built by `git fast-import`, tags, submodules.
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export type GitRepo = {
  /** Folder holding the bare repositories (a git daemon's --base-path). */
  base: string
  /** Absolute path of the bare repository. */
  path: string
  /** Name of the bare repository folder, e.g. `repo.git`. */
  name: string
  /** Sha of commit number i (1-based; the last one is the tip of `main`). */
  commit(i: number): string
  head: string
  [Symbol.asyncDispose](): Promise<void>
}

export type RepoOptions = {
  commits?: number
  /** Extra files in every commit: path → content. */
  files?: Record<string, string>
  /** Symbolic links in the first commit: path → target (git mode 120000; a checkout makes real symlinks). */
  symlinks?: Record<string, string>
  /** Files that change with every commit (the commit number is appended), making each tree differ. */
  churn?: number
  /** Extra branches: name → commit number. */
  branches?: Record<string, number>
  /** Lightweight tags: name → commit number. */
  tags?: Record<string, number>
  /** Annotated tags: name → commit number. */
  annotated?: Record<string, number>
  /** Submodules: path → { url, commit }, recorded in .gitmodules and as gitlinks. */
  submodules?: Record<string, { url: string; commit: string }>
  /** Put the repository into this folder instead of a fresh temp folder. */
  base?: string
  name?: string
}

export const sh = (argv: string[], options: { cwd?: string; stdin?: string; env?: Record<string, string> } = {}): string => {
  const result = Bun.spawnSync(argv, {
    cwd: options.cwd,
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", ...options.env },
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  })
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${result.exitCode}): ${result.stderr.toString()}`)
  return result.stdout.toString().trim()
}

const project = (name: string, up = "") => `name: ${name}\nentry_points:\n  main:\n    command: "cat ${up}counter.txt"\n`

const blob = (content: string) => `data ${Buffer.byteLength(content)}\n${content}\n`

/** The fast-import stream: commit i rewrites counter.txt and the churn files, so every tree differs. */
const stream = (options: RepoOptions, total: number): string => {
  const parts: string[] = []
  const when = 1_700_000_000
  for (let i = 1; i <= total; i++) {
    const message = `commit ${i}\n`
    parts.push(`commit refs/heads/main\nmark :${i}\ncommitter Test <test@example.com> ${when + i} +0000\n${blob(message)}`)
    if (i > 1) parts.push(`from :${i - 1}\n`)
    if (i === 1) {
      parts.push(`M 100644 inline MLproject\n${blob(project("deep"))}`)
      parts.push(`M 100644 inline sub/dir/MLproject\n${blob(project("subdir", "../../"))}`)
      parts.push(`M 100644 inline v1.2/MLproject\n${blob(project("dotted", "../"))}`)
      for (const [path, content] of Object.entries(options.files ?? {})) parts.push(`M 100644 inline ${path}\n${blob(content)}`)
      for (const [path, target] of Object.entries(options.symlinks ?? {})) parts.push(`M 120000 inline ${path}\n${blob(target)}`)
      for (const [path, sub] of Object.entries(options.submodules ?? {})) {
        parts.push(`M 160000 ${sub.commit} ${path}\n`)
      }
      const modules = Object.entries(options.submodules ?? {})
        .map(([path, sub]) => `[submodule "${path}"]\n\tpath = ${path}\n\turl = ${sub.url}\n`)
        .join("")
      if (modules) parts.push(`M 100644 inline .gitmodules\n${blob(modules)}`)
    }
    parts.push(`M 100644 inline counter.txt\n${blob(`${i}\n`)}`)
    for (let f = 0; f < (options.churn ?? 0); f++) parts.push(`M 100644 inline churn/f${f}.txt\n${blob(`file ${f} at ${i}\n`.repeat(20))}`)
    parts.push("\n")
  }
  for (const [name, at] of Object.entries(options.branches ?? {})) parts.push(`reset refs/heads/${name}\nfrom :${at}\n\n`)
  for (const [name, at] of Object.entries(options.tags ?? {})) parts.push(`reset refs/tags/${name}\nfrom :${at}\n\n`)
  for (const [name, at] of Object.entries(options.annotated ?? {})) {
    parts.push(`tag ${name}\nfrom :${at}\ntagger Test <test@example.com> ${when} +0000\n${blob(`release ${name}\n`)}`)
  }
  return parts.join("")
}

/** A bare repository whose commit i is known by sha; `main` is the default branch. */
export const gitRepo = (options: RepoOptions = {}): GitRepo => {
  const total = options.commits ?? 10
  const base = options.base ?? mkdtempSync(join(tmpdir(), "mlproject-git-"))
  const name = options.name ?? "repo.git"
  const path = join(base, name)
  const marks = join(base, `${name}.marks`)
  try {
    sh(["git", "init", "-q", "--bare", "--initial-branch=main", path])
    sh(["git", "-C", path, "fast-import", "--quiet", `--export-marks=${marks}`], { stdin: stream(options, total) })
  } catch (error) {
    rmSync(options.base ? path : base, { recursive: true, force: true })
    throw error
  }
  const shas = new Map<number, string>()
  for (const line of readFileSync(marks, "utf8").split("\n")) {
    const match = /^:(\d+) ([0-9a-f]{40})$/.exec(line)
    if (match) shas.set(Number(match[1]), match[2] as string)
  }
  rmSync(marks, { force: true })
  const commit = (i: number): string => {
    const sha = shas.get(i)
    if (!sha) throw new Error(`repo has no commit ${i}`)
    return sha
  }
  return {
    base,
    path,
    name,
    commit,
    head: commit(total),
    async [Symbol.asyncDispose]() {
      if (!options.base) rmSync(base, { recursive: true, force: true })
    },
  }
}

/** A free TCP port on 127.0.0.1 (bound and released; the caller starts its server on it at once). */
export const freePort = (): number => {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const port = server.port
  server.stop(true)
  return port
}
