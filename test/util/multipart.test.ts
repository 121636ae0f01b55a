// The streamed multipart/form-data body: parses back to its fields and the file's bytes, has the length it announces,
// and fails when the file is not the size it was promised to be.
import { describe, expect, test } from "bun:test"
import { appendFileSync, truncateSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { multipartBody } from "../../src/util/multipart.ts"
import { pseudoRandom, sha256 } from "../lib/bytes.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const collect = async (stream: ReadableStream<Uint8Array>): Promise<Uint8Array> => new Uint8Array(await new Response(stream).arrayBuffer())
const changed = (actual: string) => new Error(`file changed: ${actual}`)

describe("multipartBody", () => {
  test.each([0, 1, 65_536, 3 * 1024 * 1024 + 7])("a file of %d bytes and two fields parse back as sent, at the announced length", async (size) => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(size, 4)
    const file = join(tmp.path, "data.bin")
    writeFileSync(file, bytes)
    const body = multipartBody([["path", "/a/b c.tar.gz"], ["overwrite", "true"]], { field: "file", filename: 'we"ird\nname.bin', path: file, size }, changed)
    const read: number[] = []
    const sent = await collect(body.stream((count) => read.push(count)))
    expect(sent.length).toBe(body.length)
    const form = await new Response(sent, { headers: { "content-type": body.contentType } }).formData()
    expect(form.get("path")).toBe("/a/b c.tar.gz")
    expect(form.get("overwrite")).toBe("true")
    const part = form.get("file") as File
    expect(part.name).toBe("we_ird_name.bin")
    expect(sha256(new Uint8Array(await part.arrayBuffer()))).toBe(sha256(bytes))
    expect(read.at(-1) ?? 0).toBe(size)
  })

  test("each stream is new: a second reading sends the same bytes", async () => {
    await using tmp = tmpdirFor()
    const file = join(tmp.path, "data.bin")
    writeFileSync(file, pseudoRandom(200_000, 5))
    const body = multipartBody([["path", "/x"]], { field: "file", filename: "data.bin", path: file, size: 200_000 }, changed)
    expect(sha256(await collect(body.stream()))).toBe(sha256(await collect(body.stream())))
  })

  test.each([
    ["grew", (file: string) => appendFileSync(file, "more"), "grew past 100000 bytes"],
    ["shrank", (file: string) => truncateSync(file, 10), "has 10 bytes, not 100000"],
  ] as const)("a file that %s after the body was made fails the stream with the changed() error", async (_, change, message) => {
    await using tmp = tmpdirFor()
    const file = join(tmp.path, "data.bin")
    writeFileSync(file, pseudoRandom(100_000, 6))
    const body = multipartBody([], { field: "file", filename: "data.bin", path: file, size: 100_000 }, changed)
    change(file)
    await expect(collect(body.stream())).rejects.toThrow(`file changed: ${message}`)
  })
})
