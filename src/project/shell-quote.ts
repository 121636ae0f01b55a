// Python's shlex.quote, byte for byte: how MLflow quotes every parameter value it puts in a command.
import { alnumOr } from "../util/ascii.ts"

// shlex's pattern is /[^\w@%+=:,./-]/ compiled with re.ASCII, so every non-ASCII character counts as unsafe.
const safe = (value: string): boolean => alnumOr(value, "_@%+=:,./-")

export const shellQuote = (value: string): string => {
  if (value === "") return "''"
  if (safe(value)) return value
  return `'${value.replaceAll("'", `'"'"'`)}'`
}
