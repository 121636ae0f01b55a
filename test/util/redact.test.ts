// Redaction of credentials in URLs and free text: table-driven.
import { expect, test } from "bun:test"
import { headerSecrets, redactText, redactUrl, secretsOf, splitCredentials } from "../../src/util/redact.ts"

test.each([
  ["https://user:token@host/x.git", "https://host/x.git"],
  ["https://u:p@ss@host/x", "https://host/x"],
  ["https://TOKEN@github.com/org/repo#sub", "https://github.com/org/repo#sub"],
  ["https://host/file?X-Amz-Signature=abc&x=1", "https://host/file?X-Amz-Signature=***&x=1"],
  ["https://host/file?token=abc", "https://host/file?token=***"],
  ["/local/path", "/local/path"],
  ["git@github.com:org/repo.git", "git@github.com:org/repo.git"],
  ["ssh://git@host:2222/org/repo.git#sub", "ssh://git@host:2222/org/repo.git#sub"],
  ["ssh://git:pw@host/r.git", "ssh://git@host/r.git"],
  ["git+ssh://me@host/r.git", "git+ssh://me@host/r.git"],
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

// Echoed request headers, in the shapes servers and tools print them: the scheme word stays, the credential goes.
test.each([
  ["Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"],
  ['{"authorization":"Bearer abc.def-ghi","host":"h"}', '{"authorization":"Bearer ***","host":"h"}'],
  ["{'Authorization': 'token ghp_x'}", "{'Authorization': 'token ***'}"],
  ["proxy-authorization=Basic Zm9v;next", "proxy-authorization=Basic ***;next"],
  ["authorization: SECRETVALUE", "authorization: ***"],
  ["no header here", "no header here"],
])("redactText(%p) masks the echoed header", (input, expected) => {
  expect(redactText(input)).toBe(expected)
})

test("every encoding of a credential is replaced: raw, percent-encoded (either hex case, as written), JSON-escaped, base64 of user:password", () => {
  const credentials = splitCredentials("https://us%65r:p%40ss%22w0rd@h/").credentials
  expect(credentials).toEqual({ user: "user", password: 'p@ss"w0rd', raw: "us%65r:p%40ss%22w0rd" })
  const secrets = secretsOf(credentials)
  const forms = ['p@ss"w0rd', "p%40ss%22w0rd", "p%40ss%22w0rd".toLowerCase(), 'p@ss\\"w0rd', btoa('user:p@ss"w0rd')]
  for (const form of forms) expect(redactText(`<${form}>`, secrets)).toBe("<***>")
  // A token given alone (https://TOKEN@host) is the secret; so is its Basic form.
  const alone = secretsOf(splitCredentials("https://Tk7Qz9Wb@h/").credentials)
  expect(redactText(`Tk7Qz9Wb ${btoa("Tk7Qz9Wb:")}`, alone)).toBe("*** ***")
  expect(headerSecrets({ Authorization: `Basic ${btoa("u:Secr3t")}` })).toContain("Secr3t")
})
