import { assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  decodePlain,
  SASL_MECHANISMS,
  SaslError,
  type SaslExchange,
  startSasl,
} from "../../src/directory/sasl.ts";

const utf8 = new TextEncoder();
const b64 = (text: string) => btoa(String.fromCharCode(...utf8.encode(text)));

function saslError(fn: () => unknown): SaslError {
  return assertThrows(fn, SaslError);
}

Deno.test("PLAIN with an initial response finishes on the first step", () => {
  // RFC 4616 4 example: "\0tim\0tanstaaftanstaaf"
  const exchange = startSasl("PLAIN", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  assertEquals(exchange.step(null), {
    done: { authzid: "", authcid: "tim", password: "tanstaaftanstaaf" },
  });
});

Deno.test("PLAIN without an initial response sends an empty challenge, then reads the line", () => {
  const exchange = startSasl("plain");
  assertEquals(exchange.step(null), { challenge: "" });
  // RFC 4616 4 example: "Ursel\0Kurt\0xipj3plmq"
  assertEquals(exchange.step("VXJzZWwAS3VydAB4aXBqM3BsbXE="), {
    done: { authzid: "Ursel", authcid: "Kurt", password: "xipj3plmq" },
  });
});

Deno.test("PLAIN keeps UTF-8 exactly, including spaces and a leading BOM", () => {
  const exchange = startSasl("PLAIN", b64("\0jürgen@exämple.org\0\uFEFF pass wörd "));
  assertEquals(exchange.step(null), {
    done: { authzid: "", authcid: "jürgen@exämple.org", password: "\uFEFF pass wörd " },
  });
});

Deno.test("PLAIN: an exchange is over after done; stepping again is a programming error", () => {
  const exchange = startSasl("PLAIN", b64("\0a\0b"));
  exchange.step(null);
  const error = assertThrows(() => exchange.step("AGEAYg=="));
  assertEquals(error instanceof SaslError, false);
});

Deno.test("the first step must pass null, later steps a line", () => {
  assertThrows(() => startSasl("PLAIN").step("AGEAYg=="));
  const exchange = startSasl("LOGIN");
  exchange.step(null);
  const error = assertThrows(() => exchange.step(null));
  assertEquals(error instanceof SaslError, false);
});

Deno.test("LOGIN asks Username: then Password:", () => {
  const exchange: SaslExchange = startSasl("LOGIN");
  const first = exchange.step(null);
  assertEquals(first, { challenge: "VXNlcm5hbWU6" });
  assertEquals(atob((first as { challenge: string }).challenge), "Username:");
  const second = exchange.step(b64("alice@example.org"));
  assertEquals(second, { challenge: "UGFzc3dvcmQ6" });
  assertEquals(atob((second as { challenge: string }).challenge), "Password:");
  assertEquals(exchange.step(b64("s3cret pässword")), {
    done: { authzid: "", authcid: "alice@example.org", password: "s3cret pässword" },
  });
  assertThrows(() => exchange.step(b64("again")));
});

Deno.test("LOGIN with an initial response skips the Username: challenge (RFC 4954 AUTH LOGIN <user>)", () => {
  const exchange = startSasl("Login", b64("bob"));
  assertEquals(exchange.step(null), { challenge: "UGFzc3dvcmQ6" });
  assertEquals(exchange.step(b64("hunter2")), {
    done: { authzid: "", authcid: "bob", password: "hunter2" },
  });
});

Deno.test('"*" cancels at any point of an exchange', () => {
  const plain = startSasl("PLAIN");
  plain.step(null);
  assertEquals(saslError(() => plain.step("*")).reason, "cancelled");

  const login = startSasl("LOGIN");
  login.step(null);
  assertEquals(saslError(() => login.step("*")).reason, "cancelled");

  const login2 = startSasl("LOGIN");
  login2.step(null);
  login2.step(b64("bob"));
  assertEquals(saslError(() => login2.step("*")).reason, "cancelled");
  // and the exchange is over afterwards
  assertThrows(() => login2.step(b64("pw")));
});

Deno.test("unknown mechanisms are unsupported", () => {
  for (const name of ["CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "", "PLAIN "]) {
    const error = saslError(() => startSasl(name));
    assertEquals(error.reason, "unsupported", name);
  }
  assertEquals(SASL_MECHANISMS, ["PLAIN", "LOGIN"]);
});

Deno.test('initial response "=" is empty, which PLAIN and LOGIN both refuse as malformed', () => {
  assertEquals(saslError(() => startSasl("PLAIN", "=").step(null)).reason, "malformed");
  assertEquals(saslError(() => startSasl("LOGIN", "=").step(null)).reason, "malformed");
  // an empty string is not how an empty initial response is written
  assertEquals(saslError(() => startSasl("PLAIN", "").step(null)).reason, "malformed");
  // "*" is only a cancel in answer to a challenge
  assertEquals(saslError(() => startSasl("PLAIN", "*").step(null)).reason, "malformed");
});

Deno.test("an empty line or = answering a challenge is an empty response", () => {
  for (const empty of ["", "="]) {
    const plain = startSasl("PLAIN");
    plain.step(null);
    const error = saslError(() => plain.step(empty));
    assertEquals([error.reason, error.message], [
      "malformed",
      "PLAIN message needs two NUL separators",
    ]);

    const login = startSasl("LOGIN");
    login.step(null);
    const loginError = saslError(() => login.step(empty));
    assertEquals([loginError.reason, loginError.message], ["malformed", "empty username"]);
  }
});

Deno.test("base64 is strict", () => {
  const valid = b64("\0user\0password"); // "AHVzZXIAcGFzc3dvcmQ="
  assertEquals(valid, "AHVzZXIAcGFzc3dvcmQ=");
  const bad = [
    "AHVzZXIAcGFzc3dvcmQ", // padding missing
    "AHVzZXIAcGFzc3dvcmQ==", // too much padding
    "AHVzZXIAcGFzc3dvcmR=", // last character carries stray bits ("Q" → "R")
    "AHVzZXIA cGFzc3dvcmQ=", // space
    "AHVzZXIAcGFzc3dvcmQ=\r", // CR left on the line
    "AHVzZXIAcGFz=c3dvcmQ", // padding in the middle
    "AHVzZXIAcGFzc3dvcmQ-", // URL-safe alphabet
    "AHVz\nZXIAcGFzc3dvcmQ=", // line break
  ];
  assertEquals(startSasl("PLAIN", valid).step(null), {
    done: { authzid: "", authcid: "user", password: "password" },
  });
  for (const text of bad) {
    const error = saslError(() => startSasl("PLAIN", text).step(null));
    assertEquals(error.reason, "malformed", JSON.stringify(text));
    const exchange = startSasl("PLAIN");
    exchange.step(null);
    assertEquals(saslError(() => exchange.step(text)).reason, "malformed", JSON.stringify(text));
  }
});

Deno.test("decodePlain: field structure (RFC 4616 2)", () => {
  const bytes = (text: string) => utf8.encode(text);
  assertEquals(decodePlain(bytes("admin\0alice\0pw")), {
    authzid: "admin",
    authcid: "alice",
    password: "pw",
  });
  const malformed = [
    "", // nothing
    "alice\0pw", // one NUL
    "alice", // none
    "\0\0pw", // empty authcid
    "\0alice\0", // empty password
    "\0alice\0pw\0", // a third NUL
    "a\0b\0c\0d",
  ];
  for (const text of malformed) {
    assertEquals(
      saslError(() => decodePlain(bytes(text))).reason,
      "malformed",
      JSON.stringify(text),
    );
  }
});

Deno.test("decodePlain: invalid UTF-8 is malformed", () => {
  // 0xC3 0x28 is an invalid two-byte sequence; 0xFF never appears in UTF-8
  for (
    const raw of [
      [0, 0x61, 0, 0xc3, 0x28],
      [0, 0xff, 0, 0x70],
      [0xed, 0xa0, 0x80, 0, 0x61, 0, 0x70], // a UTF-16 surrogate encoded as UTF-8
    ]
  ) {
    const error = saslError(() => decodePlain(new Uint8Array(raw)));
    assertEquals([error.reason, error.message.endsWith("is not UTF-8")], ["malformed", true]);
  }
});

Deno.test("decodePlain: 255-byte names and a 1024-byte password are the limits", () => {
  const name = "n".repeat(255);
  const password = "p".repeat(1024);
  assertEquals(decodePlain(utf8.encode(`${name}\0${name}\0${password}`)), {
    authzid: name,
    authcid: name,
    password,
  });
  const cases: [string, string][] = [
    [`${name}x\0a\0b`, "authzid longer than 255 bytes"],
    [`\0${name}x\0b`, "authcid longer than 255 bytes"],
    [`\0a\0${password}x`, "password longer than 1024 bytes"],
    // 128 two-byte characters: 256 bytes although only 128 characters
    [`\0${"é".repeat(128)}\0b`, "authcid longer than 255 bytes"],
  ];
  for (const [text, message] of cases) {
    const error = saslError(() => decodePlain(utf8.encode(text)));
    assertEquals([error.reason, error.message], ["malformed", message]);
  }
  const huge = saslError(() => decodePlain(new Uint8Array(4096)));
  assertEquals(huge.message, "PLAIN message too long");
});

Deno.test("over-long responses are refused before decoding", () => {
  const exchange = startSasl("PLAIN");
  exchange.step(null);
  const error = saslError(() => exchange.step("A".repeat(100_000)));
  assertEquals([error.reason, error.message], ["malformed", "response too long"]);

  const login = startSasl("LOGIN");
  login.step(null);
  const username = saslError(() => login.step(b64("u".repeat(256))));
  assertEquals(username.reason, "malformed");
  const login2 = startSasl("LOGIN", b64("u".repeat(255)));
  login2.step(null);
  const done = login2.step(b64("p".repeat(1024)));
  assertEquals(done, {
    done: { authzid: "", authcid: "u".repeat(255), password: "p".repeat(1024) },
  });
});

Deno.test("LOGIN refuses NUL and invalid UTF-8 in the username or password", () => {
  const withNul = startSasl("LOGIN");
  withNul.step(null);
  assertEquals(saslError(() => withNul.step(b64("bob\0admin"))).message, "NUL in username");

  const badUtf8 = startSasl("LOGIN", b64("bob"));
  badUtf8.step(null);
  assertEquals(saslError(() => badUtf8.step(btoa("\xff\xfe"))).message, "password is not UTF-8");
});

Deno.test("SaslError carries its reason and name", () => {
  const error = new SaslError("cancelled", "stop");
  assertEquals([error.reason, error.message, error.name, error instanceof Error], [
    "cancelled",
    "stop",
    "SaslError",
    true,
  ]);
});
