// The text view of a pack: what `pack` wrote, and the manifest `describe`/`validate` read from a .mlpack.
import { bytesText } from "./env-text.ts"
import type { Event } from "./event.ts"

type Of<T extends Event["type"]> = Extract<Event, { type: T }>
type Manifest = Of<"pack.written">["manifest"]

const manifestLines = (m: Manifest): string[] => [
  `  source:      ${m.source.uri}${m.source.commit ? ` @ ${m.source.commit}` : ""}${m.source.subdirectory ? ` (#${m.source.subdirectory})` : ""}`,
  `  tree digest: ${m.source.tree_digest}`,
  `  entry points: ${m.project.entry_points.join(", ") || "(none)"}`,
  `  environment: ${m.env.kind} as ${m.env.manager} for ${m.env.platform}${m.env.python ? `, Python ${m.env.python}` : ""}${m.env.key ? ` (key ${m.env.key})` : ""}`,
  ...(m.env.wheels.length > 0 ? [`  wheels:      ${m.env.wheels.map((w) => w.file.replace(/^wheels\//, "")).join(", ")}`] : []),
  ...(m.image ? [`  image:       ${m.image.name} (${m.image.id})`] : []),
  `  files:       ${Object.keys(m.files).length}, format ${m.format}, by ${m.created_by}`,
]

export const packWrittenText = (e: Of<"pack.written">): string => [`wrote ${e.file} (${bytesText(e.bytes)}, sha256 ${e.sha256})`, ...manifestLines(e.manifest)].join("\n")

export const packManifestText = (e: Of<"pack.manifest">): string => [`pack ${e.file} (sha256 ${e.sha256}), every file verified`, ...manifestLines(e.manifest)].join("\n")
