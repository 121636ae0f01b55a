// The cache key of an environment: a hash of everything that defines it, and nothing that does not.
import { sha256Hex } from "../util/random.ts"
import { relative } from "node:path"
import type { EnvTool } from "./events.ts"
import type { ReferencedFile } from "./requirements.ts"

/** Bumped when the layout of a built environment changes, so older builds are never trusted. */
const layoutVersion = 1

export type KeyParts = {
  tool: EnvTool
  /** The exact interpreter version (X.Y.Z), or the request when the tool resolves it (uv, conda). */
  python: string | null
  /** The normalised spec: parsed YAML as plain data, so comments and whitespace do not matter. */
  spec: unknown
  /** Contents of every referenced file, named relative to the project so a fresh working copy hits. */
  files: ReferencedFile[]
  projectDir: string
}

/** JSON with object keys sorted: one spelling per value. */
export const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

export const envKey = (parts: KeyParts): string => {
  const files = parts.files
    .map((f) => ({ path: relative(parts.projectDir, f.path), sha256: f.sha256 }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const text = canonicalJson({
    layout: layoutVersion,
    tool: parts.tool,
    python: parts.python,
    spec: parts.spec,
    files,
    platform: `${process.platform}-${process.arch}`,
  })
  return `${parts.tool}-${sha256Hex(text).slice(0, 16)}`
}
