// The .mlpack format: byte-identical packs, manifest first, checked round trips, precise refusals, bounded memory.
import { describe, expect, test } from "bun:test"
import { chmodSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import type { ErrorCode } from "../../src/error-codes.ts"
import { checkManifest, type PackContent } from "../../src/pack/manifest.ts"
import { packFormatVersion, readManifest, unpackPack, verifyPack, writePack } from "../../src/pack/format.ts"
import { tar, type TarEntry } from "../lib/archives.ts"
import { caught, thrown } from "../lib/caught.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const sha = (data: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex")
const wheel = "PK fake wheel bytes\n"
const wheelFile = "wheels/demo-1.0-py3-none-any.whl"

const stage = (tmp: TmpDir, name = "staged"): string => {
  const dir = join(tmp.path, name)
  tmp.write(`${name}/project/MLproject`, "name: demo\nentry_points:\n  main:\n    command: python train.py\n")
  tmp.write(`${name}/project/train.py`, "print('hi')\n")
  tmp.write(`${name}/project/run.sh`, "#!/bin/sh\necho run\n")
  chmodSync(join(dir, "project/run.sh"), 0o700)
  tmp.write(`${name}/project/data/a.csv`, "1,2\n")
  tmp.write(`${name}/${wheelFile}`, wheel)
  symlinkSync("data/a.csv", join(dir, "project/link.csv"))
  return dir
}

const content = (over: Partial<PackContent> = {}): PackContent => ({
  source: { uri: "https://example.com/demo.git", commit: "0123456789abcdef0123456789abcdef01234567", tree_digest: "sha256:" + "ab".repeat(32), subdirectory: null },
  project: { name: "demo", entry_points: ["main"] },
  env: { kind: "python_env", manager: "virtualenv", key: "k1", python: "3.11.9", platform: "linux-x86_64", wheels: [{ file: wheelFile, sha256: sha(wheel) }] },
  image: null,
  ...over,
})

/** A full manifest object for a hand-made pack listing `files`. */
const manifestFor = (files: Record<string, string>, over: Record<string, unknown> = {}) => ({
  format: 1,
  created_by: "mlproject test",
  ...content({ env: { kind: "none", manager: "local", key: null, python: null, platform: "any", wheels: [] } }),
  files,
  ...over,
})

const handMade = (tmp: TmpDir, entries: TarEntry[], manifest: unknown = manifestFor({})): string => {
  const file = join(tmp.path, "hand.mlpack")
  const text = typeof manifest === "string" ? manifest : JSON.stringify(manifest)
  writeFileSync(file, tar([{ name: "mlpack/manifest.json", data: text }, { name: "mlpack/", type: "dir" }, ...entries], true))
  return file
}

/** Rewrites a pack with one byte changed inside the content of the file holding `marker`. */
const tamper = (pack: string, marker: string): void => {
  const raw = Buffer.from(Bun.gunzipSync(readFileSync(pack)))
  const at = raw.indexOf(marker)
  expect(at).toBeGreaterThan(0)
  raw[at] = (raw[at] as number) ^ 1
  writeFileSync(pack, Bun.gzipSync(raw))
}

const entriesBeside = (tmp: TmpDir) => readdirSync(tmp.path).sort()

describe("writePack", () => {
  test("the same staged tree gives the same bytes, whatever the mtimes or the folder; content changes it", async () => {
    await using tmp = tmpdirFor()
    const dir = stage(tmp)
    const first = await writePack(dir, content(), join(tmp.path, "1.mlpack"))
    utimesSync(join(dir, "project/train.py"), new Date(2001, 1, 1), new Date(2001, 1, 1))
    utimesSync(join(dir, "project"), new Date(2002, 1, 1), new Date(2002, 1, 1))
    const second = await writePack(dir, content(), join(tmp.path, "2.mlpack"))
    expect(second).toEqual(first)
    expect(await writePack(stage(tmp, "elsewhere"), content(), join(tmp.path, "elsewhere.mlpack"))).toEqual(first)
    expect(readFileSync(join(tmp.path, "2.mlpack"))).toEqual(readFileSync(join(tmp.path, "1.mlpack")))
    expect(first.sha256).toBe(sha(readFileSync(join(tmp.path, "1.mlpack"))))
    expect(first.bytes).toBe(readFileSync(join(tmp.path, "1.mlpack")).length)
    expect(first.manifest.files).toEqual({
      "project/MLproject": sha(readFileSync(join(dir, "project/MLproject"))),
      "project/data/a.csv": sha("1,2\n"),
      "project/run.sh": sha("#!/bin/sh\necho run\n"),
      "project/train.py": sha("print('hi')\n"),
      [wheelFile]: sha(wheel),
    })
    expect(first.manifest).toMatchObject({ format: packFormatVersion, created_by: expect.stringMatching(/^mlproject /) })
    writeFileSync(join(dir, "project/train.py"), "print('ho')\n")
    expect((await writePack(dir, content(), join(tmp.path, "3.mlpack"))).sha256).not.toBe(first.sha256)
  })

  test("manifest.json is the first entry, then mlpack/ in byte order, owner 0/0, mtime 0", async () => {
    await using tmp = tmpdirFor()
    const out = join(tmp.path, "p.mlpack")
    await writePack(stage(tmp), content(), out)
    const listing = Bun.spawnSync(["tar", "--numeric-owner", "-tvzf", out]).stdout.toString().trim().split("\n")
    expect(listing.map((line) => line.split(/\s+/).slice(5).join(" "))).toEqual([
      "mlpack/manifest.json",
      "mlpack/",
      "mlpack/project/",
      "mlpack/project/MLproject",
      "mlpack/project/data/",
      "mlpack/project/data/a.csv",
      "mlpack/project/link.csv -> data/a.csv",
      "mlpack/project/run.sh",
      "mlpack/project/train.py",
      "mlpack/wheels/",
      `mlpack/${wheelFile}`,
    ])
    expect(listing.every((line) => line.split(/\s+/)[1] === "0/0" && line.includes("1970-01-01"))).toBe(true)
  })

  test("a manifest naming a wheel with another hash than the staged file is refused before anything is written", async () => {
    await using tmp = tmpdirFor()
    const error = await caught(writePack(stage(tmp), content({ env: { ...content().env, wheels: [{ file: wheelFile, sha256: "0".repeat(64) }] } }), join(tmp.path, "p.mlpack")))
    expect(error).toMatchObject({ code: "pack.write", exitCode: 1 })
    expect(error.message).toContain(wheelFile)
    expect(existsSync(join(tmp.path, "p.mlpack"))).toBe(false)
  })
})

describe("reading a pack", () => {
  test("round trip: unpack gives the staged tree, modes and symlinks kept; a second unpack does no work", async () => {
    await using tmp = tmpdirFor()
    const dir = stage(tmp)
    const pack = join(tmp.path, "p.mlpack")
    const written = await writePack(dir, content(), pack)
    expect(await readManifest(pack)).toEqual(written.manifest)
    const seen: string[] = []
    expect(await verifyPack(pack, { onEntry: (path) => seen.push(path) })).toEqual({ manifest: written.manifest, sha256: written.sha256 })
    expect(seen).toContain("project/train.py")
    const target = join(tmp.path, "out", "unpacked")
    expect(await unpackPack(pack, target)).toEqual({ manifest: written.manifest, sha256: written.sha256 })
    for (const [path, digest] of Object.entries(written.manifest.files)) expect(sha(readFileSync(join(target, path)))).toBe(digest)
    expect(lstatSync(join(target, "project/run.sh")).mode & 0o777).toBe(0o755)
    expect(lstatSync(join(target, "project/train.py")).mode & 0o777).toBe(0o644)
    expect(readlinkSync(join(target, "project/link.csv"))).toBe("data/a.csv")
    expect(JSON.parse(readFileSync(join(target, "manifest.json"), "utf8"))).toEqual(written.manifest)
    expect(readdirSync(join(tmp.path, "out"))).toEqual(["unpacked"])
    // Once per pack: the folder is trusted as it is, the pack is not read again.
    rmSync(pack)
    expect(await unpackPack(pack, target)).toEqual({ manifest: written.manifest, sha256: written.sha256 })
  })

  test("readManifest reads the first entry only: a pack cut after it still gives its manifest", async () => {
    await using tmp = tmpdirFor()
    const pack = join(tmp.path, "p.mlpack")
    const { manifest } = await writePack(stage(tmp), content(), pack)
    const raw = Bun.gunzipSync(readFileSync(pack))
    writeFileSync(pack, Bun.gzipSync(raw.subarray(0, 4096)).subarray(0, 1500))
    expect(await readManifest(pack)).toEqual(manifest)
    expect((await caught(verifyPack(pack))).code).toBe("pack.truncated")
  })

  test("one changed byte in a file: pack.corrupt naming the file and both hashes, nothing unpacked", async () => {
    await using tmp = tmpdirFor()
    const pack = join(tmp.path, "p.mlpack")
    await writePack(stage(tmp), content(), pack)
    tamper(pack, "print('hi')")
    const actual = sha("qrint('hi')\n")
    for (const run of [() => verifyPack(pack), () => unpackPack(pack, join(tmp.path, "target"))]) {
      const error = await caught(run())
      expect(error).toMatchObject({ code: "pack.corrupt", exitCode: 2 })
      expect(error.message).toContain("'project/train.py'")
      expect(error.message).toContain(`expected sha256 ${sha("print('hi')\n")}, got ${actual}`)
    }
    expect(entriesBeside(tmp)).toEqual(["p.mlpack", "staged"])
  })

  test("a truncated pack, an empty file, text and a gzip of text are named as such", async () => {
    await using tmp = tmpdirFor()
    const pack = join(tmp.path, "p.mlpack")
    await writePack(stage(tmp), content(), pack)
    const whole = readFileSync(pack)
    // A cut pack still has its manifest at the start: only reading further meets the cut.
    const cases: Array<[string, Uint8Array, ErrorCode, RegExp, boolean]> = [
      ["half", whole.subarray(0, whole.length >> 1), "pack.truncated", /is truncated/, false],
      ["no gzip trailer", whole.subarray(0, whole.length - 4), "pack.truncated", /is truncated/, false],
      ["empty", new Uint8Array(), "pack.truncated", /the file is empty/, true],
      ["text", Buffer.from("<html>not found</html>"), "pack.invalid", /is not an mlproject pack: it is not a gzip file/, true],
      ["gzipped text", Bun.gzipSync(Buffer.from("hello ".repeat(200))), "pack.invalid", /is not an mlproject pack: it is not a tar archive/, true],
    ]
    for (const [name, data, code, message, early] of cases) {
      const file = join(tmp.path, `${name}.mlpack`)
      writeFileSync(file, data)
      const runs = [() => verifyPack(file), () => unpackPack(file, join(tmp.path, "target")), ...(early ? [() => readManifest(file)] : [])]
      for (const run of runs) {
        const error = await caught(run())
        expect({ name, code: error.code, exitCode: error.exitCode }).toEqual({ name, code, exitCode: 2 })
        expect(error.message).toMatch(message)
        expect(error.message).toContain(file)
      }
      expect(existsSync(join(tmp.path, "target"))).toBe(false)
    }
    expect(readdirSync(tmp.path).filter((name) => name.startsWith(".target"))).toEqual([])
  })

  test("a missing pack and a folder are pack.invalid naming the path", async () => {
    await using tmp = tmpdirFor()
    for (const path of [join(tmp.path, "missing.mlpack"), tmp.path]) {
      const error = await caught(verifyPack(path))
      expect(error.code).toBe("pack.invalid")
      expect(error.message).toBe(`cannot read the pack ${path} (${path === tmp.path ? "EISDIR" : "ENOENT"})`)
    }
  })

  test("a pack of a newer format asks for an upgrade", async () => {
    await using tmp = tmpdirFor()
    const pack = handMade(tmp, [], { format: 2, anything: "else" })
    for (const run of [() => readManifest(pack), () => verifyPack(pack), () => unpackPack(pack, join(tmp.path, "target"))]) {
      const error = await caught(run())
      expect(error).toMatchObject({ code: "pack.format", exitCode: 2 })
      expect(error.message).toBe(`${pack} was written by a newer mlproject (pack format 2; this one reads up to 1): upgrade mlproject`)
    }
    expect(existsSync(join(tmp.path, "target"))).toBe(false)
  })

  const file = (name: string, data: string): TarEntry => ({ name, data })
  const refusals: Array<{ name: string; entries: TarEntry[]; files?: Record<string, string>; manifest?: string; code: ErrorCode; message: RegExp }> = [
    { name: "a file the manifest does not list", entries: [file("mlpack/project/extra.py", "x")], code: "pack.corrupt", message: /contains 'project\/extra.py', which its manifest does not list/ },
    { name: "a listed file that is missing", entries: [], files: { "project/gone.py": sha("x") }, code: "pack.corrupt", message: /lists 1 file\(s\) the pack does not contain: project\/gone.py/ },
    { name: "a listed file that is a folder", entries: [{ name: "mlpack/project/", type: "dir" }], files: { project: sha("x") }, code: "pack.corrupt", message: /does not contain: project$/ },
    { name: "a folder over a symlink", entries: [{ name: "mlpack/project", type: "symlink", link: "." }, { name: "mlpack/project/", type: "dir" }], code: "pack.unsafe", message: /'mlpack\/project\/' appears twice/ },
    { name: "a climbing path", entries: [file("mlpack/../evil.txt", "x")], code: "pack.unsafe", message: /'mlpack\/..\/evil.txt' climbs out/ },
    { name: "an absolute path", entries: [file("/tmp/evil.txt", "x")], code: "pack.unsafe", message: /absolute path/ },
    { name: "a path outside mlpack/", entries: [file("other/evil.txt", "x")], code: "pack.unsafe", message: /outside the mlpack\/ folder/ },
    { name: "a symlink out by ..", entries: [{ name: "mlpack/project/up", type: "symlink", link: "../../.." }], code: "pack.unsafe", message: /symlink 'project\/up' points outside/ },
    { name: "an absolute symlink", entries: [{ name: "mlpack/project/etc", type: "symlink", link: "/etc" }], code: "pack.unsafe", message: /points outside the pack \('\/etc'\)/ },
    {
      name: "a file written through a symlink",
      entries: [{ name: "mlpack/project/here", type: "symlink", link: "." }, file("mlpack/project/here/x", "x")],
      files: { "project/here/x": sha("x") },
      code: "pack.unsafe",
      message: /through the symlink 'mlpack\/project\/here'/,
    },
    { name: "a hard link", entries: [file("mlpack/project/a", "x"), { name: "mlpack/project/b", type: "hardlink", link: "mlpack/project/a" }], files: { "project/a": sha("x") }, code: "pack.unsafe", message: /is a hard link/ },
    { name: "a manifest that is not JSON", entries: [], manifest: "{ format: 1", code: "pack.invalid", message: /manifest.json is not valid JSON/ },
    { name: "a manifest without env.platform", entries: [], manifest: JSON.stringify({ ...manifestFor({}), env: { kind: "none", manager: "local", key: null, python: null, wheels: [] } }), code: "pack.invalid", message: /lacks 'env.platform'/ },
  ]
  for (const { name, entries, files, manifest, code, message } of refusals) {
    test(`refused: ${name}; nothing written anywhere`, async () => {
      await using tmp = tmpdirFor()
      const pack = handMade(tmp, entries, manifest ?? manifestFor(files ?? {}))
      const verified = await caught(verifyPack(pack))
      expect({ code: verified.code, exitCode: verified.exitCode }).toEqual({ code, exitCode: 2 })
      expect(verified.message).toMatch(message)
      const unpacked = await caught(unpackPack(pack, join(tmp.path, "deep", "target")))
      expect(unpacked.code).toBe(code)
      expect(entriesBeside(tmp)).toEqual(["deep", "hand.mlpack"])
      expect(readdirSync(join(tmp.path, "deep"))).toEqual([])
      expect(existsSync("/tmp/evil.txt")).toBe(false)
    })
  }

  test("a first entry that is not the manifest is not a pack", async () => {
    await using tmp = tmpdirFor()
    const pack = join(tmp.path, "x.mlpack")
    writeFileSync(pack, tar([{ name: "mlpack/", type: "dir" }, { name: "mlpack/manifest.json", data: JSON.stringify(manifestFor({})) }], true))
    expect((await caught(readManifest(pack))).message).toBe(`${pack} is not an mlproject pack: its first entry is 'mlpack/', not mlpack/manifest.json`)
  })

  test("two unpacks of the same pack at once give one folder, both answered", async () => {
    await using tmp = tmpdirFor()
    const pack = join(tmp.path, "p.mlpack")
    const written = await writePack(stage(tmp), content(), pack)
    const target = join(tmp.path, "out", "target")
    const results = await Promise.all([unpackPack(pack, target), unpackPack(pack, target), unpackPack(pack, target)])
    for (const result of results) expect(result).toEqual({ manifest: written.manifest, sha256: written.sha256 })
    expect(readdirSync(join(tmp.path, "out"))).toEqual(["target"])
    expect(readFileSync(join(target, "project/train.py"), "utf8")).toBe("print('hi')\n")
  })

  test("unpacking into a folder that exists without a pack is refused", async () => {
    await using tmp = tmpdirFor()
    const pack = join(tmp.path, "p.mlpack")
    await writePack(stage(tmp), content(), pack)
    tmp.write("target/mine.txt", "keep\n")
    expect((await caught(unpackPack(pack, join(tmp.path, "target")))).code).toBe("pack.target")
    expect(readdirSync(join(tmp.path, "target"))).toEqual(["mine.txt"])
  })
})

describe("checkManifest", () => {
  const valid = manifestFor({ [wheelFile]: sha(wheel) }, { env: { ...content().env } })
  const cases: Array<[string, unknown, RegExp]> = [
    ["not an object", [], /'manifest' = \[\]; expected an object/],
    ["format as text", { ...valid, format: "1" }, /'format' = "1"; expected a whole number/],
    ["no source", { ...valid, source: undefined }, /lacks 'source'/],
    ["a commit that is a number", { ...valid, source: { ...valid.source, commit: 7 } }, /'source.commit' = 7; expected a string or null/],
    ["an unknown env kind", { ...valid, env: { ...valid.env, kind: "pip" } }, /'env.kind' = "pip"; expected python_env, conda_env, docker, none/],
    ["entry points not a list", { ...valid, project: { name: null, entry_points: "main" } }, /'project.entry_points' = "main"; expected a list of strings/],
    ["a wheel without its hash", { ...valid, env: { ...valid.env, wheels: [{ file: wheelFile }] } }, /lacks 'env.wheels\[0\].sha256'/],
    ["a file hash in capitals", { ...valid, files: { [wheelFile]: sha(wheel).toUpperCase() } }, /expected a sha256 in lowercase hex/],
    ["a wheel the files do not list", { ...valid, files: {} }, /names 'wheels\/demo-1.0-py3-none-any.whl' with sha256 [0-9a-f]{64}, but its files list does not have it/],
    ["an image without an id", { ...valid, image: { name: "demo", file: "image/image.tar", sha256: sha("") } }, /lacks 'image.id'/],
  ]
  test.each(cases)("%s is pack.invalid naming the field", (_name, value, message) => {
    const error = thrown(() => checkManifest(value, "x.mlpack"))
    expect(error.code).toBe("pack.invalid")
    expect(error.message).toMatch(message)
  })
  test("a valid manifest comes back with its fields in the fixed order", () => {
    const shuffled = Object.fromEntries(Object.entries(valid).reverse())
    expect(JSON.stringify(checkManifest(shuffled, "x.mlpack"))).toBe(JSON.stringify(checkManifest(valid, "x.mlpack")))
    expect(Object.keys(checkManifest(shuffled, "x.mlpack"))).toEqual(["format", "created_by", "source", "project", "env", "image", "files"])
  })
})

test("a 200 MB image is packed and unpacked with modest memory", async () => {
  await using tmp = tmpdirFor()
  const dir = stage(tmp)
  const image = join(dir, "image/image.tar")
  tmp.write("staged/image/image.tar", "")
  // Sparse: 200 MB to read, hash and compress, nothing of it on the disk until it is unpacked.
  Bun.spawnSync(["truncate", "-s", "200M", image])
  const imageSha = sha(readFileSync(image))
  const src = (name: string) => JSON.stringify(resolve(import.meta.dir, "../../src/pack", name))
  const script = tmp.write(
    "measure.ts",
    `import { writePack, unpackPack } from ${src("format.ts")}
const peak = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"))![1]) * 1024
const content = ${JSON.stringify(content({ image: { name: "demo:1", id: "sha256:" + "c".repeat(64), file: "image/image.tar", sha256: imageSha } }))}
const written = await writePack(${JSON.stringify(dir)}, content, ${JSON.stringify(join(tmp.path, "big.mlpack"))})
const packing = peak()
const unpacked = await unpackPack(${JSON.stringify(join(tmp.path, "big.mlpack"))}, ${JSON.stringify(join(tmp.path, "big"))})
console.log(JSON.stringify({ packing, unpacking: peak(), same: unpacked.sha256 === written.sha256, bytes: written.bytes }))
`,
  )
  const child = Bun.spawnSync([process.execPath, script], { env: process.env })
  expect(child.stderr.toString()).toBe("")
  const report = JSON.parse(child.stdout.toString()) as { packing: number; unpacking: number; same: boolean; bytes: number }
  expect(report.same).toBe(true)
  expect(lstatSync(join(tmp.path, "big/image/image.tar")).size).toBe(200 * 1024 * 1024)
  // Holding the image once would pass 200 MB on its own.
  expect(report.packing).toBeLessThan(150 * 1024 * 1024)
  expect(report.unpacking).toBeLessThan(150 * 1024 * 1024)
}, 120_000)
