// PyYAML's implicit resolvers (resolver.py, YAML 1.1): the tag an untagged plain scalar is read back with.

export type Tag = "str" | "int" | "float" | "bool" | "null" | "timestamp" | "merge" | "value"

// In PyYAML's order, anchored as Python's re.match(...$) anchors them.
const resolvers: ReadonlyArray<readonly [Tag, RegExp]> = [
  ["bool", /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/],
  [
    "float",
    /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  ],
  ["int", /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/],
  ["merge", /^(?:<<)$/],
  ["null", /^(?:~|null|Null|NULL|)$/],
  [
    "timestamp",
    /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  ],
  ["value", /^(?:=)$/],
]

/** Which tag PyYAML gives an untagged plain scalar (quoted scalars are always str). */
export const resolvePlain = (text: string): Tag => resolvers.find(([, pattern]) => pattern.test(text))?.[0] ?? "str"
