// A JSON line of `log batch -`: the plain metric line's quick check gives exactly what the general entry check gives.
import { describe, expect, test } from "bun:test"
import { isToolError } from "../../src/errors.ts"
import { rememberingKeyCheck } from "../../src/tracking/key-rules.ts"
import { lineEntries, parseLine } from "../../src/tracking/log-lines.ts"

const now = 1_700_000_000_000

/** What a line logs, or the message it is refused with. */
const outcome = (text: string, checkKey = rememberingKeyCheck()): unknown => {
  try {
    return lineEntries(parseLine(text, 7), 7, now, checkKey)
  } catch (error) {
    if (!isToolError(error)) throw error
    return { refused: error.message, code: error.code, exitCode: error.exitCode }
  }
}

// `"kind":"metric"` spelled out takes the general path (kind, fields, metricEntry, validateMetric) for the same line.
const general = (text: string): string => text.replace(/^\s*\{/, '{"kind":"metric",')

const lines = [
  '{"key":"loss","value":0.25,"step":3}',
  '{"key":"loss","value":0.25}',
  '{"key":"loss","value":1,"step":0,"timestamp":1700000000123}',
  '{"step":3,"value":2.5e-7,"key":"lr"}',
  '{"key":"lr","value":1E+20,"step":-4}',
  '{"key":"lr","value":-1.5e-320,"step":9007199254740991}',
  '{"key":"neg","value":-0,"step":-0}',
  '{"key":"neg","value":-0.0,"step":0,"timestamp":0}',
  '{"key":"lo\\u0073s","value":0.1,"step":1}',
  '{"key":"größe/日本 x:y","value":3,"step":1}',
  '{"key":"\\u00e9t\\u00e9","value":3,"step":1}',
  '  { "key" : "loss" , "value" : 12345678901234567890 , "step" : 1 }  ',
  '{"key":"py","value":NaN,"step":1}',
  '{"key":"py","value":Infinity,"step":2}',
  '{"key":"py","value":-Infinity,"step":3}',
  '{"key":"py","value":"nan","step":1}',
  '{"key":"py","value":"-inf"}',
  '{"key":"loss","value":0.5,"step":"3"}',
  '{"key":"loss","value":0.5,"step":null,"timestamp":null}',
  '{"key":"loss","value":0.5,"step":1.5}',
  '{"key":"loss","value":0.5,"step":9007199254740992}',
  '{"key":"loss","value":0.5,"timestamp":-1}',
  '{"key":"loss","value":0.5,"timestamp":1.5}',
  '{"key":"loss","value":null}',
  '{"key":"loss","value":true}',
  '{"key":"loss","value":[1]}',
  '{"key":"loss"}',
  '{"key":"","value":1}',
  '{"key":7,"value":1}',
  '{"key":"../escape","value":1}',
  '{"key":"a//b","value":1}',
  '{"key":"bad\\nkey","value":1}',
  `{"key":"${"k".repeat(251)}","value":1}`,
  '{"key":"loss","value":0.5,"stepp":1}',
  '{"key":"loss","value":0.5,"step":1,"key":"acc"}',
]

describe("a plain metric line", () => {
  test.each(lines)("%s: the same as the general check", (text) => {
    const quick = outcome(text)
    const slow = outcome(general(text))
    expect(quick).toEqual(slow)
    // toEqual does not tell -0 from 0; a logged value and step must keep their sign as JSON.parse gives it.
    if (quick && typeof quick === "object" && "metric" in quick && slow && typeof slow === "object" && "metric" in slow) {
      const [a, b] = [quick.metric as { value: number; step: number }, slow.metric as { value: number; step: number }]
      expect(Object.is(a.value, b.value) && Object.is(a.step, b.step)).toBe(true)
    }
  })

  test("values, steps and timestamps as JSON.parse reads them; defaults from the line's time", () => {
    expect(outcome('{"key":"lo\\u0073s","value":-0,"step":2}')).toEqual({ metric: { key: "loss", value: -0, step: 2, timestamp: now } })
    expect(Object.is((outcome('{"key":"x","value":-0}') as { metric: { value: number } }).metric.value, -0)).toBe(true)
    expect(outcome('{"key":"x","value":1e-7,"step":-3,"timestamp":5}')).toEqual({ metric: { key: "x", value: 1e-7, step: -3, timestamp: 5 } })
    expect(outcome('{"key":"x","value":-Infinity}')).toEqual({ metric: { key: "x", value: -Infinity, step: 0, timestamp: now } })
    expect(outcome('{"key":"x","value":0.5,"step":1.5}')).toMatchObject({ code: "log.batch.invalid", exitCode: 2 })
    expect(outcome('{"key":"../x","value":1}')).toMatchObject({ code: "tracking.key.invalid", refused: expect.stringMatching(/^line 7: Invalid metric name/) })
  })

  test("a key refused once is refused again: only keys that passed are remembered", () => {
    const checkKey = rememberingKeyCheck()
    for (let i = 0; i < 2; i++) expect(outcome('{"key":"a/../b","value":1}', checkKey)).toMatchObject({ code: "tracking.key.invalid" })
    expect(outcome('{"key":"ok","value":1}', checkKey)).toMatchObject({ metric: { key: "ok" } })
  })
})
