// Uploads to DBFS (one multipart put, or blocks of at most 1 MB when that is refused) and to Unity Catalog volumes (one
// streamed PUT), skipped when present.
import { describe, expect, test } from "bun:test"
import { truncateSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { resolveWorkspace, type Workspace } from "../../src/databricks/auth.ts"
import { dbfsMethod, putLimit, uploadFile, uploadTarget } from "../../src/databricks/upload.ts"
import { pseudoRandom, sha256 } from "../lib/bytes.ts"
import { caught } from "../lib/caught.ts"
import { loopback } from "../lib/loopback.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const MB = 1024 * 1024
const token = "dapi-upload-secret"
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })
const workspaceAt = (host: string): Workspace => resolveWorkspace({ profile: null, subject: "t" }, { DATABRICKS_HOST: host, DATABRICKS_TOKEN: token })

type Put = { path: string | null; overwrite: string | null; field: string; filename: string; size: number }

/**
 * The DBFS API's upload subset: a multipart put (unless `noPut`, a workspace that answers it as an unknown endpoint),
 * and create/add-block/close refusing blocks over 1 MB as the service does; it can refuse its root entirely.
 */
const dbfsWorkspace = (options: { rootDisabled?: boolean; noPut?: boolean; onStatus?: () => void } = {}) => {
  const files = new Map<string, Uint8Array>()
  const puts: Put[] = []
  const open = new Map<number, { path: string; blocks: Uint8Array[] }>()
  let handles = 0
  const server = loopback(async (request, url, body) => {
    if (request.headers.get("authorization") !== `Bearer ${token}`) return json({ error_code: "403", message: "Invalid access token." }, 403)
    if (options.rootDisabled) return json({ error_code: "PERMISSION_DENIED", message: "Public DBFS root is disabled. Access is denied on path: /tmp/x" }, 403)
    if (url.pathname === "/api/2.0/dbfs/put") {
      if (options.noPut) return json({ error_code: "ENDPOINT_NOT_FOUND", message: "No API found for 'POST /dbfs/put'" }, 404)
      const form = await new Response(body, { headers: { "content-type": request.headers.get("content-type") ?? "" } }).formData()
      const entry = [...form.entries()].find(([, value]) => typeof value !== "string")
      if (!entry) return json({ error_code: "INVALID_PARAMETER_VALUE", message: "no file part" }, 400)
      const file = entry[1] as File
      const path = form.get("path") as string | null
      puts.push({ path, overwrite: form.get("overwrite") as string | null, field: entry[0], filename: file.name, size: file.size })
      files.set(String(path), new Uint8Array(await file.arrayBuffer()))
      return json({})
    }
    const params = request.method === "GET" ? Object.fromEntries(url.searchParams) : (JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>)
    const endpoint = url.pathname.replace("/api/2.0/dbfs/", "")
    if (endpoint === "get-status") {
      options.onStatus?.()
      const bytes = files.get(String(params.path))
      return bytes ? json({ path: params.path, is_dir: false, file_size: bytes.length }) : json({ error_code: "RESOURCE_DOES_NOT_EXIST", message: `No file or directory exists on path ${params.path}.` }, 404)
    }
    if (endpoint === "create") {
      open.set(++handles, { path: String(params.path), blocks: [] })
      return json({ handle: handles })
    }
    const pending = open.get(Number(params.handle))
    if (!pending) return json({ error_code: "RESOURCE_DOES_NOT_EXIST", message: "no such handle" }, 404)
    if (endpoint === "add-block") {
      const block = new Uint8Array(Buffer.from(String(params.data), "base64"))
      if (block.length > MB) return json({ error_code: "MAX_BLOCK_SIZE_EXCEEDED", message: "block over 1 MB" }, 400)
      pending.blocks.push(block)
      return json({})
    }
    if (endpoint === "close") {
      files.set(pending.path, new Uint8Array(Buffer.concat(pending.blocks)))
      open.delete(Number(params.handle))
      return json({})
    }
    return json({ error_code: "ENDPOINT_NOT_FOUND" }, 404)
  })
  return Object.assign(server, { files, puts })
}

/** The Files API's HEAD and PUT for /Volumes paths. */
const volumesWorkspace = () => {
  const files = new Map<string, Uint8Array>()
  const server = loopback((request, url, body) => {
    if (request.headers.get("authorization") !== `Bearer ${token}`) return json({ error_code: "403", message: "Invalid access token." }, 403)
    const path = decodeURIComponent(url.pathname.replace("/api/2.0/fs/files", ""))
    if (request.method === "HEAD") {
      const bytes = files.get(path)
      return bytes ? new Response(null, { status: 200, headers: { "content-length": String(bytes.length) } }) : new Response(null, { status: 404 })
    }
    if (request.method === "PUT") {
      if (!path.startsWith("/Volumes/main/default/code/")) return json({ error_code: "NOT_FOUND", message: "Volume does not exist" }, 404)
      if (files.has(path) && url.searchParams.get("overwrite") !== "true") return json({ error_code: "ALREADY_EXISTS" }, 409)
      files.set(path, body)
      return new Response(null, { status: 204 })
    }
    return json({ error_code: "ENDPOINT_NOT_FOUND" }, 404)
  })
  return Object.assign(server, { files })
}

/** 2 MB and a bit, uploaded fresh to dbfs:/mlflow/projects/abc.tar.gz: there afterwards, byte for byte. */
const uploadTwoMegabytes = async (tmp: TmpDir, server: ReturnType<typeof dbfsWorkspace>) => {
  const bytes = pseudoRandom(2 * MB + 12_345, 9)
  const file = join(tmp.path, "project.tar.gz")
  writeFileSync(file, bytes)
  const progress: number[] = []
  const first = await uploadFile(workspaceAt(server.url), file, "dbfs:/mlflow/projects/abc.tar.gz", { onProgress: (sent) => progress.push(sent) })
  expect(first).toEqual({ uploaded: true, bytes: bytes.length })
  expect(sha256(server.files.get("/mlflow/projects/abc.tar.gz") ?? new Uint8Array())).toBe(sha256(bytes))
  return { bytes, file, progress }
}

describe("uploadFile", () => {
  test.each([
    ["dbfs:/mlflow/x.tar.gz", { kind: "dbfs", path: "/mlflow/x.tar.gz" }],
    ["dbfs:///mlflow/x.tar.gz", { kind: "dbfs", path: "/mlflow/x.tar.gz" }],
    ["/Volumes/main/default/code/x.tar.gz", { kind: "volume", path: "/Volumes/main/default/code/x.tar.gz" }],
  ] as const)("target %s", (target, expected) => {
    expect(uploadTarget(target)).toEqual(expected)
  })

  test("a target that is neither dbfs:/ nor a volume path is refused", async () => {
    await using tmp = tmpdirFor()
    const file = tmp.write("x", "x")
    expect(await caught(uploadFile(workspaceAt("http://127.0.0.1:1"), file, "/Volumes/main/x", {}))).toMatchObject({ code: "databricks.invalid", exitCode: 2 })
  })

  test.each([
    [0, "put"],
    [putLimit - 1, "put"],
    [putLimit, "blocks"],
    [5 * putLimit, "blocks"],
  ] as const)("a DBFS file of %d bytes goes as %s", (size, method) => {
    expect(dbfsMethod(size)).toBe(method)
  })

  test("DBFS: one multipart put streams the file with its length; a second upload finds it and sends nothing", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsWorkspace()
    const { bytes, file, progress } = await uploadTwoMegabytes(tmp, server)
    expect(server.requests.map((r) => r.path.replace("/api/2.0/dbfs/", ""))).toEqual(["get-status", "put"])
    expect(server.puts).toEqual([{ path: "/mlflow/projects/abc.tar.gz", overwrite: "true", field: "file", filename: "project.tar.gz", size: bytes.length }])
    const put = server.requests[1]
    expect(Number(put?.headers.get("content-length"))).toBe(put?.body.length ?? -1)
    expect(put?.headers.get("content-type")).toStartWith("multipart/form-data; boundary=")
    // Streamed, not buffered: progress arrives as the file is read, at least a MiB apart, ending at the size.
    expect(progress.length).toBeGreaterThanOrEqual(2)
    expect(progress.at(-1)).toBe(bytes.length)
    for (let i = 1; i < progress.length - 1; i++) expect((progress[i] ?? 0) - (progress[i - 1] ?? 0)).toBeGreaterThanOrEqual(MB)
    const before = server.requests.length
    expect(await uploadFile(workspaceAt(server.url), file, "dbfs:/mlflow/projects/abc.tar.gz", {})).toEqual({ uploaded: false, bytes: bytes.length })
    expect(server.requests.slice(before).map((r) => r.path)).toEqual(["/api/2.0/dbfs/get-status"])
  })

  test("DBFS: a workspace without put gets blocks of at most 1 MB that reassemble the file", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsWorkspace({ noPut: true })
    const { bytes, progress } = await uploadTwoMegabytes(tmp, server)
    expect(server.requests.map((r) => r.path.replace("/api/2.0/dbfs/", ""))).toEqual(["get-status", "put", "create", "add-block", "add-block", "add-block", "close"])
    expect(JSON.parse(server.requests[2]?.text ?? "{}")).toEqual({ path: "/mlflow/projects/abc.tar.gz", overwrite: true })
    expect(progress.slice(-3)).toEqual([MB, 2 * MB, bytes.length])
  })

  test("DBFS: a local file that changes once its size was taken fails as databricks.upload, naming it", async () => {
    await using tmp = tmpdirFor()
    const file = join(tmp.path, "project.tar.gz")
    writeFileSync(file, pseudoRandom(3 * MB, 3))
    await using server = dbfsWorkspace({ onStatus: () => truncateSync(file, MB) })
    const error = await caught(uploadFile(workspaceAt(server.url), file, "dbfs:/p/x.tar.gz", {}))
    expect(error).toMatchObject({ code: "databricks.upload", exitCode: 1 })
    expect(error.message).toContain(file)
    expect(error.message).toContain(`has ${MB} bytes, not ${3 * MB}`)
    expect(server.files.has("/p/x.tar.gz")).toBe(false)
  })

  test("DBFS: a file of another size at the path (an upload cut short) is overwritten", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsWorkspace()
    server.files.set("/p/a.tar.gz", new Uint8Array(3))
    const file = join(tmp.path, "a.tar.gz")
    writeFileSync(file, pseudoRandom(1000, 2))
    expect(await uploadFile(workspaceAt(server.url), file, "dbfs:/p/a.tar.gz", {})).toEqual({ uploaded: true, bytes: 1000 })
    expect(server.files.get("/p/a.tar.gz")?.length).toBe(1000)
  })

  test("DBFS root disabled: databricks.dbfs_disabled pointing at upload_root and /Volumes", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsWorkspace({ rootDisabled: true })
    const file = tmp.write("a.tar.gz", "x")
    const error = await caught(uploadFile(workspaceAt(server.url), file, "dbfs:/tmp/x", {}))
    expect(error).toMatchObject({ code: "databricks.dbfs_disabled", exitCode: 2 })
    expect(error.message).toContain(server.url)
    expect(error.hint).toContain("upload_root")
    expect(error.hint).toContain("/Volumes/<catalog>/<schema>/<volume>")
  })

  test("DBFS: a bad token stays databricks.auth", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsWorkspace()
    const file = tmp.write("a.tar.gz", "x")
    const workspace = resolveWorkspace({ profile: null, subject: "t" }, { DATABRICKS_HOST: server.url, DATABRICKS_TOKEN: "dapi-bad" })
    expect(await caught(uploadFile(workspace, file, "dbfs:/tmp/x", {}))).toMatchObject({ code: "databricks.auth" })
  })

  test("Volumes: HEAD, then one PUT with the file as its body (overwrite=true); present afterwards", async () => {
    await using tmp = tmpdirFor()
    await using server = volumesWorkspace()
    const bytes = pseudoRandom(3 * MB + 7, 5)
    const file = join(tmp.path, "p.tar.gz")
    writeFileSync(file, bytes)
    const target = "/Volumes/main/default/code/my projects/p.tar.gz"
    expect(await uploadFile(workspaceAt(server.url), file, target, {})).toEqual({ uploaded: true, bytes: bytes.length })
    expect(server.requests.map((r) => [r.method, r.path, r.query.toString()])).toEqual([
      ["HEAD", "/api/2.0/fs/files/Volumes/main/default/code/my%20projects/p.tar.gz", ""],
      ["PUT", "/api/2.0/fs/files/Volumes/main/default/code/my%20projects/p.tar.gz", "overwrite=true"],
    ])
    expect(sha256(server.files.get(target) ?? new Uint8Array())).toBe(sha256(bytes))
    expect(await uploadFile(workspaceAt(server.url), file, target, {})).toEqual({ uploaded: false, bytes: bytes.length })
    expect(server.requests).toHaveLength(3)
  })

  test("Volumes: a missing volume is databricks.not_found", async () => {
    await using tmp = tmpdirFor()
    await using server = volumesWorkspace()
    const file = tmp.write("a.tar.gz", "x")
    const error = await caught(uploadFile(workspaceAt(server.url), file, "/Volumes/main/other/code/a.tar.gz", {}))
    expect(error).toMatchObject({ code: "databricks.not_found" })
    expect(error.message).toContain("Volume does not exist")
  })

  test("a local file that is not there is databricks.upload", async () => {
    await using tmp = tmpdirFor()
    expect(await caught(uploadFile(workspaceAt("http://127.0.0.1:1"), join(tmp.path, "nope"), "dbfs:/x", {}))).toMatchObject({ code: "databricks.upload" })
  })
})
