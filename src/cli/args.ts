// A small argv parser driven by a per-command option table: long and short forms, `=` and attached values.
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"
import { isDigitAt, startsWithAnyCase } from "../util/ascii.ts"

/** /^-(\d|\.\d|inf|nan)/i: `-1.5`, `-.5`, `-inf`, `-NaN…` start a negative number, not a short option. */
const negativeNumber = (arg: string): boolean =>
  isDigitAt(arg, 1) || (arg[1] === "." && isDigitAt(arg, 2)) || startsWithAnyCase(arg.slice(1), "inf") || startsWithAnyCase(arg.slice(1), "nan")

export type OptionSpec = {
  long: string
  short?: string
  /** "flag" takes no value; "value" takes one; "list" may repeat. */
  kind: "flag" | "value" | "list"
  metavar?: string
  description: string
  env?: string
}

export type Parsed = {
  positionals: string[]
  values: Record<string, string | undefined>
  lists: Record<string, string[]>
  flags: Record<string, boolean>
}

const usage = (command: string, message: string, suggestion?: string): ToolError =>
  new ToolError("usage", message, { hint: `${suggestion ? `did you mean ${suggestion}? ` : ""}see 'mlproject ${command} --help'` })

export const parseArgs = (command: string, argv: string[], specs: OptionSpec[], maxPositionals: number): Parsed => {
  // A loop: Array#filter's first call alone costs a fresh process ~20 us, and describe uses it nowhere else.
  const byLong = new Map<string, OptionSpec>()
  const byShort = new Map<string, OptionSpec>()
  for (const spec of specs) {
    byLong.set(spec.long, spec)
    if (spec.short) byShort.set(spec.short, spec)
  }
  const parsed: Parsed = { positionals: [], values: {}, lists: {}, flags: {} }
  const take = (spec: OptionSpec, value: string | undefined, shown: string) => {
    if (spec.kind === "flag") {
      if (value !== undefined) throw usage(command, `option ${shown} takes no value (got '${value}')`)
      parsed.flags[spec.long] = true
      return
    }
    if (value === undefined) throw usage(command, `option ${shown} needs a value${spec.metavar ? ` (${spec.metavar})` : ""}`)
    if (spec.kind === "list") (parsed.lists[spec.long] ??= []).push(value)
    else parsed.values[spec.long] = value
  }

  let index = 0
  const next = (): string | undefined => argv[++index]
  for (; index < argv.length; index++) {
    const arg = argv[index] as string
    if (arg === "--") {
      parsed.positionals.push(...argv.slice(index + 1))
      break
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=")
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
      const spec = byLong.get(name)
      if (!spec) {
        const near = closest(name, byLong.keys())
        throw usage(command, `unknown option '${eq === -1 ? arg : arg.slice(0, eq)}' for 'mlproject ${command}'`, near && `'--${near}'`)
      }
      take(spec, eq !== -1 ? arg.slice(eq + 1) : spec.kind === "flag" ? undefined : next(), `--${name}`)
      continue
    }
    // "-1.5", "-.5", "-inf": a negative number is a value (`log metric delta -1.5`), never a short option.
    if (arg.startsWith("-") && arg.length > 1 && !negativeNumber(arg)) {
      const spec = byShort.get(arg[1] as string)
      if (!spec) throw usage(command, `unknown option '${arg.slice(0, 2)}' for 'mlproject ${command}'`)
      const attached = arg.length > 2 ? arg.slice(2) : undefined
      if (spec.kind === "flag") {
        if (attached !== undefined) throw usage(command, `option -${spec.short} takes no value (got '${arg}')`)
        take(spec, undefined, `-${spec.short}`)
        continue
      }
      take(spec, attached ?? next(), `-${spec.short}`)
      continue
    }
    parsed.positionals.push(arg)
  }
  if (parsed.positionals.length > maxPositionals) {
    throw usage(command, `unexpected argument '${parsed.positionals[maxPositionals]}' (at most ${maxPositionals} expected)`)
  }
  return parsed
}

/**
 * `-P name=value` pairs: split on the first '=', names unique, as `mlflow run` does. Docker args may repeat
 * (`-A volume=a -A volume=b`), which MLflow refuses although docker means them to.
 */
export const parsePairs = (flag: string, items: string[], allowBare: boolean, allowRepeat = false): Array<[string, string]> => {
  const seen = new Set<string>()
  return items.map((item) => {
    const eq = item.indexOf("=")
    if (eq === -1 && !allowBare) {
      throw new ToolError("usage", `Invalid format for ${flag} parameter: '${item}'. Use ${flag} name=value.`)
    }
    const name = eq === -1 ? item : item.slice(0, eq)
    const value = eq === -1 ? "true" : item.slice(eq + 1)
    if (name === "") throw new ToolError("usage", `Invalid format for ${flag} parameter: '${item}': the name is empty. Use ${flag} name=value.`)
    if (seen.has(name) && !allowRepeat) throw new ToolError("usage", `Repeated parameter: '${name}'`, { hint: `give ${flag} ${name}=… once` })
    seen.add(name)
    return [name, value]
  })
}

export const helpText = (usageLine: string, summary: string, specs: OptionSpec[]): string => {
  const rows = specs.map((s) => {
    const left = `${s.short ? `-${s.short}, ` : "    "}--${s.long}${s.kind === "flag" ? "" : ` ${s.metavar ?? "VALUE"}`}`
    return [left, `${s.description}${s.env ? ` [env: ${s.env}]` : ""}${s.kind === "list" ? " (repeatable)" : ""}`] as const
  })
  const width = Math.max(...rows.map(([left]) => left.length)) + 2
  return [`Usage: ${usageLine}`, "", summary, "", "Options:", ...rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`)].join("\n")
}
