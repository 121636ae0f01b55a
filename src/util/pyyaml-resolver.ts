// PyYAML's implicit resolvers (resolver.py, YAML 1.1): the tag an untagged plain scalar is read back with.

export type Tag = "str" | "int" | "float" | "bool" | "null" | "timestamp" | "merge" | "value"

const nullPattern = /^(?:~|null|Null|NULL|)$/

// In PyYAML's order, anchored as Python's re.match(...$) anchors them.
const resolvers: ReadonlyArray<readonly [Tag, RegExp]> = [
  ["bool", /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/],
  [
    "float",
    /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  ],
  ["int", /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/],
  ["merge", /^(?:<<)$/],
  ["null", nullPattern],
  [
    "timestamp",
    /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  ],
  ["value", /^(?:=)$/],
]

/** Which tag PyYAML gives an untagged plain scalar (quoted scalars are always str). */
export const resolvePlain = (text: string): Tag => resolvers.find(([, pattern]) => pattern.test(text))?.[0] ?? "str"

/**
 * `resolvePlain(text) === "null"` without trying the resolvers before it: no text null's pattern takes (``, `~`,
 * `null`, `Null`, `NULL`) is a bool, float, int or merge, so the answer is the same. A store call reads a dozen
 * meta.yaml fields and only asks this; compiling the float, int and timestamp patterns for it cost a fresh process
 * a tenth of a millisecond or more.
 */
export const readsAsNull = (text: string): boolean => nullPattern.test(text)
