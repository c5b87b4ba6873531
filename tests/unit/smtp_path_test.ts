/** SMTP paths (RFC 5321 4.1.2): forms, limits, IDN, SMTPUTF8, and relay tricks. */
import { assertEquals } from "../helpers/assert.ts";
import { type Mailbox, parsePath, relayRisk } from "../../src/smtp/wire/path.ts";

function mailbox(text: string, utf8 = false): Mailbox {
  const path = parsePath(text, { utf8 });
  if (path.kind !== "mailbox") throw new Error(`${text}: ${JSON.stringify(path)}`);
  return path.mailbox;
}

const reason = (text: string, utf8 = false) => {
  const path = parsePath(text, { utf8 });
  return path.kind === "error" ? path.reason : path.kind;
};

Deno.test("path: null, postmaster and a plain mailbox", () => {
  assertEquals(parsePath("<>"), { kind: "null" });
  assertEquals(parsePath("<Postmaster>"), { kind: "postmaster" });
  assertEquals(parsePath("<POSTMASTER>"), { kind: "postmaster" });
  assertEquals(parsePath("<John.Doe@Example.COM>"), {
    kind: "mailbox",
    mailbox: {
      localPart: "John.Doe",
      quoted: false,
      domain: "example.com",
      domainUnicode: "example.com",
      literal: null,
      route: [],
      utf8: false,
      address: "John.Doe@example.com",
    },
  });
});

Deno.test("path: source route accepted and dropped", () => {
  const m = mailbox("<@a.example,@b.example:user@c.example>");
  assertEquals([m.localPart, m.domain, m.route], ["user", "c.example", ["a.example", "b.example"]]);
  assertEquals(reason("<@a.example user@c.example>"), "syntax");
  assertEquals(reason("<@a.example,b.example:user@c.example>"), "syntax");
  assertEquals(reason("<@:user@c.example>"), "syntax");
});

Deno.test("path: quoted local parts", () => {
  const m = mailbox('<"John Doe"@example.com>');
  assertEquals([m.localPart, m.quoted, m.address], ["John Doe", true, '"John Doe"@example.com']);
  // Quoting that was not needed is dropped from the canonical form.
  assertEquals(mailbox('<"john"@example.com>').address, "john@example.com");
  assertEquals(mailbox('<"a\\"b\\\\c"@example.com>').localPart, 'a"b\\c');
  assertEquals(mailbox('<"a\\"b\\\\c"@example.com>').address, '"a\\"b\\\\c"@example.com');
  assertEquals(mailbox('<"a>b"@example.com>').localPart, "a>b");
  assertEquals(reason('<""@example.com>'), "syntax");
  assertEquals(reason('<"abc@example.com>'), "syntax");
  assertEquals(reason('<"a"b@example.com>'), "syntax");
  assertEquals(reason('<"a\tb"@example.com>'), "syntax");
});

Deno.test("path: dot-string rules", () => {
  for (const bad of [".a@b.c", "a.@b.c", "a..b@b.c", "a b@b.c", "@b.c", "a@", "ab.c", "a(b)@c.d"]) {
    assertEquals(reason(`<${bad}>`), "syntax", bad);
  }
  assertEquals(mailbox("<a+tag!#$%&'*/=?^_`{|}~-@b.c>").localPart, "a+tag!#$%&'*/=?^_`{|}~-");
  assertEquals(reason("a@b.c"), "syntax");
  assertEquals(reason("<a@b.c"), "syntax");
});

Deno.test("path: address literals", () => {
  const v4 = mailbox("<user@[192.0.2.1]>");
  assertEquals([v4.domain, v4.literal], ["[192.0.2.1]", { family: 4, address: "192.0.2.1" }]);
  const v6 = mailbox("<user@[IPv6:2001:DB8::1]>");
  assertEquals([v6.domain, v6.literal], ["[IPv6:2001:db8::1]", {
    family: 6,
    address: "2001:db8::1",
  }]);
  for (
    const good of [
      "IPv6:::1",
      "ipv6:1:2:3:4:5:6:7:8",
      "IPv6:::ffff:192.0.2.1",
      "IPv6:1:2:3:4:5:6:1.2.3.4",
    ]
  ) {
    assertEquals(reason(`<u@[${good}]>`), "mailbox", good);
  }
  for (
    const bad of [
      "256.1.1.1",
      "1.2.3",
      "1.2.3.4.5",
      "IPv6:1:2:3:4:5:6:7",
      "IPv6:1:2:3:4:5:6:7:8:9",
      "IPv6:1::2::3",
      "IPv6:12345::1",
      "IPv6:1:2:3:4:5:6:7::",
      "IPv6:1.2.3.4",
      "tag:content",
      "",
      "example.com",
    ]
  ) {
    assertEquals(reason(`<u@[${bad}]>`), "syntax", bad);
  }
});

Deno.test("path: domains, trailing dot, IDN", () => {
  assertEquals(mailbox("<a@Example.COM.>").domain, "example.com");
  assertEquals(reason("<a@example.com..>"), "syntax");
  assertEquals(reason("<a@-example.com>"), "syntax");
  assertEquals(reason("<a@ex_ample.com>"), "syntax");
  assertEquals(reason("<a@example..com>"), "syntax");
  const idn = mailbox("<a@Bücher.example>", true);
  assertEquals([idn.domain, idn.domainUnicode, idn.utf8], [
    "xn--bcher-kva.example",
    "bücher.example",
    true,
  ]);
  const alabel = mailbox("<a@xn--bcher-kva.example>");
  assertEquals([alabel.domain, alabel.domainUnicode, alabel.utf8], [
    "xn--bcher-kva.example",
    "bücher.example",
    false,
  ]);
  assertEquals(reason("<a@xn--zz.example>"), "syntax");
  assertEquals(reason("<a@bücher.example>"), "utf8");
  assertEquals(reason("<a@bü cher.example>", true), "syntax");
  assertEquals(reason("<a@bü/cher.example>", true), "syntax");
});

Deno.test("path: UTF-8 local parts only with SMTPUTF8", () => {
  assertEquals(reason("<用户@example.com>"), "utf8");
  assertEquals(reason('<"用户"@example.com>'), "utf8");
  const m = mailbox("<用户@例子.测试>", true);
  assertEquals([m.localPart, m.domain, m.domainUnicode, m.utf8], [
    "用户",
    "xn--fsqu00a.xn--0zwm56d",
    "例子.测试",
    true,
  ]);
});

Deno.test("path: length limits in octets", () => {
  const local64 = "a".repeat(64);
  assertEquals(mailbox(`<${local64}@b.c>`).localPart, local64);
  assertEquals(reason(`<${"a".repeat(65)}@b.c>`), "too-long");
  // 22 three-octet characters are 66 octets.
  assertEquals(reason(`<${"é".repeat(33)}@b.c>`, true), "too-long");
  assertEquals(reason(`<${"é".repeat(32)}@b.c>`, true), "mailbox");
  const label = "a".repeat(63);
  // The 256-octet path limit binds before the 255-octet domain limit can.
  const domain250 = [label, label, label, "a".repeat(58)].join(".");
  assertEquals(mailbox(`<x@${domain250}>`).domain, domain250);
  assertEquals(reason(`<x@${domain250}aaaa>`), "too-long");
  assertEquals(reason(`<x@${label}a.com>`), "syntax");
  // A path over 256 octets (brackets included) is refused before anything else.
  const long = `<${"a".repeat(64)}@${[label, label, "b".repeat(62)].join(".")}>`;
  assertEquals(new TextEncoder().encode(long).length, 257);
  assertEquals(reason(long), "too-long");
  assertEquals(reason(long.slice(0, -3) + ">"), "mailbox");
});

Deno.test("relayRisk: the classic relay tricks", () => {
  const cases: [string, string[]][] = [
    ["<user@local.example>", []],
    ["<first.last+tag@local.example>", []],
    ["<user%remote.example@local.example>", ["percent"]],
    ["<user%remote.example%other.example@local.example>", ["percent"]],
    ["<remote.example!user@local.example>", ["bang"]],
    ["<a!b%c@local.example>", ["percent", "bang"]],
    ['<"user@remote.example"@local.example>', ["at-sign"]],
    ['<"user\\@remote.example"@local.example>', ["at-sign"]],
    ['<"user%remote.example"@local.example>', ["percent"]],
    ['<"remote!user"@local.example>', ["bang"]],
    ['<"@remote.example:user"@local.example>', ["at-sign"]],
    ["<@local.example:user@remote.example>", ["source-route"]],
    ["<@a.example,@b.example:user%c.example@d.example>", ["percent", "source-route"]],
    ["<user@[192.0.2.1]>", []],
  ];
  for (const [text, risks] of cases) assertEquals(relayRisk(mailbox(text)), risks, text);
  // Tricks that are not even paths never reach relayRisk.
  for (const text of ["<user@remote@local.example>", "<user@local.example@>", "<<user@a.b>>"]) {
    assertEquals(reason(text), "syntax", text);
  }
});
