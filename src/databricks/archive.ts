// A deterministic .tar.gz of a project folder under `mlflow-project/`, the shape MLflow's Databricks backend unpacks.
import { basename } from "node:path"
import { ToolError } from "../errors.ts"
import { writeDeterministicTarGz, type DetTarResult } from "../util/det-tar.ts"

/** The folder MLflow's Databricks backend unpacks the project from. */
export const archiveRoot = "mlflow-project"

// What a run writes and what git keeps: neither belongs to the project's code, at any depth.
const excluded = new Set(["mlruns", ".git"])

const archiveError = (message: string, cause?: unknown) =>
  new ToolError("databricks.archive", message, { hint: "check that the project folder is readable and not being changed while the run starts", exitCode: 1, cause })

export type ArchiveResult = DetTarResult

/**
 * Writes `dir` as a gzipped tar to `outFile`: entries in byte order, mtime 0, uid/gid 0, modes 0644 or 0755,
 * symlinks stored as links (never followed), `mlruns` and `.git` left out. The same tree gives the same bytes.
 */
export const projectArchive = (dir: string, outFile: string): Promise<ArchiveResult> =>
  writeDeterministicTarGz(dir, outFile, { root: archiveRoot, exclude: (path) => excluded.has(basename(path)), level: 6, error: archiveError })
