// Archive sources: zip and tar from a path or http(s), cached by digest; hostile archives refused with nothing written.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { tar, zip, type TarEntry, type ZipEntry } from "../lib/archives.ts"
import { fetchError, fetchSource, filesContaining, home, leftovers, leftoversAfterCleanup, type Home } from "../lib/fetch.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const project = "name: packed\nentry_points:\n  main:\n    command: \"true\"\n"

const save = (dir: TmpDir, name: string, bytes: Uint8Array) => {
  const path = join(dir.path, name)
  writeFileSync(path, bytes)
  return path
}

/** Nothing of a refused archive may exist anywhere: no cache entry, no scratch, nothing beside the folders. */
const expectNothingWritten = (h: Home, outside: TmpDir) => {
  expect(readdirSync(outside.path).filter((name) => !name.endsWith(".tar") && !name.endsWith(".tgz") && !name.endsWith(".zip"))).toEqual([])
  const archives = join(h.path, "projects", "archive")
  expect(existsSync(archives) ? readdirSync(archives).filter((name) => !name.endsWith(".lock")) : []).toEqual([])
  expect(leftovers(h)).toEqual([])
}

describe("archives that are fine", () => {
  test.each([
    ["project.tar.gz", true],
    ["project.tgz", true],
    ["project.tar", false],
  ])("%s with one top-level folder: that folder is the project", async (name, gzip) => {
    await using h = home()
    await using dir = tmpdirFor()
    const file = save(dir, name, tar([{ name: "proj-1.0/", type: "dir" }, { name: "proj-1.0/MLproject", data: project }, { name: "proj-1.0/lib/", type: "dir" }, { name: "proj-1.0/lib/link", type: "symlink", link: "../MLproject" }, { name: "proj-1.0/copy", type: "hardlink", link: "proj-1.0/MLproject" }], gzip))
    const { source, events } = await fetchSource(h, file)
    expect(source.kind).toBe("archive")
    expect(readFileSync(join(source.dir, "MLproject"), "utf8")).toBe(project)
    expect(readFileSync(join(source.dir, "lib", "link"), "utf8")).toBe(project)
    expect(readFileSync(join(source.dir, "copy"), "utf8")).toBe(project)
    expect(source.archive?.sha256).toBe(new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex"))
    expect(events.at(-1)).toMatchObject({ type: "fetch.done", commit: null, cached: false })
    await source.cleanup()
    const again = await fetchSource(h, file)
    expect(again.events.at(-1)).toMatchObject({ cached: true })
    await again.source.cleanup()
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })

  test("a zip without a top-level folder, with #subdir, deflated and stored entries", async () => {
    await using h = home()
    await using dir = tmpdirFor()
    const file = save(dir, "p.zip", zip([{ name: "MLproject", data: project, deflate: true }, { name: "v1.2/" }, { name: "v1.2/MLproject", data: "name: dotted\n" }, { name: "empty.txt", data: "" }]))
    const { source } = await fetchSource(h, `${file}#v1.2`)
    expect(readFileSync(join(source.dir, "MLproject"), "utf8")).toBe("name: dotted\n")
    await source.cleanup()
  })

  test("'#top/sub' written for mlflow (which keeps the top folder) still works", async () => {
    await using h = home()
    await using dir = tmpdirFor()
    const file = save(dir, "p.zip", zip([{ name: "top/sub/MLproject", data: project, deflate: true }]))
    for (const uri of [`${file}#sub`, `${file}#top/sub`]) {
      const { source } = await fetchSource(h, uri)
      expect(readFileSync(join(source.dir, "MLproject"), "utf8")).toBe(project)
      await source.cleanup()
    }
  })

  test("over http(s), with basic auth from the URL, which is never shown", async () => {
    await using h = home()
    const secret = "arch1veT0ken-xyz"
    const body = tar([{ name: "MLproject", data: project }], true)
    let authorized = 0
    using server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const url = new URL(request.url)
        if (url.pathname === "/moved.tgz") return Response.redirect("/p.tgz", 302)
        if (request.headers.get("authorization") !== `Basic ${Buffer.from(`u:${secret}`).toString("base64")}`) return new Response("no", { status: 401 })
        authorized++
        return url.pathname === "/p.tgz" ? new Response(body) : new Response("gone", { status: 404 })
      },
    })
    const base = `http://u:${secret}@127.0.0.1:${server.port}`
    const { source, events } = await fetchSource(h, `${base}/moved.tgz`)
    expect(authorized).toBe(1)
    expect(source.name).toBe(`http://127.0.0.1:${server.port}/moved.tgz`)
    expect(readFileSync(join(source.dir, "MLproject"), "utf8")).toBe(project)
    expect(JSON.stringify(events)).not.toContain(secret)
    expect(filesContaining(h.path, secret)).toEqual([])
    await source.cleanup()

    const missing = await fetchError(h, `${base}/nope.zip`)
    expect(missing).toMatchObject({ code: "source.archive.not_found", exitCode: 2 })
    const refused = await fetchError(h, `http://u:wrong@127.0.0.1:${server.port}/p.tgz`)
    expect(refused).toMatchObject({ code: "source.archive.auth", exitCode: 2 })
    expect(refused.message).not.toContain("wrong")
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })

  test("setuid, setgid and sticky bits are dropped; the executable bit is kept", async () => {
    await using h = home()
    await using dir = tmpdirFor()
    const tarFile = save(dir, "m.tar", tar([{ name: "MLproject", data: project }, { name: "run.sh", data: "#!/bin/sh\n", mode: 0o6755 }]))
    const zipFile = save(dir, "m.zip", zip([{ name: "MLproject", data: project }, { name: "run.sh", data: "#!/bin/sh\n", mode: 0o106755 }]))
    for (const file of [tarFile, zipFile]) {
      const { source } = await fetchSource(h, file)
      expect(statSync(join(source.dir, "run.sh")).mode & 0o7777).toBe(0o755)
      await source.cleanup()
    }
  })

  test("a version cannot be set for an archive", async () => {
    await using h = home()
    const error = await fetchError(h, "https://example.invalid/p.zip", { version: "v1" })
    expect(error.code).toBe("source.version")
  })
})

describe("hostile tar archives are refused and nothing is written", () => {
  const cases: Array<[string, (outside: string) => TarEntry[]]> = [
    ["a '..' entry", () => [{ name: "MLproject", data: project }, { name: "../evil.txt", data: "x" }]],
    ["a nested '..' entry", () => [{ name: "a/b/../../../evil.txt", data: "x" }]],
    ["an absolute path", (outside) => [{ name: `${outside}/evil.txt`, data: "x" }]],
    ["a symlink out, then a write through it", (outside) => [{ name: "link", type: "symlink", link: outside }, { name: "link/evil.txt", data: "x" }]],
    ["a relative symlink out", () => [{ name: "up", type: "symlink", link: "../.." }]],
    ["a symlink chain that climbs out", () => [{ name: "s", type: "symlink", link: "." }, { name: "t", type: "symlink", link: "s/.." }]],
    ["a write through an inside symlink", () => [{ name: "d/", type: "dir" }, { name: "s", type: "symlink", link: "d" }, { name: "s/evil.txt", data: "x" }]],
    ["a hardlink out", (outside) => [{ name: "h", type: "hardlink", link: `${outside}/victim.txt` }]],
    ["a hardlink through a symlink", (outside) => [{ name: "s", type: "symlink", link: outside }, { name: "h", type: "hardlink", link: "s/victim.txt" }]],
    ["a hardlink climbing out", () => [{ name: "h", type: "hardlink", link: "../../etc/passwd" }]],
  ]
  test.each(cases)("%s", async (_label, entries) => {
    await using h = home()
    await using outside = tmpdirFor("mlproject-outside-")
    const file = save(outside, "evil.tgz", tar([{ name: "ok.txt", data: "fine" }, ...entries(outside.path)], true))
    const error = await fetchError(h, file)
    expect(error).toMatchObject({ code: "source.archive.unsafe", exitCode: 2 })
    expectNothingWritten(h, outside)
  })

  test("more entries than the limit", async () => {
    await using h = home()
    await using outside = tmpdirFor("mlproject-outside-")
    const file = save(outside, "many.tar", tar(Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, data: "x" }))))
    const error = await fetchError(h, file, { env: { MLPROJECT_ARCHIVE_MAX_ENTRIES: "20" } })
    expect(error).toMatchObject({ code: "source.archive.too_large", exitCode: 2 })
    expectNothingWritten(h, outside)
  })

  test("a gzip bomb past the size limit", async () => {
    await using h = home()
    await using outside = tmpdirFor("mlproject-outside-")
    const file = save(outside, "bomb.tgz", tar([{ name: "zeros.bin", data: new Uint8Array(8 * 1024 * 1024) }], true))
    const error = await fetchError(h, file, { env: { MLPROJECT_ARCHIVE_MAX_BYTES: String(1024 * 1024) } })
    expect(error).toMatchObject({ code: "source.archive.too_large", exitCode: 2 })
    expectNothingWritten(h, outside)
  })
})

describe("hostile zip archives are refused and nothing is written", () => {
  const cases: Array<[string, (outside: string) => ZipEntry[], string]> = [
    ["a '..' entry", () => [{ name: "../evil.txt", data: "x" }], "source.archive.unsafe"],
    ["a backslash '..' entry", () => [{ name: "..\\evil.txt", data: "x" }], "source.archive.unsafe"],
    ["an absolute path", (outside) => [{ name: `${outside}/evil.txt`, data: "x" }], "source.archive.unsafe"],
    ["a symlink out", (outside) => [{ name: "link", data: outside, mode: 0o120777 }, { name: "link/evil.txt", data: "x" }], "source.archive.unsafe"],
    ["a bomb past the size limit", () => [{ name: "zeros.bin", data: new Uint8Array(8 * 1024 * 1024), deflate: true }], "source.archive.too_large"],
    ["a bomb that lies about its size", () => [{ name: "zeros.bin", data: new Uint8Array(8 * 1024 * 1024), deflate: true, declaredSize: 1000 }], "source.archive.too_large"],
  ]
  test.each(cases)("%s", async (_label, entries, code) => {
    await using h = home()
    await using outside = tmpdirFor("mlproject-outside-")
    const file = save(outside, "evil.zip", zip([{ name: "ok.txt", data: "fine" }, ...entries(outside.path)]))
    const error = await fetchError(h, file, { env: { MLPROJECT_ARCHIVE_MAX_BYTES: String(1024 * 1024) } })
    expect(error).toMatchObject({ code, exitCode: 2 })
    expectNothingWritten(h, outside)
  })

  test("a damaged file is reported as not a zip", async () => {
    await using h = home()
    await using dir = tmpdirFor()
    const file = save(dir, "broken.zip", new TextEncoder().encode("<html>404</html>"))
    const error = await fetchError(h, file)
    expect(error.code).toBe("source.archive.invalid")
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })
})

describe("archives in object stores", () => {
  test("s3:// goes through the storage layer (s3rver on 127.0.0.1)", async () => {
    const { startS3rver } = await import("../lib/s3rver.ts")
    const { s3Proxy } = await import("../lib/s3-proxy.ts")
    const { upload } = await import("../../src/storage/index.ts")
    await using server = await startS3rver(["releases"])
    await using proxy = s3Proxy(server.url, { S3RVER: "S3RVER" })
    await using h = home()
    await using dir = tmpdirFor()
    const env = { ...server.credentials, MLFLOW_S3_ENDPOINT_URL: proxy.url, AWS_EC2_METADATA_DISABLED: "true" }
    const file = save(dir, "p.tgz", tar([{ name: "proj/", type: "dir" }, { name: "proj/train/MLproject", data: project }], true))
    await upload(file, "s3://releases/p.tgz", { env })
    const { source, events } = await fetchSource(h, "s3://releases/p.tgz#train", { env })
    expect(readFileSync(join(source.dir, "MLproject"), "utf8")).toBe(project)
    expect(events.some((e) => e.type === "download.done")).toBe(true)
    expect(events.at(-1)).toMatchObject({ type: "fetch.done", cached: false })
    await source.cleanup()
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })
})
