// Redaction of credentials in URLs and free text: table-driven.
import { expect, test } from "bun:test"
import { redactText, redactUrl } from "../../src/util/redact.ts"

test.each([
  ["https://user:token@host/x.git", "https://host/x.git"],
  ["https://u:p@ss@host/x", "https://host/x"],
  ["https://TOKEN@github.com/org/repo#sub", "https://github.com/org/repo#sub"],
  ["https://host/file?X-Amz-Signature=abc&x=1", "https://host/file?X-Amz-Signature=***&x=1"],
  ["https://host/file?token=abc", "https://host/file?token=***"],
  ["/local/path", "/local/path"],
  ["git@github.com:org/repo.git", "git@github.com:org/repo.git"],
])("redactUrl(%p) = %p", (input, expected) => {
  expect(redactUrl(input)).toBe(expected)
})

test.each([
  ["fatal: unable to access 'https://u:s3cr3t@host/r.git/': 403", "fatal: unable to access 'https://host/r.git/': 403"],
  ["a https://u:p@ss@host/x b http://t@h/y", "a https://host/x b http://h/y"],
  ["no urls here", "no urls here"],
])("redactText(%p) = %p", (input, expected) => {
  expect(redactText(input)).toBe(expected)
})
