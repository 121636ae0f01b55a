// The pack manifest: its type, its format version, and the check that turns parsed JSON into one (fields in a fixed order).
import { ToolError } from "../errors.ts"

export const packFormatVersion = 1

export type PackWheel = { file: string; sha256: string }
export type PackImage = { name: string; id: string; file: string; sha256: string }
export type EnvKind = "python_env" | "conda_env" | "docker" | "none"

export type PackManifest = {
  format: number
  created_by: string
  source: { uri: string; commit: string | null; tree_digest: string; subdirectory: string | null }
  project: { name: string | null; entry_points: string[] }
  env: {
    kind: EnvKind
    manager: string
    key: string | null
    python: string | null
    platform: string
    wheels: PackWheel[]
    build_dependencies?: string[]
    dependencies?: string[]
  }
  image: PackImage | null
  /** Every regular file's path inside `mlpack/` (manifest.json aside) → its sha256, in byte order of the paths. */
  files: Record<string, string>
}

/** What a caller describes; the writer adds `format`, `created_by` and `files`. */
export type PackContent = Omit<PackManifest, "format" | "created_by" | "files">

export const invalidPack = (pack: string, detail: string, cause?: unknown): ToolError =>
  new ToolError("pack.invalid", `${pack} is not an mlproject pack: ${detail}`, {
    hint: "check that the file is a complete .mlpack written by `mlproject pack` (copy it again if it came over a network)",
    cause,
  })

const kinds: EnvKind[] = ["python_env", "conda_env", "docker", "none"]
const hex = /^[0-9a-f]{64}$/

type Checker = { at: string; value: unknown }

/** Reads typed fields of an object, failing with the dotted name of the first field that is missing or of the wrong type. */
const reader = (pack: string) => {
  const wrong = (at: string, expected: string, value: unknown): never => {
    throw invalidPack(pack, value === undefined ? `manifest.json lacks '${at}'` : `manifest.json has '${at}' = ${JSON.stringify(value)}; expected ${expected}`)
  }
  const object = ({ at, value }: Checker): Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : wrong(at, "an object", value)
  const field = (parent: Checker, key: string): Checker => ({ at: parent.at === "" ? key : `${parent.at}.${key}`, value: object(parent)[key] })
  const string = (c: Checker): string => (typeof c.value === "string" ? c.value : wrong(c.at, "a string", c.value))
  const nullable = (c: Checker): string | null => (c.value === null ? null : typeof c.value === "string" ? c.value : wrong(c.at, "a string or null", c.value))
  const digest = (c: Checker): string => (typeof c.value === "string" && hex.test(c.value) ? c.value : wrong(c.at, "a sha256 in lowercase hex", c.value))
  const strings = (c: Checker): string[] =>
    Array.isArray(c.value) && c.value.every((item) => typeof item === "string") ? (c.value as string[]) : wrong(c.at, "a list of strings", c.value)
  const list = (c: Checker): Checker[] => (Array.isArray(c.value) ? c.value.map((value, i) => ({ at: `${c.at}[${i}]`, value })) : wrong(c.at, "a list", c.value))
  return { wrong, object, field, string, nullable, digest, strings, list }
}

/** The manifest as the format defines it, or a `pack.invalid` naming the first field that is missing or wrong. */
export const checkManifest = (value: unknown, pack: string): PackManifest => {
  const r = reader(pack)
  const root: Checker = { at: "", value }
  r.object({ at: "manifest", value })
  const at = (path: string): Checker => path.split(".").reduce((parent, key) => r.field(parent, key), root)
  const format = at("format").value
  if (typeof format !== "number" || !Number.isInteger(format) || format < 1) r.wrong("format", "a whole number", format)
  if ((format as number) > packFormatVersion) {
    throw new ToolError("pack.format", `${pack} was written by a newer mlproject (pack format ${format}; this one reads up to ${packFormatVersion}): upgrade mlproject`, {
      hint: "install the mlproject release that wrote the pack (its manifest's created_by names it), or a newer one",
    })
  }
  const kind = at("env.kind").value
  if (!kinds.includes(kind as EnvKind)) r.wrong("env.kind", kinds.join(", "), kind)
  const files = r.object(at("files"))
  for (const [path, sha256] of Object.entries(files)) r.digest({ at: `files[${JSON.stringify(path)}]`, value: sha256 })
  const optional = (path: string) => (at(path).value === undefined ? {} : { [path.split(".").at(-1) as string]: r.strings(at(path)) })
  const image = at("image").value === null ? null : at("image")
  const manifest: PackManifest = {
    format: format as number,
    created_by: r.string(at("created_by")),
    source: { uri: r.string(at("source.uri")), commit: r.nullable(at("source.commit")), tree_digest: r.string(at("source.tree_digest")), subdirectory: r.nullable(at("source.subdirectory")) },
    project: { name: r.nullable(at("project.name")), entry_points: r.strings(at("project.entry_points")) },
    env: {
      kind: kind as EnvKind,
      manager: r.string(at("env.manager")),
      key: r.nullable(at("env.key")),
      python: r.nullable(at("env.python")),
      platform: r.string(at("env.platform")),
      wheels: r.list(at("env.wheels")).map((wheel) => ({ file: r.string(r.field(wheel, "file")), sha256: r.digest(r.field(wheel, "sha256")) })),
      ...optional("env.build_dependencies"),
      ...optional("env.dependencies"),
    },
    image: image === null ? null : { name: r.string(r.field(image, "name")), id: r.string(r.field(image, "id")), file: r.string(r.field(image, "file")), sha256: r.digest(r.field(image, "sha256")) },
    files: Object.fromEntries(Object.entries(files as Record<string, string>).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))),
  }
  // The wheels and the image are files of the pack like any other: the manifest says the same hash twice or it is damaged.
  for (const item of [...manifest.env.wheels, ...(manifest.image ? [manifest.image] : [])]) {
    if (manifest.files[item.file] !== item.sha256) {
      throw invalidPack(pack, `manifest.json names '${item.file}' with sha256 ${item.sha256}, but its files list ${manifest.files[item.file] === undefined ? "does not have it" : `says ${manifest.files[item.file]}`}`)
    }
  }
  return manifest
}

/** Parses manifest.json's text; the version is checked before the fields, so a newer format asks for an upgrade, not a repair. */
export const parseManifest = (text: string, pack: string): PackManifest => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw invalidPack(pack, `manifest.json is not valid JSON (${(error as Error).message})`, error)
  }
  return checkManifest(value, pack)
}
