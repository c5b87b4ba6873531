import { assert, assertEquals } from "../helpers/assert.ts";
import { parseMime } from "../../src/mail/mime.ts";
import {
  analyzeMessage,
  hostOf,
  MAX_HTML_CHARS,
  MAX_LINKS,
  MAX_TEXT_CHARS,
} from "../../src/spam/analyze.ts";
import type { Envelope, MessageFacts } from "../../src/spam/types.ts";

const limits = { maxHeaderSize: 256 * 1024, maxDepth: 50, maxParts: 1000 };
const envelope: Envelope = {
  sender: "alice@example.com",
  recipients: ["bob@example.org"],
  remoteAddress: "192.0.2.1",
  helo: "mail.example.com",
  authenticated: false,
};

function analyze(message: string | Uint8Array, authservId = "mx.example.org"): MessageFacts {
  const raw = typeof message === "string"
    ? new TextEncoder().encode(message.replace(/\n/g, "\r\n"))
    : message;
  return analyzeMessage(raw, parseMime(raw, limits), envelope, authservId);
}

const plain = `From: Alice Example <alice@example.com>
To: Bob <bob@example.org>, carol@example.org
Reply-To: alice.private@example.net
Subject: =?utf-8?q?Caf=C3=A9?= tomorrow
Date: Sat, 28 Nov 2026 10:00:00 +0000
Message-ID: <1@example.com>

Hi Bob, see https://example.com/menu. and www.Example.NET/x, ok?
`;

Deno.test("analyze: headers are lower-cased, unfolded and decoded; addresses parsed", () => {
  const facts = analyze(plain);
  assertEquals(facts.headers[0], { name: "from", value: "Alice Example <alice@example.com>" });
  assertEquals(facts.subject, "Café tomorrow");
  assertEquals(facts.from, [{ name: "Alice Example", email: "alice@example.com" }]);
  assertEquals(facts.to.map((a) => a.email), ["bob@example.org", "carol@example.org"]);
  assertEquals(facts.replyTo.map((a) => a.email), ["alice.private@example.net"]);
  assertEquals(facts.html, "");
  assert(facts.text.startsWith("Hi Bob"));
  assertEquals(facts.envelope, envelope);
});

Deno.test("analyze: plain-text URLs give links with lower-cased hosts, trailing dots dropped", () => {
  const facts = analyze(plain);
  assertEquals(facts.links, [
    { url: "https://example.com/menu", host: "example.com", text: "" },
    { url: "www.Example.NET/x", host: "www.example.net", text: "" },
  ]);
});

const alternative = `From: shop@example.com
To: bob@example.org
Subject: offer
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

innocent words
--b
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Buy <a class=3D"x" HREF=3D"http://Evil.Example/?a=3D1&amp;b=3D2">www.paypal.com</a>
<a href=3D'#top'>top</a> <a name=3Dx>no href</a> <abbr href=3D"http://no.example">x</abbr>
<a href=3Dhttps://t.co/abc>short <b>link</b></a></p>
--b--
`;

Deno.test("analyze: HTML alternative is the body; anchors with decoded href and text", () => {
  const facts = analyze(alternative);
  assert(facts.html.includes("<p>Buy"));
  assert(!facts.text.includes("innocent"), "the HTML alternative is read, not the plain one");
  assert(facts.text.includes("Buy www.paypal.com"));
  assertEquals(facts.links.slice(0, 2), [
    { url: "http://Evil.Example/?a=1&b=2", host: "evil.example", text: "www.paypal.com" },
    { url: "https://t.co/abc", host: "t.co", text: "short link" },
  ]);
  // The anchor text is also a URL in the text: it is a link the reader sees.
  assertEquals(facts.links[2], { url: "www.paypal.com", host: "www.paypal.com", text: "" });
  assertEquals(facts.links.length, 3);
});

Deno.test("analyze: attachments (also inside attached messages) and images", () => {
  const facts = analyze(`From: a@example.com
Content-Type: multipart/mixed; boundary=m

--m
Content-Type: text/plain

see attached
--m
Content-Type: image/png
Content-Disposition: inline; filename=logo.png

iVBORw0KGgo=
--m
Content-Type: application/octet-stream; name="=?utf-8?q?invoice.pdf.exe?="
Content-Disposition: attachment

TVqQAAMAAAAEAAAA
--m
Content-Type: message/rfc822

From: b@example.com
Content-Type: multipart/mixed; boundary=n

--n
Content-Type: text/plain

inner
--n
Content-Type: application/x-msdownload; name=run.scr

AAAA
--n--
--m--
`);
  assertEquals(facts.images, 1);
  const names = facts.attachments.map((a) => `${a.type} ${a.name}`);
  assert(names.includes("application/octet-stream invoice.pdf.exe"), names.join(", "));
  assert(names.includes("application/x-msdownload run.scr"), names.join(", "));
  assert(names.includes("message/rfc822 "), names.join(", "));
  const exe = facts.attachments.find((a) => a.name === "invoice.pdf.exe")!;
  assertEquals(exe.size, "TVqQAAMAAAAEAAAA".length);
});

const authResults = `Authentication-Results: forged.example; spf=pass smtp.mailfrom=x@evil.example;
 dmarc=pass header.from=paypal.com
Authentication-Results: MX.example.org 1; spf=softfail (sender not designated)
  smtp.mailfrom="bounce@Lists.Example.com";
  dkim=pass header.d=example.com header.s=s1 header.b="abc;def";
  dkim=fail (bad signature) header.d=other.example;
  dmarc=fail (p=reject) header.from=Example.com; arc=none; iprev=pass policy.iprev=192.0.2.1
Authentication-Results: mx.example.org; dmarc=pass header.from=late.example
From: a@example.com

body
`;

Deno.test("analyze: only our own Authentication-Results is read, first one wins", () => {
  const facts = analyze(authResults);
  assertEquals(facts.auth, {
    spf: "softfail",
    spfDomain: "lists.example.com",
    dkim: [{ result: "pass", domain: "example.com" }, { result: "fail", domain: "other.example" }],
    dmarc: "fail",
    dmarcDomain: "example.com",
    arc: "none",
    iprev: "pass",
  });
});

Deno.test("analyze: Authentication-Results as mailauth writes it (header.i, comments, quotes)", () => {
  const field = "Authentication-Results: mx.example.org;\r\n" +
    ' dkim=pass header.i=@Example.com header.s=default header.a=rsa-sha256 header.b="AbCd1234";\r\n' +
    " spf=pass (mx.example.org: domain of a@example.com designates 192.0.2.1 as permitted sender)" +
    " smtp.mailfrom=a@example.com smtp.helo=mail.example.com;\r\n" +
    " arc=none;\r\n" +
    " dmarc=pass (p=NONE sp=NONE arc=none) header.from=example.com;\r\n" +
    " iprev=pass policy.iprev=192.0.2.1 (mail.example.com)\r\n";
  const raw = new TextEncoder().encode(field + "From: a@example.com\r\n\r\nhi\r\n");
  const auth = analyzeMessage(raw, parseMime(raw, limits), envelope, "mx.example.org").auth;
  assertEquals(auth, {
    spf: "pass",
    spfDomain: "example.com",
    dkim: [{ result: "pass", domain: "example.com" }],
    dmarc: "pass",
    dmarcDomain: "example.com",
    arc: "none",
    iprev: "pass",
  });
});

Deno.test("analyze: auth is 'none' without our field, and for 'authserv-id; none'", () => {
  const none = {
    spf: "none",
    spfDomain: null,
    dkim: [],
    dmarc: "none",
    dmarcDomain: null,
    arc: "none",
    iprev: "none",
  };
  assertEquals(analyze(authResults, "other.example").auth, none);
  assertEquals(analyze("Authentication-Results: mx.example.org; none\n\nx\n").auth, none);
  assertEquals(analyze(authResults, "").auth, none);
});

Deno.test("analyze: hostOf reads hosts by hand", () => {
  assertEquals(hostOf("HTTP://user:pw@Example.COM:8080/x"), "example.com");
  assertEquals(hostOf("//cdn.example.com/a.js"), "cdn.example.com");
  assertEquals(hostOf("https://xn--pypal-4ve.com/"), "xn--pypal-4ve.com");
  assertEquals(hostOf("https://раураl.com/login"), "раураl.com");
  assertEquals(hostOf("https://%65vil.example/"), "evil.example");
  assertEquals(hostOf("https://[2001:db8::1]:443/"), "[2001:db8::1]");
  assertEquals(hostOf("mailto:a@example.com"), "");
  assertEquals(hostOf("javascript:alert(1)"), "");
  assertEquals(hostOf("/relative/path"), "");
  assertEquals(hostOf("https://example.com./"), "example.com");
});

Deno.test("analyze: a 50 MB message gives facts at the caps", () => {
  const head = new TextEncoder().encode(
    "From: a@example.com\r\nContent-Type: multipart/alternative; boundary=z\r\n\r\n" +
      "--z\r\nContent-Type: text/plain\r\n\r\n",
  );
  const links = "see http://a.example/ ".repeat(30);
  const textBody = new TextEncoder().encode(links + "word ".repeat(5_000_000));
  const mid = new TextEncoder().encode("\r\n--z\r\nContent-Type: text/html\r\n\r\n");
  const anchor = '<a href="http://h.example/">x</a>';
  const htmlBody = new TextEncoder().encode(anchor.repeat(700_000));
  const tail = new TextEncoder().encode("\r\n--z--\r\n");
  const raw = new Uint8Array(
    head.length + textBody.length + mid.length + htmlBody.length + tail.length,
  );
  let at = 0;
  for (const piece of [head, textBody, mid, htmlBody, tail]) {
    raw.set(piece, at);
    at += piece.length;
  }
  assert(raw.length > 45_000_000);
  const facts = analyze(raw);
  assertEquals(facts.html.length, MAX_HTML_CHARS);
  assert(facts.text.length <= MAX_TEXT_CHARS);
  assertEquals(facts.links.length, MAX_LINKS);
  assert(facts.links.every((l) => l.host === "h.example"));
});

Deno.test("analyze: more than 500 header fields are cut at 500", () => {
  const facts = analyze("X-A: 1\n".repeat(2000) + "\nbody\n");
  assertEquals(facts.headers.length, 500);
});

Deno.test("analyze: binary junk and a multipart without boundary give facts", () => {
  const junk = new Uint8Array(4096);
  for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) & 0xff;
  const facts = analyze(junk);
  assert(Array.isArray(facts.links));
  const broken = analyze(
    "From: a@\nContent-Type: multipart/mixed\nContent-Transfer-Encoding: base64\n\n!!!\n",
  );
  assertEquals(broken.mime.type, "text");
  assertEquals(broken.from.length, 1);
});
