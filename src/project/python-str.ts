// Python's data model for YAML values and its str()/repr(): MLflow passes defaults through str(), so we must too.

export type PyDate = { kind: "date"; year: number; month: number; day: number }
export type PyDateTime = {
  kind: "datetime"
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  microsecond: number
  /** UTC offset in minutes; null for a naive datetime. */
  offset: number | null
}
export type PyDict = { kind: "dict"; entries: Array<[PyValue, PyValue]> }
/** YAML 1.1 values as PyYAML builds them: ints are bigint (Python ints are unbounded), floats are number. */
export type PyScalar = null | boolean | bigint | number | string | PyDate | PyDateTime
export type PyValue = PyScalar | PyValue[] | PyDict

/** Python `repr(float)`: shortest round-trip digits, exponent form when the exponent is < -4 or >= 16. */
export const floatRepr = (x: number): string => {
  if (Number.isNaN(x)) return "nan"
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf"
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0"
  const sign = x < 0 ? "-" : ""
  // toExponential() without an argument yields the same shortest round-trip digits as Python's repr.
  const [mantissa = "", exponent = "0"] = Math.abs(x).toExponential().split("e")
  const digits = mantissa.replace(".", "")
  const exp = Number(exponent)
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`
  if (digits.length <= exp + 1) return `${sign}${digits}${"0".repeat(exp + 1 - digits.length)}.0`
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

const offsetStr = (minutes: number): string => {
  const sign = minutes < 0 ? "-" : "+"
  const abs = Math.abs(minutes)
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
}

const dateStr = (d: PyDate | PyDateTime) => `${pad(d.year, 4)}-${pad(d.month)}-${pad(d.day)}`

const dateTimeStr = (d: PyDateTime): string => {
  const fraction = d.microsecond ? `.${pad(d.microsecond, 6)}` : ""
  const tz = d.offset === null ? "" : offsetStr(d.offset)
  return `${dateStr(d)} ${pad(d.hour)}:${pad(d.minute)}:${pad(d.second)}${fraction}${tz}`
}

const timezoneRepr = (minutes: number): string => {
  // CPython hands out the timezone.utc singleton for a zero offset.
  if (minutes === 0) return "datetime.timezone.utc"
  const total = minutes * 60
  const days = Math.floor(total / 86400)
  const seconds = total - days * 86400
  const fields = [days ? `days=${days}` : "", seconds ? `seconds=${seconds}` : ""].filter(Boolean)
  return `datetime.timezone(datetime.timedelta(${fields.join(", ")}))`
}

const dateTimeRepr = (d: PyDateTime): string => {
  const fields = [d.year, d.month, d.day, d.hour, d.minute]
  if (d.microsecond) fields.push(d.second, d.microsecond)
  else if (d.second) fields.push(d.second)
  const tz = d.offset === null ? "" : `, tzinfo=${timezoneRepr(d.offset)}`
  return `datetime.datetime(${fields.join(", ")}${tz})`
}

// Python's str.isprintable(): categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs (except the space) are escaped.
const nonPrintable = /[\p{C}\p{Zl}\p{Zp}\p{Zs}]/u

const escapeChar = (ch: string, asciiOnly: boolean): string => {
  const code = ch.codePointAt(0) ?? 0
  if (ch === "\\") return "\\\\"
  if (ch === "\n") return "\\n"
  if (ch === "\r") return "\\r"
  if (ch === "\t") return "\\t"
  if (code >= 0x20 && code < 0x7f) return ch
  if (!asciiOnly && code >= 0xa0 && !nonPrintable.test(ch)) return ch
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, "0")}`
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`
  return `\\U${code.toString(16).padStart(8, "0")}`
}

/** Python `repr(str)` (or `ascii(str)` with asciiOnly): single quotes unless the text has ' and no ". */
export const stringRepr = (s: string, asciiOnly = false): string => {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = quote
  for (const ch of s) out += ch === quote ? `\\${ch}` : escapeChar(ch, asciiOnly)
  return out + quote
}

const isDict = (v: PyValue): v is PyDict => typeof v === "object" && v !== null && !Array.isArray(v) && v.kind === "dict"

/** Python `repr()` of a YAML-loaded value. */
export const pythonRepr = (v: PyValue): string => {
  if (v === null) return "None"
  if (typeof v === "boolean") return v ? "True" : "False"
  if (typeof v === "bigint") return v.toString()
  if (typeof v === "number") return floatRepr(v)
  if (typeof v === "string") return stringRepr(v)
  if (Array.isArray(v)) return `[${v.map(pythonRepr).join(", ")}]`
  if (isDict(v)) return `{${v.entries.map(([k, x]) => `${pythonRepr(k)}: ${pythonRepr(x)}`).join(", ")}}`
  if (v.kind === "date") return `datetime.date(${v.year}, ${v.month}, ${v.day})`
  return dateTimeRepr(v)
}

/** Python `str()` of a YAML-loaded value: what MLflow hands to the command for a default. */
export const pythonStr = (v: PyValue): string => {
  if (typeof v === "string") return v
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    if (v.kind === "date") return dateStr(v)
    if (v.kind === "datetime") return dateTimeStr(v)
  }
  return pythonRepr(v)
}

/** How a value reads in a message: `the float 3.1`, `the string 'x'`, `null`. */
export const describeValue = (v: PyValue): string => {
  if (v === null) return "null"
  if (typeof v === "boolean") return `the boolean ${pythonRepr(v)}`
  if (typeof v === "bigint") return `the integer ${v}`
  if (typeof v === "number") return `the float ${floatRepr(v)}`
  if (typeof v === "string") return `the string ${stringRepr(v)}`
  if (Array.isArray(v)) return "a list"
  if (isDict(v)) return "a mapping"
  return `the ${v.kind} ${pythonStr(v)}`
}
