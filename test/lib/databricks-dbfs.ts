// The DBFS API 2.0 of the loopback workspace over folders on disk: get-status, list, mkdirs, put, create/add-block/close,
// read, delete.
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { readMultipart } from "./multipart-reader.ts"
import { ApiError, invalid, missing, params, reply, type Json, type WorkspaceRequest } from "./databricks-http.ts"
import { dbfsFile, publish, stagingFile, type Storage } from "./databricks-files.ts"

const oneMb = 1024 * 1024

export type Dbfs = { handle(endpoint: string, request: Request, url: URL, record: WorkspaceRequest): Promise<Response>; dispose(): void }

const statusOf = (path: string, file: string) => {
  const stat = statSync(file)
  return { path, is_dir: stat.isDirectory(), file_size: stat.isDirectory() ? 0 : stat.size, modification_time: Math.floor(stat.mtimeMs) }
}

const stringParam = (input: Json, name: string): string => {
  const value = input[name]
  if (typeof value !== "string" || value === "") throw invalid(`Missing required field: ${name}`)
  return value
}

const flag = (value: unknown) => value === true || value === "true"

export const dbfs = (storage: Storage): Dbfs => {
  const handles = new Map<number, { path: string; file: string; staging: string; overwrite: boolean }>()
  let nextHandle = 1000 + Math.floor(Math.random() * 1000)
  const absent = (path: string) => missing(`No file or directory exists on path ${path}.`)
  const exists = (path: string) => new ApiError(400, "RESOURCE_ALREADY_EXISTS", `A file or directory already exists at the input path ${path}.`)
  const handleOf = (input: Json) => {
    const open = handles.get(Number(input.handle))
    if (!open) throw missing(`The handle ${String(input.handle)} does not exist.`)
    return open
  }

  const endpoints: Record<string, (input: Json) => Response> = {
    "get-status": (input) => {
      const path = stringParam(input, "path")
      const file = dbfsFile(storage, path)
      if (!existsSync(file)) throw absent(path)
      return reply(statusOf(path, file))
    },
    list: (input) => {
      const path = stringParam(input, "path")
      const file = dbfsFile(storage, path)
      if (!existsSync(file)) throw absent(path)
      if (!statSync(file).isDirectory()) return reply({ files: [statusOf(path, file)] })
      const base = path.replace(/^dbfs:/, "").replace(/\/$/, "")
      const files = readdirSync(file).map((name) => statusOf(`${base}/${name}`, join(file, name)))
      return reply(files.length > 0 ? { files } : {})
    },
    mkdirs: (input) => {
      const path = stringParam(input, "path")
      const file = dbfsFile(storage, path)
      if (existsSync(file) && !statSync(file).isDirectory()) throw exists(path)
      mkdirSync(file, { recursive: true })
      return reply({})
    },
    create: (input) => {
      const path = stringParam(input, "path")
      const file = dbfsFile(storage, path)
      const overwrite = flag(input.overwrite)
      if (existsSync(file) && (!overwrite || statSync(file).isDirectory())) throw exists(path)
      const staging = stagingFile(storage)
      writeFileSync(staging, "")
      const handle = nextHandle++
      handles.set(handle, { path, file, staging, overwrite })
      return reply({ handle })
    },
    "add-block": (input) => {
      const open = handleOf(input)
      if (typeof input.data !== "string") throw invalid("Missing required field: data")
      const block = Buffer.from(input.data, "base64")
      if (block.length > oneMb) throw new ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", `The block of data may not exceed ${oneMb} bytes (got ${block.length}).`)
      appendFileSync(open.staging, block)
      return reply({})
    },
    close: (input) => {
      const open = handleOf(input)
      handles.delete(Number(input.handle))
      if (existsSync(open.file) && !open.overwrite) {
        rmSync(open.staging, { force: true })
        throw exists(open.path)
      }
      publish(open.staging, open.file)
      return reply({})
    },
    read: (input) => {
      const path = stringParam(input, "path")
      const file = dbfsFile(storage, path)
      if (!existsSync(file)) throw absent(path)
      const offset = Number(input.offset ?? 0)
      const length = Number(input.length ?? 0.5 * oneMb)
      if (statSync(file).isDirectory()) throw invalid(`Cannot read a directory: ${path}`)
      if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(length) || length < 0) throw invalid(`Invalid offset or length: ${offset}, ${length}`)
      if (length > oneMb) throw new ApiError(400, "MAX_READ_SIZE_EXCEEDED", `Cannot read more than ${oneMb} bytes; asked for ${length}.`)
      const buffer = Buffer.alloc(length)
      const fd = openSync(file, "r")
      try {
        const read = readSync(fd, buffer, 0, length, offset)
        return reply({ bytes_read: read, data: buffer.subarray(0, read).toString("base64") })
      } finally {
        closeSync(fd)
      }
    },
    delete: (input) => {
      const path = stringParam(input, "path")
      const file = dbfsFile(storage, path)
      if (!existsSync(file)) return reply({})
      if (statSync(file).isDirectory() && readdirSync(file).length > 0 && !flag(input.recursive)) {
        throw new ApiError(400, "IO_ERROR", `Directory ${path} is not empty; set recursive to delete it.`)
      }
      rmSync(file, { recursive: true, force: true })
      return reply({})
    },
  }

  /**
   * `put`: a multipart/form-data post of `path`, `overwrite` and the file (any file part; the CLI names it "file"), or
   * base64 `contents` of at most 1 MB, as a form field or in a JSON body.
   */
  const put = async (request: Request, url: URL, record: WorkspaceRequest): Promise<Response> => {
    if (!(request.headers.get("content-type") ?? "").startsWith("multipart/form-data")) {
      const input = await params(request, url, record)
      return written(stringParam(input, "path"), flag(input.overwrite), contentsOf(input.contents))
    }
    const staging = stagingFile(storage)
    try {
      const form = await readMultipart(request.body ?? new ReadableStream(), request.headers.get("content-type") ?? "", staging)
      record.json = { path: form.fields.path, overwrite: form.fields.overwrite, ...(form.file ? { file_size: form.file.size, filename: form.file.filename } : {}) }
      const path = stringParam(record.json, "path")
      if (form.file) return placed(path, flag(form.fields.overwrite), staging)
      return await written(path, flag(form.fields.overwrite), contentsOf(form.fields.contents))
    } finally {
      rmSync(staging, { force: true })
    }
  }
  const contentsOf = (contents: unknown): Uint8Array => {
    if (typeof contents !== "string") throw invalid("Missing required field: contents (or a file part)")
    const bytes = Buffer.from(contents, "base64")
    if (bytes.length > oneMb) throw new ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", `The contents may not exceed ${oneMb} bytes (got ${bytes.length}); send the file as a form part.`)
    return bytes
  }
  const placed = (path: string, overwrite: boolean, staging: string): Response => {
    const file = dbfsFile(storage, path)
    if (existsSync(file) && (!overwrite || statSync(file).isDirectory())) throw exists(path)
    publish(staging, file)
    return reply({})
  }
  const written = async (path: string, overwrite: boolean, contents: Uint8Array): Promise<Response> => {
    const staging = stagingFile(storage)
    await Bun.write(staging, contents)
    return placed(path, overwrite, staging)
  }

  return {
    async handle(endpoint, request, url, record) {
      if (endpoint === "dbfs/put") return put(request, url, record)
      const run = endpoints[endpoint.replace(/^dbfs\//, "")]
      if (!run) throw new ApiError(404, "ENDPOINT_NOT_FOUND", `No API found for '${request.method} ${url.pathname}'`)
      return run(await params(request, url, record))
    },
    dispose() {
      for (const open of handles.values()) rmSync(open.staging, { force: true })
      handles.clear()
    },
  }
}
