// The kubelet's `$(VAR)` expansion of env values, command and args (a port of k8s third_party/forked/golang/expansion).

const operator = "$"

/** Reads what follows a `$`: `$$` is an escaped `$`, `$(NAME)` a reference, anything else is kept as written. */
const readVariable = (input: string): { text: string; isVar: boolean; advance: number } => {
  if (input[0] === operator) return { text: operator, isVar: false, advance: 1 }
  if (input[0] === "(") {
    const close = input.indexOf(")", 1)
    if (close !== -1) return { text: input.slice(1, close), isVar: true, advance: close + 1 }
    // An unclosed reference is kept whole: "$(" then the rest as plain text.
    return { text: "$(", isVar: false, advance: 1 }
  }
  return { text: operator + input[0], isVar: false, advance: 1 }
}

/** Expands `input`; a name `mapping` does not know stays `$(NAME)`, exactly as the kubelet leaves it. */
export const expand = (input: string, mapping: (name: string) => string | undefined): string => {
  let out = ""
  let checkpoint = 0
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] === operator && cursor + 1 < input.length) {
      out += input.slice(checkpoint, cursor)
      const { text, isVar, advance } = readVariable(input.slice(cursor + 1))
      out += isVar ? (mapping(text) ?? `$(${text})`) : text
      cursor += advance
      checkpoint = cursor + 1
    }
  }
  return out + input.slice(checkpoint)
}

/** The first map that has the name wins (the container's env defined so far, then the service variables). */
export const mappingFor =
  (...maps: Array<Record<string, string>>) =>
  (name: string): string | undefined => {
    for (const map of maps) if (Object.hasOwn(map, name)) return map[name]
    return undefined
  }
