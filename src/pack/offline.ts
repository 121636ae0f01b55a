// What a run from a pack changes: installers pointed at the packed wheels only, and the packed image loaded when missing.
import { join } from "node:path"
import type { Emit } from "../events/event.ts"
import type { ProjectSource } from "../source/index.ts"
import type { DockerClient } from "../util/docker-api.ts"

type Env = Record<string, string | undefined>
type Pack = NonNullable<ProjectSource["pack"]>

/**
 * pip and uv see the pack's wheels and nothing else: no index, no configuration file of this machine (a pip.conf or
 * PIP_INDEX_URL pointing at a mirror would be a network call), binary wheels only.
 */
export const offlineInstallEnv = (pack: Pack, env: Env): Env => {
  const wheels = join(pack.dir, "wheels")
  const out: Env = { ...env }
  for (const name of Object.keys(out)) if (/^(PIP|UV)_/.test(name)) delete out[name]
  return {
    ...out,
    PIP_CONFIG_FILE: "/dev/null",
    PIP_NO_INDEX: "1",
    PIP_FIND_LINKS: wheels,
    PIP_ONLY_BINARY: ":all:",
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    UV_OFFLINE: "1",
    UV_NO_INDEX: "1",
    UV_FIND_LINKS: wheels,
    UV_NO_CONFIG: "1",
  }
}

/** The pack's image, loaded into the daemon unless it has that very image already. */
export const loadPackImage = async (pack: Pack, docker: DockerClient, context: { emit: Emit; env: Env; signal?: AbortSignal }): Promise<void> => {
  const image = pack.manifest.image
  if (!image) return
  const { loadImageIfMissing } = await import("./image.ts")
  const started = performance.now()
  const loaded = await loadImageIfMissing(image, join(pack.dir, image.file), { docker, env: context.env, emit: context.emit, signal: context.signal })
  if (loaded) context.emit({ type: "pack.image.loaded", image: image.name, id: image.id, ms: Math.round(performance.now() - started) })
}
