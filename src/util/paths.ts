// Where mlproject keeps its caches: MLPROJECT_HOME, else $XDG_CACHE_HOME/mlproject, else ~/.cache/mlproject.
import { homedir } from "./os-info.ts"
import { join } from "node:path"

export const mlprojectHome = (env: Record<string, string | undefined> = process.env): string =>
  env.MLPROJECT_HOME ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), ".cache"), "mlproject")

export const cacheDir = (kind: "projects" | "envs" | "downloads" | "parsed" | "runs" | "images", env: Record<string, string | undefined> = process.env): string =>
  join(mlprojectHome(env), kind)
