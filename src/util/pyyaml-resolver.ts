// PyYAML's implicit resolvers (resolver.py, YAML 1.1): the tag an untagged plain scalar is read back with.
import { indexOfAny, isDigitAt, isDigits } from "./ascii.ts"

export type Tag = "str" | "int" | "float" | "bool" | "null" | "timestamp" | "merge" | "value"

// The resolvers that are fixed words (bool, merge, null, value): no two share a word, so a lookup is PyYAML's answer.
const words = new Map<string, Tag>([
  ...["yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"].map((w) => [w, "bool"] as const),
  ["<<", "merge"],
  ...["~", "null", "Null", "NULL", ""].map((w) => [w, "null"] as const),
  ["=", "value"],
])

// The patterns, in PyYAML's order, anchored as Python's re.match(...$) anchors them.
const patterns: ReadonlyArray<readonly [Tag, RegExp]> = [
  [
    "float",
    /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  ],
  ["int", /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/],
  [
    "timestamp",
    /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  ],
]

// PyYAML tries the number and timestamp patterns only for a first character they were registered with.
const numberStart = new Set("-+.0123456789")
// From a digit, each pattern needs `.`, `:` or `-`, or only digits and `_`, or a 0b/0x prefix (/^[0-9_]*$|[.:-]|^0[bx]/):
// an id such as 3f2a…, a version such as 12abc, is a str without running them (their first run compiles them).
const digitsAndUnderscores = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (!isDigitAt(text, i) && text[i] !== "_") return false
  return true
}
const mayBeNumber = (text: string): boolean =>
  digitsAndUnderscores(text) || indexOfAny(text, ".:-") !== -1 || text.startsWith("0b") || text.startsWith("0x")
const octal = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text[i] === "8" || text[i] === "9") return false
  return true
}

// Digits alone (an experiment id, a count) meet only the int patterns: `0`, [1-9][0-9_]*, or 0[0-7_]+ (so `08` is a str).
const digitsTag = (text: string): Tag => (text === "0" || text[0] !== "0" || octal(text) ? "int" : "str")

/** Which tag PyYAML gives an untagged plain scalar (quoted scalars are always str). */
export const resolvePlain = (text: string): Tag => {
  const word = words.get(text)
  if (word) return word
  const first = text[0] as string
  if (!numberStart.has(first)) return "str"
  if (isDigits(text)) return digitsTag(text)
  if (first >= "0" && first <= "9" && !mayBeNumber(text)) return "str"
  return patterns.find(([, pattern]) => pattern.test(text))?.[0] ?? "str"
}

/** `resolvePlain(text) === "null"`, asked by a store call of each meta.yaml field it reads. */
export const readsAsNull = (text: string): boolean => words.get(text) === "null"
