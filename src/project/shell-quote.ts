// Python's shlex.quote, byte for byte: how MLflow quotes every parameter value it puts in a command.

// shlex compiles its pattern with re.ASCII, so every non-ASCII character counts as unsafe.
const unsafe = /[^A-Za-z0-9_@%+=:,./-]/

export const shellQuote = (value: string): string => {
  if (value === "") return "''"
  if (!unsafe.test(value)) return value
  return `'${value.replaceAll("'", `'"'"'`)}'`
}
