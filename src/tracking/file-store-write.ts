// Publishes new experiment and run folders whole: built aside, then renamed into place in one step.
//
// Where the folder is built matters, because MLflow lists sub-directories to find things:
//  - an experiment folder lists runs: every sub-directory but tags/datasets/traces/models is read as a
//    run, and `_search_datasets` fails outright on one without meta.yaml, so nothing half-built may sit
//    there;
//  - `.trash/` lists every sub-directory as a deleted experiment and rejects names that are not ids;
//  - the root lists every sub-directory as an experiment EXCEPT names ending in `.trash` (MLflow 1.0 to
//    3.x test `name.endswith(".trash")`), and `migrate-filestore` only takes integer names.
// So folders are built in `<root>/.mlproject-tmp-<owner>-<hex>.trash/` (invisible to all of these) and renamed
// to `<root>/<experiment>` or `<root>/<experiment>/<run>`: readers see nothing, then the complete folder.
// Each staging folder sits directly in the root and leaves it by the rename: removing an emptied parent
// folder instead would cost milliseconds per run on ext4 mounted with `discard`. A failed build is removed at once;
// one whose process was killed carries its owner in its name, and leftovers.ts removes it once that owner is gone.
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import type { Tag } from "./types.ts"
import { errnoOf, pathExists, tempName, writeFileAtomic } from "../util/fs-atomic.ts"
import { metaFile } from "./file-store-read.ts"

/** A new, empty folder in the root whose name MLflow's experiment listing skips (it ends in `.trash`). */
const makeStagingDir = (root: string): string => {
  const dir = join(root, `${tempName()}.trash`)
  // mkdir, not mkdtemp: the folder becomes the run folder and must get the umask's usual permissions.
  mkdirSync(dir)
  return dir
}

/** The content of a new run folder; tag and param keys with `/` become sub-folders of tags/ and params/. */
export type RunFolder = { meta: string; tags: readonly Tag[]; params: readonly Tag[] }

const writeValueFiles = (dir: string, sub: "tags" | "params", entries: readonly Tag[]): void => {
  for (const entry of entries) {
    const file = join(dir, sub, entry.key)
    if (entry.key.includes("/")) mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, entry.value)
  }
}

// Plain writes are enough here: no reader looks into a staging folder, nor into a run folder that has
// no meta.yaml yet. Only meta.yaml, the file that makes the run visible, is renamed into place.
const fillRunFolder = (dir: string, content: RunFolder, inPlace: boolean): void => {
  if (!inPlace) writeFileSync(join(dir, metaFile), content.meta)
  for (const sub of ["metrics", "params", "artifacts", "tags"]) mkdirSync(join(dir, sub))
  writeValueFiles(dir, "tags", content.tags)
  writeValueFiles(dir, "params", content.params)
  if (inPlace) writeFileAtomic(join(dir, metaFile), content.meta)
}

/** Creates `<experimentDir>/<runId>` complete with meta.yaml, metrics/, params/, artifacts/, its tags and params. */
export const publishRunFolder = (root: string, experimentDir: string, runId: string, content: RunFolder): void => {
  const target = join(experimentDir, runId)
  const staged = makeStagingDir(root)
  try {
    fillRunFolder(staged, content, false)
    renameSync(staged, target)
  } catch (error) {
    rmSync(staged, { recursive: true, force: true })
    if (errnoOf(error) !== "EXDEV") throw error
    // The experiment folder is on another filesystem (a symlink): build in place, meta.yaml last, as
    // MLflow itself does; a reader skips the folder until meta.yaml appears. A failed build (a full disk) is
    // removed again: mkdir just made the folder, so it is ours.
    mkdirSync(target)
    try {
      fillRunFolder(target, content, true)
    } catch (inPlace) {
      rmSync(target, { recursive: true, force: true })
      throw inPlace
    }
  }
}

/**
 * Creates `<root>/<id>` holding `meta` as its meta.yaml. Returns false when that id is taken, so the
 * caller can draw another. Callers hold the experiments lock.
 */
export const publishExperimentFolder = (root: string, id: string, meta: string): boolean => {
  const target = join(root, id)
  const staged = makeStagingDir(root)
  try {
    writeFileSync(join(staged, metaFile), meta)
    // rename() would silently replace an empty folder of that name, so look first (we hold the lock).
    if (pathExists(target)) return false
    try {
      renameSync(staged, target)
    } catch (error) {
      if (errnoOf(error) === "ENOTEMPTY" || errnoOf(error) === "EEXIST") return false
      throw error
    }
    return true
  } finally {
    rmSync(staged, { recursive: true, force: true })
  }
}
