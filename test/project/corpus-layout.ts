// The corpus folders as rows of INDEX.tsv, and each project folder with its outside env files laid out as in its repository.
import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { corpusDir, hasShared } from "../lib/shared.ts"

export const corpusRoot = corpusDir("mlproject")
const outside = "_outside_project_dir"

export type Row = { id: string; repoPath: string; folder: string }

export const rows = (): Row[] => {
  if (!hasShared) return []
  const folders = readdirSync(corpusRoot)
  return readFileSync(join(corpusRoot, "INDEX.tsv"), "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => {
      const [id = "", , repoPath = ""] = line.split("\t")
      const folder = folders.find((f) => f.startsWith(`${id}__`)) ?? ""
      return { id, repoPath, folder }
    })
}

/**
 * Env files outside the project folder are stored under _outside_project_dir/<repo path>; rebuild the
 * repository layout in a temp folder so `conda_env: ../../environment.yaml` finds its file as it would. `root` is
 * the repository: project files must stay inside the root, and for these projects that is the repository, as when
 * they run from Git (`mlproject run REPO#src/data_load`).
 */
export const projectFor = (row: Row, scratch: string): { dir: string; root: string; uri: string } => {
  const source = join(corpusRoot, row.folder)
  if (!existsSync(join(source, outside))) return { dir: source, root: source, uri: source }
  const repo = join(scratch, row.id)
  const inner = dirname(row.repoPath)
  const projectDir = join(repo, inner)
  cpSync(source, projectDir, { recursive: true, filter: (src) => !src.includes(`/${outside}`) })
  cpSync(join(source, outside), repo, { recursive: true })
  return { dir: projectDir, root: repo, uri: `${repo}#${inner}` }
}

export const projectDirFor = (row: Row, scratch: string): string => projectFor(row, scratch).dir
