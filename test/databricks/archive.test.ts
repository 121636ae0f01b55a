// The project archive: byte-identical for the same tree, one root folder, normalised entries, exclusions, bounded memory.
import { describe, expect, test } from "bun:test"
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { packedBefore, projectArchive } from "../../src/databricks/archive.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const tarList = (file: string): string[] => {
  const result = Bun.spawnSync(["tar", "--numeric-owner", "-tvzf", file])
  expect(result.exitCode).toBe(0)
  return result.stdout.toString().trim().split("\n")
}

const longName = `${"deep-folder-name/".repeat(6)}a-file-whose-path-is-longer-than-ustar-allows.txt`

const project = (tmp: TmpDir): string => {
  const dir = join(tmp.path, "project")
  tmp.write("project/MLproject", "name: demo\nentry_points:\n  main:\n    command: python train.py\n")
  tmp.write("project/train.py", "print('hi')\n")
  tmp.write("project/run.sh", "#!/bin/sh\necho run\n")
  chmodSync(join(dir, "run.sh"), 0o700)
  chmodSync(join(dir, "train.py"), 0o600)
  tmp.write("project/data/b.csv", "1,2\n")
  tmp.write("project/data/a.csv", "3,4\n")
  tmp.write(`project/${longName}`, "long\n")
  tmp.write("project/mlruns/0/meta.yaml", "name: Default\n")
  tmp.write("project/.git/HEAD", "ref: refs/heads/main\n")
  tmp.write("project/data/mlruns", "a file named mlruns is left out too\n")
  symlinkSync("data/a.csv", join(dir, "link.csv"))
  symlinkSync("/etc/passwd", join(dir, "outside"))
  return dir
}

describe("packedBefore: an unchanged project is not packed again", () => {
  test("remembered only with a home; any change to what the archive holds forgets it, a change to what it leaves out does not", async () => {
    await using tmp = tmpdirFor()
    const dir = project(tmp)
    const env = { MLPROJECT_HOME: join(tmp.path, "home") }
    const trusting = { racyMs: 0 }
    expect(await packedBefore(dir, env, trusting)).toBeNull()
    await projectArchive(dir, join(tmp.path, "0.tar.gz"))
    expect(await packedBefore(dir, env, trusting)).toBeNull()
    await Bun.sleep(5)
    const packed = await projectArchive(dir, join(tmp.path, "1.tar.gz"), env)
    expect(await packedBefore(dir, env, trusting)).toEqual(packed)
    expect(await packedBefore(join(dir, "."), env, trusting)).toEqual(packed)
    // Another build may pack the same tree differently: its memo is not used.
    const memoDir = join(env.MLPROJECT_HOME, "databricks")
    const [memoName] = readdirSync(memoDir)
    const memoPath = join(memoDir, String(memoName))
    const memo = readFileSync(memoPath, "utf8")
    writeFileSync(memoPath, memo.replace(/"build":"[^"]*"/, '"build":"another"'))
    expect(await packedBefore(dir, env, trusting)).toBeNull()
    writeFileSync(memoPath, memo)
    // What the archive leaves out (mlruns, .git) may change freely.
    tmp.write("project/mlruns/0/run/meta.yaml", "x\n")
    tmp.write("project/.git/ORIG_HEAD", "x\n")
    expect(await packedBefore(dir, env, trusting)).toEqual(packed)
    const changes: Array<[string, () => void]> = [
      ["a file rewritten with the same size", () => writeFileSync(join(dir, "train.py"), "print('ho')\n")],
      ["a file's mode", () => chmodSync(join(dir, "run.sh"), 0o755)],
      ["a file added deep down", () => tmp.write("project/data/c.csv", "5\n")],
      ["a link retargeted", () => (Bun.spawnSync(["ln", "-sfn", "data/b.csv", join(dir, "link.csv")]), undefined)],
      ["only an mtime", () => utimesSync(join(dir, "data", "a.csv"), new Date(2001, 1, 1), new Date(2001, 1, 1))],
    ]
    for (const [what, change] of changes) {
      await Bun.sleep(5)
      await projectArchive(dir, join(tmp.path, "2.tar.gz"), env)
      expect([what, await packedBefore(dir, env, trusting)]).not.toEqual([what, null])
      change()
      expect([what, await packedBefore(dir, env, trusting)]).toEqual([what, null])
    }
  })

  test("a tree changed just before it was packed is not trusted (a second change in the same tick would keep its stat)", async () => {
    await using tmp = tmpdirFor()
    const dir = project(tmp)
    const env = { MLPROJECT_HOME: join(tmp.path, "home") }
    await Bun.sleep(5)
    const packed = await projectArchive(dir, join(tmp.path, "1.tar.gz"), env)
    expect(await packedBefore(dir, env)).toBeNull()
    expect(await packedBefore(dir, env, { racyMs: 0 })).toEqual(packed)
  })
})

describe("projectArchive", () => {
  test("the same tree gives the same bytes; an mtime alone changes nothing, content does", async () => {
    await using tmp = tmpdirFor()
    const dir = project(tmp)
    const first = await projectArchive(dir, join(tmp.path, "1.tar.gz"))
    const second = await projectArchive(dir, join(tmp.path, "2.tar.gz"))
    expect(second).toEqual(first)
    expect(readFileSync(join(tmp.path, "2.tar.gz"))).toEqual(readFileSync(join(tmp.path, "1.tar.gz")))
    expect(first.bytes).toBe(readFileSync(join(tmp.path, "1.tar.gz")).length)
    expect(first.sha256).toBe(new Bun.CryptoHasher("sha256").update(readFileSync(join(tmp.path, "1.tar.gz"))).digest("hex"))
    expect(first.files).toBe(6)
    utimesSync(join(dir, "train.py"), new Date(2001, 1, 1), new Date(2001, 1, 1))
    utimesSync(join(dir, "data"), new Date(2002, 1, 1), new Date(2002, 1, 1))
    expect((await projectArchive(dir, join(tmp.path, "3.tar.gz"))).sha256).toBe(first.sha256)
    writeFileSync(join(dir, "train.py"), "print('ho')\n")
    expect((await projectArchive(dir, join(tmp.path, "4.tar.gz"))).sha256).not.toBe(first.sha256)
    // Another folder with the same content gives the same archive: nothing of the folder's own name or place is in it.
    await using other = tmpdirFor()
    const copy = project(other)
    writeFileSync(join(copy, "train.py"), "print('ho')\n")
    chmodSync(join(copy, "train.py"), 0o644)
    expect((await projectArchive(copy, join(other.path, "x.tar.gz"))).sha256).toBe((await projectArchive(dir, join(tmp.path, "5.tar.gz"))).sha256)
  })

  test("one root folder mlflow-project/, sorted entries, owner 0/0, modes 0644/0755, symlinks kept, mlruns and .git left out", async () => {
    await using tmp = tmpdirFor()
    const dir = project(tmp)
    const out = join(tmp.path, "p.tar.gz")
    await projectArchive(dir, out)
    const lines = tarList(out)
    const names = lines.map((line) => line.split(/\s+/).slice(5).join(" "))
    expect(names).toEqual([
      "mlflow-project/",
      "mlflow-project/MLproject",
      "mlflow-project/data/",
      "mlflow-project/data/a.csv",
      "mlflow-project/data/b.csv",
      "mlflow-project/deep-folder-name/",
      "mlflow-project/deep-folder-name/deep-folder-name/",
      "mlflow-project/deep-folder-name/deep-folder-name/deep-folder-name/",
      "mlflow-project/deep-folder-name/deep-folder-name/deep-folder-name/deep-folder-name/",
      "mlflow-project/deep-folder-name/deep-folder-name/deep-folder-name/deep-folder-name/deep-folder-name/",
      "mlflow-project/deep-folder-name/deep-folder-name/deep-folder-name/deep-folder-name/deep-folder-name/deep-folder-name/",
      `mlflow-project/${longName}`,
      "mlflow-project/link.csv -> data/a.csv",
      "mlflow-project/outside -> /etc/passwd",
      "mlflow-project/run.sh",
      "mlflow-project/train.py",
    ])
    const modeOf = (name: string) => lines.find((line) => line.endsWith(` ${name}`))?.split(/\s+/)[0]
    expect(modeOf("mlflow-project/run.sh")).toBe("-rwxr-xr-x")
    expect(modeOf("mlflow-project/train.py")).toBe("-rw-r--r--")
    expect(modeOf("mlflow-project/data/")).toBe("drwxr-xr-x")
    expect(lines.every((line) => line.split(/\s+/)[1] === "0/0")).toBe(true)
    expect(lines.every((line) => line.includes("1970-01-01"))).toBe(true)
    // The archive unpacks to the same files, the symlink as a link.
    await using unpacked = tmpdirFor()
    expect(Bun.spawnSync(["tar", "-xzf", out, "-C", unpacked.path]).exitCode).toBe(0)
    expect(readFileSync(join(unpacked.path, "mlflow-project", longName), "utf8")).toBe("long\n")
    expect(readlinkSync(join(unpacked.path, "mlflow-project", "link.csv"))).toBe("data/a.csv")
    expect(readFileSync(join(unpacked.path, "mlflow-project", "data", "b.csv"), "utf8")).toBe("1,2\n")
  })

  test("an unreadable folder is a databricks.archive error naming it", async () => {
    await using tmp = tmpdirFor()
    const error = await projectArchive(join(tmp.path, "missing"), join(tmp.path, "x.tar.gz")).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: "databricks.archive", exitCode: 1 })
    expect(String((error as Error).message)).toContain(join(tmp.path, "missing"))
  })

  test("a 300 MB tree is archived with modest memory", async () => {
    await using tmp = tmpdirFor()
    const dir = join(tmp.path, "big")
    mkdirSync(join(dir, "data"), { recursive: true })
    // Sparse files: 300 MB to read and compress, nothing of it on the disk.
    for (const name of ["a.bin", "b.bin", "c.bin"]) {
      const file = join(dir, "data", name)
      writeFileSync(file, "")
      Bun.spawnSync(["truncate", "-s", "100M", file])
    }
    const script = tmp.write(
      "measure.ts",
      `import { projectArchive } from ${JSON.stringify(resolve(import.meta.dir, "../../src/databricks/archive.ts"))}
let peak = 0
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
const result = await projectArchive(${JSON.stringify(dir)}, ${JSON.stringify(join(tmp.path, "big.tar.gz"))})
clearInterval(timer)
peak = Math.max(peak, process.memoryUsage().rss)
console.log(JSON.stringify({ ...result, peak }))
`,
    )
    const child = Bun.spawnSync([process.execPath, script], { env: process.env })
    expect(child.stderr.toString()).toBe("")
    const report = JSON.parse(child.stdout.toString()) as { files: number; bytes: number; peak: number }
    expect(report.files).toBe(3)
    expect(report.bytes).toBeLessThan(2 * 1024 * 1024)
    // About 80 MB here; holding one of the 100 MB files would pass 150 MB.
    expect(report.peak).toBeLessThan(150 * 1024 * 1024)
  }, 60_000)
})
