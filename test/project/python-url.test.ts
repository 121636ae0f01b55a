// Python's urlparse/url2pathname and os.path.splitext as MLflow uses them for uri/path parameters and scripts.
import { describe, expect, test } from "bun:test"
import { extensionOf, isUri, localPathOf, splitUrl } from "../../src/project/python-url.ts"
import { splitextCases, urlCases } from "./python-tables.ts"

describe("urls", () => {
  for (const [value, scheme, netloc, local] of urlCases) {
    test(JSON.stringify(value), () => {
      expect(splitUrl(value)).toMatchObject({ scheme, netloc })
      expect(isUri(value)).toBe(scheme !== "")
      expect(localPathOf(value)).toBe(local)
    })
  }
})

describe("os.path.splitext", () => {
  for (const [name, ext] of splitextCases) test(`${name} → ${JSON.stringify(ext)}`, () => expect(extensionOf(name)).toBe(ext))
})
