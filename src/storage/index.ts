// The storage layer's public surface: one Storage interface chosen by URI scheme, and `path` parameter downloads.
import { download, downloadPrefix, downloadUri, stat, upload } from "./download.ts"

export { adapterFor, download, downloadObject, downloadPrefix, downloadUri, stat, supportedSchemes, upload } from "./download.ts"
export { createRunStorageDir, downloadPathParameter, fetchPathParameter, type PathParameterOptions } from "./param.ts"
export { isRemoteUri, lastSegment, schemeOf } from "./uri.ts"
export type { DownloadOptions, Downloaded, Env, ObjectInfo, Tuning } from "./types.ts"

export type Storage = {
  stat: typeof stat
  download: typeof download
  downloadPrefix: typeof downloadPrefix
  downloadUri: typeof downloadUri
  upload: typeof upload
}

export const storage: Storage = { stat, download, downloadPrefix, downloadUri, upload }
