// Remote `path` parameters (s3://, gs://, dbfs:/, http(s)://) downloaded before the run exists, then the command re-rendered.
import { join } from "node:path"
import type { Emit } from "../events/event.ts"
import { localPathOf } from "../project/python-url.ts"
import { renderCommand } from "../project/parameters.ts"
import type { EntryPoint, ResolvedParameters } from "../project/types.ts"

export type RemotePathOptions = {
  storageDir?: string
  noCache: boolean
  dryRun: boolean
  emit: Emit
  env: Record<string, string | undefined>
  signal?: AbortSignal
}

/**
 * MLflow downloads into `<storage dir>/param_<i>/` where i is the parameter's place among the declared ones; the
 * storage code is loaded only when a run has remote data.
 */
export const downloadRemotePaths = async (
  entryPoint: EntryPoint,
  resolved: ResolvedParameters,
  options: RemotePathOptions,
): Promise<ResolvedParameters> => {
  const remote = resolved.parameters
    .map((parameter, index) => ({ parameter, index }))
    .filter(({ parameter }) => parameter.declared && parameter.type === "path" && localPathOf(parameter.value) === null)
  if (remote.length === 0) return resolved
  const storage = await import("../storage/index.ts")
  const storageDir = options.dryRun ? join(options.storageDir ?? "<storage dir>", "<run folder>") : storage.createRunStorageDir(options.storageDir, options.env)
  const parameters = [...resolved.parameters]
  for (const { parameter, index } of remote) {
    if (options.dryRun) {
      parameters[index] = { ...parameter, value: join(storageDir, `param_${index}`, storage.lastSegment(parameter.value)) }
      continue
    }
    const fetched = await storage.fetchPathParameter(parameter.value, {
      storageDir,
      index,
      env: options.env,
      emit: options.emit,
      signal: options.signal,
      noCache: options.noCache,
      // MD5 runs at about half the speed of a fast local link: users of such links may trade the check for speed.
      verify: options.env.MLPROJECT_VERIFY_DOWNLOADS !== "false",
    })
    // The version goes with the value: a run key tells data that changed under the same URI.
    parameters[index] = { ...parameter, value: fetched.path, remote: { uri: fetched.uri, version: fetched.version } }
  }
  return { ...resolved, parameters, command: renderCommand(entryPoint, parameters) }
}
