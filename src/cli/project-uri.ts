// Shared option rows and loading for commands that take a project URI (run, validate, describe).
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
