// Pure pieces of the storage layer, table-driven: URIs, spans, CRC32C, Retry-After, redaction, INI, local files.
import { describe, expect, test } from "bun:test"
import { readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { crc32c, crc32cBase64 } from "../../src/storage/checksum.ts"
import { parseIni } from "../../src/storage/ini.ts"
import { createRunStorageDir, downloadPathParameter, downloadUri, isRemoteUri, lastSegment, upload } from "../../src/storage/index.ts"
import { addSpan, missing } from "../../src/storage/part-file.ts"
import { splitSpans } from "../../src/storage/schedule.ts"
import { isFolderUri, safeRelative } from "../../src/storage/uri.ts"
import { redactUrl } from "../../src/util/redact.ts"
import { parseContentRange } from "../../src/util/http-range.ts"
import { defaultRetry, retryAfterMs, retryDelayMs } from "../../src/util/http-retry.ts"
import { tmpdirFor } from "../lib/tmp.ts"

describe("uris", () => {
  test.each([
    ["s3://b/k", true],
    ["gs://b/k", true],
    ["dbfs:/x", true],
    ["https://h/x", true],
    ["file:///tmp/x", false],
    ["/tmp/x", false],
    ["data/x.csv", false],
    ["C:\\data\\x.csv", false],
    ["", false],
  ])("isRemoteUri(%p) is %p", (value, expected) => expect(isRemoteUri(value)).toBe(expected))

  test.each([
    ["s3://bucket/data/train.csv", "train.csv"],
    ["s3://bucket/data/", "data"],
    ["s3://bucket", "bucket"],
    ["https://h/a/b.parquet?X-Amz-Signature=s#frag", "b.parquet"],
    ["dbfs:/a/b", "b"],
    ["https://h/", "h"],
    ["gs://b/..", "download"],
  ])("lastSegment(%p) is %p", (uri, name) => expect(lastSegment(uri)).toBe(name))

  test("folder URIs and unsafe listed names", () => {
    expect(isFolderUri("s3://b/d/")).toBe(true)
    expect(isFolderUri("https://h/d/?x=1")).toBe(true)
    expect(isFolderUri("s3://b/d")).toBe(false)
    expect(safeRelative("a/b.txt", "s3://b/p/")).toBe("a/b.txt")
    for (const bad of ["../x", "a/../../x", "/etc/passwd", "a//b", "./x"]) expect(() => safeRelative(bad, "s3://b/p/")).toThrow(/outside the destination/)
  })

  // One redaction helper for storage and sources (it was two: `***` is what every message now shows).
  test("redaction removes userinfo and signature-like query values", () => {
    expect(redactUrl("https://user:pw@h.example/x?X-Amz-Signature=abc&X-Amz-Credential=AKIA&v=1")).toBe(
      "https://h.example/x?X-Amz-Signature=***&X-Amz-Credential=***&v=1",
    )
    expect(redactUrl("https://h/x?sig=1&token=2&access_token=3&X-Goog-Signature=4&session=5")).not.toMatch(/=1|=2|=3|=4|=5/)
  })
})

describe("spans and ranges", () => {
  test("addSpan merges overlapping and adjacent ranges", () => {
    let spans = addSpan([], 10, 20)
    spans = addSpan(spans, 30, 40)
    spans = addSpan(spans, 20, 25)
    expect(spans).toEqual([
      [10, 25],
      [30, 40],
    ])
    expect(addSpan(spans, 0, 100)).toEqual([[0, 100]])
    expect(addSpan(spans, 25, 30)).toEqual([[10, 40]])
  })

  test("missing and splitSpans plan the remaining parts", () => {
    expect(missing([[10, 20]], 30)).toEqual([
      [0, 10],
      [20, 30],
    ])
    expect(missing([], 0)).toEqual([])
    expect(splitSpans([[0, 25]], 10)).toEqual([
      [0, 10],
      [10, 20],
      [20, 25],
    ])
  })

  test.each([
    ["bytes 0-9/100", { start: 0, end: 10, total: 100 }],
    ["bytes 5-5/*", { start: 5, end: 6, total: null }],
    ["items 1-2/3", null],
    [null, null],
  ])("parseContentRange(%p)", (header, expected) => expect(parseContentRange(header)).toEqual(expected))

  test("Retry-After in seconds or as a date; backoff grows and is capped", () => {
    expect(retryAfterMs("3")).toBe(3000)
    expect(retryAfterMs(new Date(Date.now() + 5000).toUTCString(), Date.now())).toBeGreaterThan(3000)
    expect(retryAfterMs("soon")).toBeNull()
    expect(defaultRetry.backoffMs(1)).toBeLessThanOrEqual(250)
    expect(defaultRetry.backoffMs(21)).toBeLessThanOrEqual(30_000)
    expect(retryDelayMs(defaultRetry, 1, new Response(null, { status: 503, headers: { "retry-after": "120" } }))).toBe(30_000)
  })
})

describe("checksums", () => {
  test.each([
    ["", 0],
    ["123456789", 0xe3069283],
    ["The quick brown fox jumps over the lazy dog", 0x22620404],
  ])("crc32c(%p)", (text, value) => expect(crc32c(new TextEncoder().encode(text))).toBe(value))

  test("crc32c continues across chunks and prints as GCS does", () => {
    const bytes = new TextEncoder().encode("hello world, in several pieces")
    expect(crc32c(bytes.subarray(9), crc32c(bytes.subarray(0, 9)))).toBe(crc32c(bytes))
    expect(crc32cBase64(crc32c(new TextEncoder().encode("hello world")))).toBe("yZRlqg==")
  })
})

describe("local files and the run folder", () => {
  test("ini files: sections, comments, both separators", () => {
    expect(parseIni("# c\n[DEFAULT]\nhost = https://x\ntoken: abc\n\n[other]\nHost=y\n")).toEqual({ DEFAULT: { host: "https://x", token: "abc" }, other: { host: "y" } })
  })

  test("createRunStorageDir makes a fresh folder under --storage-dir, else MLFLOW_TMP_DIR", async () => {
    await using tmp = tmpdirFor()
    const a = createRunStorageDir(join(tmp.path, "new", "base"), {})
    const b = createRunStorageDir(undefined, { MLFLOW_TMP_DIR: join(tmp.path, "tmpdir") })
    expect(a.startsWith(join(tmp.path, "new", "base"))).toBe(true)
    expect(b.startsWith(join(tmp.path, "tmpdir"))).toBe(true)
    expect(statSync(a).isDirectory() && statSync(b).isDirectory()).toBe(true)
  })

  test("file:// objects and folders copy like remote ones; upload to file:// copies", async () => {
    await using tmp = tmpdirFor()
    tmp.write("src/one.txt", "1")
    tmp.write("src/deep/two.txt", "22")
    const file = await downloadPathParameter(`file://${tmp.path}/src/one.txt`, { storageDir: tmp.path, index: 0 })
    expect(readFileSync(file, "utf8")).toBe("1")
    const folder = await downloadUri(join(tmp.path, "src"), join(tmp.path, "copy"))
    expect(folder.files).toBe(2)
    expect(readFileSync(join(tmp.path, "copy", "deep", "two.txt"), "utf8")).toBe("22")
    writeFileSync(join(tmp.path, "up.txt"), "up")
    await upload(join(tmp.path, "up.txt"), `file://${tmp.path}/uploaded/up.txt`)
    expect(readFileSync(join(tmp.path, "uploaded", "up.txt"), "utf8")).toBe("up")
  })

  test("an unknown scheme is refused with the supported list", async () => {
    await using tmp = tmpdirFor()
    const error = await downloadUri("wasbs://c@a.blob.core.windows.net/x", join(tmp.path, "x")).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: "storage.scheme", exitCode: 2 })
  })
})
