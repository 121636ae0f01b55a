// Pure pieces of the storage layer, table-driven: URIs, spans, checksums (CRCs, order, S3 headers), Retry-After, redaction, INI, local files.
import { describe, expect, test } from "bun:test"
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Crc32c, Crc64NvmeJs } from "@aws-sdk/checksums/crc"
import { checkFor, digestOf, type ChecksumAlgorithm } from "../../src/storage/checksum.ts"
import { crc32, crc32Combine, crc32c, crc32cCombine, crc64nvme, crc64nvmeCombine, crc64nvmeJs, crc64nvmeScratch, crcBase64 } from "../../src/storage/crc.ts"
import { fileHasher } from "../../src/storage/file-hash.ts"
import { checksumsOf } from "../../src/storage/s3.ts"
import { pseudoRandom } from "../lib/bytes.ts"
import { parseIni } from "../../src/storage/ini.ts"
import { createRunStorageDir, downloadPathParameter, downloadUri, isRemoteUri, lastSegment, upload } from "../../src/storage/index.ts"
import { addSpan, missing, openPart } from "../../src/storage/part-file.ts"
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

describe("part files", () => {
  test("a batch of chunks lands back to back at its offset, in one write or chunk by chunk, and is recorded as done", async () => {
    await using tmp = tmpdirFor()
    const dest = join(tmp.path, "object.bin")
    const data = pseudoRandom(300_000, 11)
    const part = openPart(dest, { uri: "s3://b/object.bin", size: data.length, version: "v1", ranges: true })
    part.write([data.subarray(100_000, 150_000), data.subarray(150_000, 150_000), data.subarray(150_000, 300_000)], 100_000)
    part.write([data.subarray(0, 100_000)], 0)
    expect(part.done).toEqual([[0, 300_000]])
    // More chunks than one writev takes (IOV_MAX).
    part.write(Array.from({ length: 2000 }, (_, i) => data.subarray(i * 100, (i + 1) * 100)), 0)
    expect(part.done).toEqual([[0, 300_000]])
    part.commit()
    expect(Buffer.compare(readFileSync(dest), data)).toBe(0)
  })
})

describe("checksums", () => {
  const text = (value: string) => new TextEncoder().encode(value)
  // The catalogue's check values ("123456789") and a few more.
  test.each([
    ["", 0, 0, 0n],
    ["123456789", 0xe3069283, 0xcbf43926, 0xae8b14860a799888n],
    ["The quick brown fox jumps over the lazy dog", 0x22620404, 0x414fa339, 0xd76c54054954c143n],
  ])("crc32c, crc32 and crc64nvme of %p", (input, c32c, c32, c64) => {
    expect(crc32c(text(input))).toBe(c32c)
    expect(crc32(text(input))).toBe(c32)
    expect(crc64nvme(text(input))).toBe(c64)
  })

  test("word-wise CRCs equal the AWS SDK's byte-wise ones at every alignment and length, and continue across chunks", async () => {
    const data = pseudoRandom(70_000, 5)
    for (const [start, end] of [[0, 70_000], [1, 69_999], [2, 17], [3, 4099], [5, 5], [7, 64_007]] as const) {
      const bytes = data.subarray(start, end)
      const c64 = new Crc64NvmeJs()
      c64.update(bytes)
      const c32c = new Crc32c()
      c32c.update(bytes)
      expect(crcBase64(crc64nvme(bytes), 8)).toBe(Buffer.from(await c64.digest()).toString("base64"))
      expect(crcBase64(crc32c(bytes), 4)).toBe(Buffer.from(await c32c.digest()).toString("base64"))
      const cut = Math.floor(bytes.length / 3)
      expect(crc64nvme(bytes.subarray(cut), crc64nvme(bytes.subarray(0, cut)))).toBe(crc64nvme(bytes))
      expect(crc32c(bytes.subarray(cut), crc32c(bytes.subarray(0, cut)))).toBe(crc32c(bytes))
      expect(crc32(bytes.subarray(cut), crc32(bytes.subarray(0, cut)))).toBe(crc32(bytes))
    }
  })

  test("CRC-64/NVME in WebAssembly lanes equals the AWS SDK's, in place or copied in, across lanes, blocks and tails", async () => {
    const scratch = crc64nvmeScratch()
    expect(scratch).not.toBeNull()
    const data = pseudoRandom(4 * 1024 * 1024 + 70_013, 9)
    for (const [start, end] of [[0, 196_608], [3, 196_611 + 8 * 1000 + 5], [1, 4 * 1024 * 1024 + 70_001], [0, 65_536], [7, 2 * 196_608 + 3]] as const) {
      const bytes = data.subarray(start, end)
      const sdk = new Crc64NvmeJs()
      sdk.update(bytes)
      const expected = Buffer.from(await sdk.digest()).toString("base64")
      expect(crcBase64(crc64nvme(bytes), 8)).toBe(expected)
      expect(crcBase64(crc64nvmeJs(bytes), 8)).toBe(expected)
      const cut = 65_536 * 3 + 11
      expect(crc64nvme(bytes.subarray(cut), crc64nvme(bytes.subarray(0, cut)))).toBe(crc64nvme(bytes))
      if (scratch && bytes.length <= scratch.length - 5) {
        scratch.set(bytes, 5)
        expect(crcBase64(crc64nvme(scratch.subarray(5, 5 + bytes.length)), 8)).toBe(expected)
      }
    }
  })

  test("CRCs of adjacent pieces combine into the CRC of the whole, at any cut", () => {
    const data = pseudoRandom(100_003, 6)
    for (const cut of [0, 1, 7, 4096, 99_999, 100_003]) {
      const [a, b] = [data.subarray(0, cut), data.subarray(cut)]
      expect(crc32cCombine(crc32c(a), crc32c(b), b.length)).toBe(crc32c(data))
      expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(data))
      expect(crc64nvmeCombine(crc64nvme(a), crc64nvme(b), b.length)).toBe(crc64nvme(data))
    }
  })

  test.each(["crc64nvme", "crc32c", "crc32", "md5", "sha256"] as const)("a file hashed in pieces that land out of order (%s) gives the whole file's digest; a gap is refused", async (algorithm) => {
    await using tmp = tmpdirFor()
    const data = pseudoRandom(9 * 1024 * 1024 + 11, 8)
    const path = join(tmp.path, "f.bin")
    writeFileSync(path, data)
    const whole = digestOf(algorithm)
    whole.update(data)
    const fd = openSync(path, "r")
    try {
      const hasher = fileHasher(fd, algorithm)
      // Three streams: [0, 3 MiB) in two steps, [3 MiB, 6 MiB) first, then the tail; then one piece split off.
      const MiB = 1024 * 1024
      hasher.advance(3 * MiB, 5 * MiB)
      hasher.advance(6 * MiB, 9 * MiB)
      // Given the bytes just written, a CRC takes them instead of reading them back; MD5 and SHA read in order.
      hasher.advance(0, 1 * MiB, data.subarray(0, MiB))
      hasher.advance(3 * MiB, 6 * MiB, data.subarray(5 * MiB, 6 * MiB))
      hasher.advance(0, 3 * MiB)
      hasher.advance(9 * MiB, 9 * MiB + 11)
      expect(hasher.digest(data.length)).toBe(whole.digest())
      const gappy = fileHasher(fd, algorithm)
      gappy.advance(0, 1000)
      gappy.advance(2000, data.length)
      expect(() => gappy.digest(data.length)).toThrow()
    } finally {
      closeSync(fd)
    }
  })

  test.each([
    ["crc32c", "yZRlqg=="],
    ["crc32", "DUoRhQ=="],
    ["md5", "5eb63bbbe01eeed093cb22bb8f5acdc3"],
    ["sha256", "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="],
  ] as const)("digestOf(%p) prints as the services publish it", (algorithm, printed) => {
    const digest = digestOf(algorithm)
    digest.update(text("hello "))
    digest.update(text("world"))
    expect(digest.digest()).toBe(printed)
  })

  test("the cheapest published checksum is used, MD5 last", () => {
    const info = { uri: "s3://b/k", size: 1, version: "v", ranges: true }
    const pick = (checksums: Partial<Record<ChecksumAlgorithm, string>>) => checkFor({ ...info, checksums })?.algorithm ?? null
    expect(pick({ md5: "ab", crc64nvme: "x" })).toBe("crc64nvme")
    expect(pick({ md5: "ab", crc32c: "x", crc64nvme: "y" })).toBe("crc32c")
    expect(pick({ md5: "ab", sha256: "x" })).toBe("sha256")
    expect(pick({ md5: "AB" })).toBe("md5")
    expect(checkFor({ ...info, checksums: { md5: "AB" } })?.expected).toBe("ab")
    expect(pick({})).toBeNull()
  })

  test.each([
    [{ ChecksumCRC64NVME: "XmW+K2un/vs=", ChecksumType: "FULL_OBJECT" }, { crc64nvme: "XmW+K2un/vs=" }, null],
    [{ ChecksumCRC32C: "yZRlqg==-4" }, {}, "crc32c"],
    [{ ChecksumSHA256: "abc=", ChecksumType: "COMPOSITE" }, {}, "sha256"],
    [{}, {}, null],
  ])("S3 checksums of %p: whole-object ones only", (head, checksums, composite) => {
    const result = checksumsOf(head)
    expect(result.checksums).toEqual(checksums)
    if (composite === null) expect(result.note).toBeNull()
    else expect(result.note).toContain(`${composite} is a composite`)
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
