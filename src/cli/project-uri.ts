// Shared option rows and source fields for commands that take a project URI (run, validate, describe).
import type { ProjectSource } from "../source/index.ts"
import type { OptionSpec } from "./args.ts"

export const entryPointOption: OptionSpec = {
  long: "entry-point",
  short: "e",
  kind: "value",
  metavar: "NAME",
  description: "entry point to use (default: main); a .py, .sh or .R file of the project also works",
}
export const paramOption: OptionSpec = {
  long: "param-list",
  short: "P",
  kind: "list",
  metavar: "NAME=VALUE",
  description: "a parameter of the entry point; undeclared names become --NAME VALUE arguments",
}
export const versionOption: OptionSpec = {
  long: "version",
  short: "v",
  kind: "value",
  metavar: "VERSION",
  description: "Git commit, branch or tag to use (Git URIs)",
}

/**
 * What `validate` and `describe` name the project by: a fetched project was read from a temporary copy that is gone
 * when the command ends, so its URI (credentials removed) and commit, not that copy's path.
 */
export const sourceView = (source: ProjectSource): { source: string; commit?: string } => ({
  source: source.name,
  ...(source.git ? { commit: source.git.commit } : {}),
})
