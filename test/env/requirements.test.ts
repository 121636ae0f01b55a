// Requirement lines, the files they reference, the generated install file, and the cache key built from them.
import { describe, expect, test } from "bun:test"
import { cpSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { canonicalJson, envKey } from "../../src/env/key.ts"
import { installFile, logicalLines, referenceOf, referencedFiles } from "../../src/env/requirements.ts"
import { envProject } from "../lib/env-project.ts"

describe("requirement lines", () => {
  test.each([
    ["-r requirements.txt", { kind: "requirement", target: "requirements.txt" }],
    ["-rreqs/base.txt", { kind: "requirement", target: "reqs/base.txt" }],
    ["--requirement=a b.txt", { kind: "requirement", target: "a b.txt" }],
    ["--requirement  extra.txt", { kind: "requirement", target: "extra.txt" }],
    ["-c constraints.txt", { kind: "constraint", target: "constraints.txt" }],
    ["--constraint=c.txt", { kind: "constraint", target: "c.txt" }],
    ["numpy==1.26", null],
    ["--index-url https://example.invalid/simple", null],
    ["-e .", null],
  ])("%p", (line, expected) => {
    expect(referenceOf(line)).toEqual(expected as ReturnType<typeof referenceOf>)
  })

  test("continuations are joined, comments and blanks dropped, line numbers kept", () => {
    const text = "# header\nnumpy==1.26  # pinned\n\npandas \\\n  >=2.0\nurl#fragment-is-not-a-comment\n"
    expect(logicalLines(text)).toEqual([
      { text: "numpy==1.26", line: 2 },
      { text: "pandas   >=2.0", line: 4 },
      { text: "url#fragment-is-not-a-comment", line: 6 },
    ])
  })
})

describe("referenced files", () => {
  test("follows -r and -c recursively, nested paths relative to the including file", async () => {
    await using p = envProject({
      "requirements.txt": "-r reqs/base.txt\nmlp_alpha\n",
      "reqs/base.txt": "-c ../constraints.txt\n-r more.txt  # nested\n",
      "reqs/more.txt": "mlp_beta\n-r ../requirements.txt\n",
      "constraints.txt": "mlp_beta<3\n",
      "dist/mlp_local-1.0-py3-none-any.whl": "not really a wheel",
    })
    const files = referencedFiles(["-r requirements.txt", "./dist/mlp_local-1.0-py3-none-any.whl", "numpy"], p.dir, p.dir, { file: "python_env.yaml" })
    expect(files.map((f) => f.path.slice(p.dir.length + 1)).sort()).toEqual([
      "constraints.txt",
      "dist/mlp_local-1.0-py3-none-any.whl",
      "reqs/base.txt",
      "reqs/more.txt",
      "requirements.txt",
    ])
  })

  test("a missing file is a located error (exit 2) naming the file and where it was referenced", async () => {
    await using p = envProject({ "requirements.txt": "mlp_alpha\n\n-r missing.txt\n" })
    let caught: unknown
    try {
      referencedFiles(["-r requirements.txt"], p.dir, p.dir, { file: "python_env.yaml" })
    } catch (error) {
      caught = error
    }
    expect(caught).toMatchObject({ code: "env.requirements.unreadable", exitCode: 2, location: { file: join(p.dir, "requirements.txt"), line: 3 } })
    expect((caught as Error).message).toContain("cannot read requirements file 'missing.txt'")
    expect((caught as Error).message).toContain("no such file")
  })

  test("the install file makes -r/-c absolute and leaves other lines as written", () => {
    expect(installFile(["-r requirements.txt", "-c /abs/c.txt", "./pkg", "mlp_alpha==1.0.0 --hash=sha256:00"], "/proj")).toBe(
      "-r /proj/requirements.txt\n-c /abs/c.txt\n./pkg\nmlp_alpha==1.0.0 --hash=sha256:00\n",
    )
  })
})

describe("cache key", () => {
  const keyFor = (dir: string, spec: unknown = { dependencies: ["-r requirements.txt"] }) =>
    envKey({ tool: "virtualenv", python: "3.11.7", spec, files: referencedFiles(["-r requirements.txt"], dir, dir, { file: "python_env.yaml" }), projectDir: dir })

  test("changes with the contents of a referenced requirements file (MLflow #10525 reuses the stale env)", async () => {
    await using p = envProject({ "requirements.txt": "mlp_alpha==1.0.0\n", "reqs.txt": "" })
    const before = keyFor(p.dir)
    p.write("requirements.txt", "mlp_alpha==2.0.0\n")
    expect(keyFor(p.dir)).not.toBe(before)
    expect(keyFor(p.dir)).toMatch(/^virtualenv-[0-9a-f]{16}$/)
  })

  test("is the same for a copy of the project elsewhere (a fresh working copy hits the cache)", async () => {
    await using p = envProject({ "requirements.txt": "mlp_alpha==1.0.0\n" })
    const copy = mkdtempSync(join(tmpdir(), "mlproject-envcopy-"))
    try {
      cpSync(p.dir, copy, { recursive: true })
      expect(keyFor(copy)).toBe(keyFor(p.dir))
    } finally {
      rmSync(copy, { recursive: true, force: true })
    }
  })

  test("depends on the interpreter version and the tool", async () => {
    await using p = envProject({ "requirements.txt": "x\n" })
    const base = { spec: {}, files: [], projectDir: p.dir }
    const keys = new Set([
      envKey({ ...base, tool: "virtualenv", python: "3.11.7" }),
      envKey({ ...base, tool: "virtualenv", python: "3.11.8" }),
      envKey({ ...base, tool: "uv", python: "3.11.7" }),
    ])
    expect(keys.size).toBe(3)
  })

  test("canonical JSON sorts keys and ignores undefined", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}')
  })
})
