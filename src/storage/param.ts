// Remote `path` parameters: the per-run storage folder and MLflow's `param_<i>/<name>` layout inside it.
import { mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { downloadUri } from "./download.ts"
import { lastSegment } from "./uri.ts"
import type { DownloadOptions, Downloaded, Env } from "./types.ts"

/**
 * A fresh folder for one run's downloads under `--storage-dir`, else `MLFLOW_TMP_DIR`, else the system temp
 * folder (created when missing), as MLflow does. Like MLflow's, it is left in place after the run.
 */
export const createRunStorageDir = (storageDir: string | undefined, env: Env = process.env): string => {
  const base = resolve(storageDir ?? env.MLFLOW_TMP_DIR ?? tmpdir())
  mkdirSync(base, { recursive: true })
  return mkdtempSync(join(base, "mlproject-run-"))
}

export type PathParameterOptions = DownloadOptions & {
  /** The run's folder from `createRunStorageDir`. */
  storageDir: string
  /** The parameter's position among the entry point's declared parameters (MLflow's `param_<i>`). */
  index: number
}

/**
 * Downloads a remote `path` parameter value and returns the local path the command receives:
 * `<storageDir>/param_<index>/<last segment>`, a file for an object or a folder for a prefix.
 */
export const downloadPathParameter = async (uri: string, options: PathParameterOptions): Promise<string> => (await fetchPathParameter(uri, options)).path

/** downloadPathParameter with what was downloaded: the local path and the remote version (what a run key records). */
export const fetchPathParameter = async (uri: string, options: PathParameterOptions): Promise<Downloaded> => {
  const dir = join(options.storageDir, `param_${options.index}`)
  mkdirSync(dir, { recursive: true })
  return downloadUri(uri, join(dir, lastSegment(uri)), options)
}
