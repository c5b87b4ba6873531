/**
 * Writes the MIME fixture corpus to tests/fixtures/mime/: for each message NAME.eml, and
 * NAME.json with the tree a correct parser must find — every part's section, media type and
 * the exact header and body bytes (as Latin-1 strings), known here by construction.
 *
 * Run: deno run -A scripts/make-mime-fixtures.ts
 */

/** A part as the builder renders it. `t` is the media type the parser must report. */
interface Leaf {
  t: string;
  h: string[];
  body: string;
  /** No empty line after the header (the header runs to the part end). */
  noBlank?: boolean;
}
interface Multi {
  t: string;
  h: string[];
  boundary: string;
  children: Node[];
  preamble?: string;
  epilogue?: string;
  /** Write the close delimiter (default true). */
  close?: boolean;
  /** Transport padding after delimiters. */
  pad?: string;
}
interface Message {
  t: string;
  h: string[];
  inner: Node;
}
type Node = Leaf | Multi | Message;

export interface Expected {
  section: string;
  type: string;
  header: string;
  body: string;
  parts: Expected[];
  message: Expected | null;
}

interface Fixture {
  name: string;
  eol?: string;
  node?: Node;
  /** Raw fixtures: the bytes and the expected tree written by hand. */
  raw?: string;
  expect?: Expected;
}

/** A Unicode string as a binary string of its UTF-8 bytes. */
function utf8(s: string): string {
  return String.fromCharCode(...new TextEncoder().encode(s));
}

function b64(s: string): string {
  return btoa(s).replace(/(.{76})/g, "$1\n");
}

function render(node: Node, e: string, section: string, messageRoot: boolean): [string, Expected] {
  const fix = (s: string) => s.replace(/\n/g, e);
  const header = node.h.map((l) => fix(l) + e).join("") +
    ("noBlank" in node && node.noBlank ? "" : e);
  const exp: Expected = { section, type: node.t, header, body: "", parts: [], message: null };
  if ("boundary" in node) {
    const pad = node.pad ?? "";
    let body = node.preamble !== undefined ? fix(node.preamble) + e : "";
    node.children.forEach((child, i) => {
      const s = section === "" ? String(i + 1) : `${section}.${i + 1}`;
      const [text, ce] = render(child, e, s, false);
      body += (i > 0 ? e : "") + `--${node.boundary}${pad}${e}` + text;
      exp.parts.push(ce);
    });
    if (node.close !== false) {
      body += `${e}--${node.boundary}--${pad}`;
      if (node.epilogue !== undefined) body += e + fix(node.epilogue);
    }
    exp.body = body;
  } else if ("inner" in node) {
    const s = messageRoot ? (section === "" ? "1" : `${section}.1`) : section;
    const [text, ie] = render(node.inner, e, s, true);
    exp.body = text;
    exp.message = ie;
  } else {
    exp.body = node.noBlank ? "" : fix(node.body);
    if (node.noBlank) exp.header = header.slice(0, header.length - e.length);
  }
  return [exp.header + exp.body, exp];
}

const plain = (
  body: string,
  h: string[] = ["Content-Type: text/plain; charset=us-ascii"],
): Leaf => ({
  t: "text/plain",
  h,
  body,
});
const top = [
  "From: Alice <alice@example.com>",
  "To: bob@example.org",
  "Date: Mon, 2 Jan 2006 15:04:05 -0700",
];
const mp = (
  sub: string,
  boundary: string,
  children: Node[],
  extra: Partial<Multi> = {},
): Multi => ({
  t: `multipart/${sub}`,
  h: [`Content-Type: multipart/${sub}; boundary="${boundary}"`],
  boundary,
  children,
  ...extra,
});
const withTop = <T extends Node>(n: T, subject: string): T => ({
  ...n,
  h: [...top, `Subject: ${subject}`, "MIME-Version: 1.0", ...n.h],
});
const pdf = b64("%PDF-1.4\n" + "x".repeat(300) + "\n%%EOF\n");
const attachment = (name: string): Leaf => ({
  t: "application/pdf",
  h: [
    `Content-Type: application/pdf; name="${name}"`,
    `Content-Disposition: attachment; filename="${name}"`,
    "Content-Transfer-Encoding: base64",
  ],
  body: pdf,
});
const html = (s: string): Leaf => ({
  t: "text/html",
  h: ["Content-Type: text/html; charset=utf-8"],
  body: s,
});
const inner = (subject: string, body: Node): Node => withTop(body, subject);

const ics =
  "BEGIN:VCALENDAR\nMETHOD:REQUEST\nPRODID:-//Test//EN\nVERSION:2.0\nBEGIN:VEVENT\nUID:1@example.com\nDTSTART:20260101T100000Z\nSUMMARY:Planning\nEND:VEVENT\nEND:VCALENDAR";

const fixtures: Fixture[] = [
  { name: "01-simple-crlf", node: withTop(plain("Hello Bob,\n\nsee you.\n"), "Hello") },
  { name: "02-simple-lf", eol: "\n", node: withTop(plain("LF only\nsecond line\n"), "LF") },
  { name: "03-simple-cr", eol: "\r", node: withTop(plain("CR only\rsecond line\r"), "CR") },
  {
    name: "04-no-content-type",
    node: {
      t: "text/plain",
      h: ["From: a@example.com", "Subject: defaults"],
      body: "No MIME headers at all.\n",
    },
  },
  {
    name: "05-attachment",
    node: withTop(
      mp("mixed", "b1", [plain("See attached.\n"), attachment("report.pdf")]),
      "Report",
    ),
  },
  {
    name: "06-alternative",
    node: withTop(
      mp("alternative", "alt", [plain("Plain version\n"), html("<p>HTML <b>version</b></p>\n")]),
      "Alt",
    ),
  },
  {
    name: "07-nested-related",
    node: withTop(
      mp("mixed", "outer", [
        mp("alternative", "mid", [
          plain("Text body\n"),
          mp("related", "rel", [
            html('<p>Look: <img src="cid:logo@x"></p>\n'),
            {
              t: "image/png",
              h: [
                "Content-Type: image/png",
                "Content-ID: <logo@x>",
                "Content-Transfer-Encoding: base64",
                "Content-Disposition: inline",
              ],
              body: "iVBORw0KGgo=\n",
            },
          ]),
        ]),
        attachment("a.pdf"),
      ]),
      "Nested",
    ),
  },
  {
    name: "08-rfc822-in-multipart",
    node: withTop(
      mp("mixed", "fw", [plain("Forwarding.\n"), {
        t: "message/rfc822",
        h: ["Content-Type: message/rfc822"],
        inner: inner("Original", plain("Original body\n")),
      }]),
      "Fwd: Original",
    ),
  },
  {
    name: "09-top-level-rfc822",
    node: withTop({
      t: "message/rfc822",
      h: ["Content-Type: message/rfc822"],
      inner: inner("Inner", mp("mixed", "in", [plain("one\n"), plain("two\n")])),
    }, "Wrapped"),
  },
  {
    name: "10-digest",
    node: withTop(
      mp("digest", "dig", [
        { t: "message/rfc822", h: [], inner: inner("First", plain("first message\n")) },
        { t: "message/rfc822", h: [], inner: inner("Second", plain("second message\n")) },
        {
          t: "text/plain",
          h: ["Content-Type: text/plain"],
          body: "explicit text part in a digest\n",
        },
      ]),
      "Digest",
    ),
  },
  {
    name: "11-missing-final-boundary",
    node: withTop(
      mp("mixed", "mf", [plain("first\n"), plain("last part runs to the end\n")], { close: false }),
      "Missing close",
    ),
  },
  {
    name: "12-missing-boundary-param",
    node: {
      t: "text/plain",
      h: [...top, "Subject: no boundary", "Content-Type: multipart/mixed"],
      body: "--x\nnot a part\n--x--\n",
    },
  },
  {
    name: "13-preamble-epilogue",
    node: withTop(
      mp("mixed", "pe", [plain("body\n")], {
        preamble: "This is a multi-part message in MIME format.\n",
        epilogue: "epilogue text\n",
      }),
      "Preamble",
    ),
  },
  {
    name: "14-boundary-specials",
    node: withTop(mp("mixed", "=_Part 1 ()+,./:=?_x", [plain("a\n"), plain("b\n")]), "Specials"),
  },
  {
    name: "15-boundary-prefix",
    node: withTop(
      mp("mixed", "b", [
        mp("alternative", "b-1", [plain("inner plain\n"), html("<i>inner</i>\n")]),
        plain("outer second\n"),
      ]),
      "Prefix boundaries",
    ),
  },
  {
    name: "16-outer-closes-inner",
    node: withTop(
      mp("mixed", "out", [
        mp("alternative", "in", [plain("x\n"), plain("y\n")], { close: false }),
        plain("after\n"),
      ]),
      "Unclosed inner",
    ),
  },
  {
    name: "17-empty-parts",
    node: withTop(
      mp("mixed", "ep", [{ t: "text/plain", h: [], body: "" }, {
        t: "text/plain",
        h: ["Content-Type: text/plain"],
        body: "",
      }, { t: "text/plain", h: [], body: "no header\n" }]),
      "Empty parts",
    ),
  },
  {
    name: "18-header-only",
    node: {
      t: "text/plain",
      h: ["From: a@example.com", "Subject: only a header"],
      body: "",
      noBlank: true,
    },
  },
  {
    name: "19-empty",
    raw: "",
    expect: { section: "", type: "text/plain", header: "", body: "", parts: [], message: null },
  },
  {
    name: "20-body-only",
    node: { t: "text/plain", h: [], body: "A body with no header at all.\n" },
  },
  {
    name: "21-rfc2047-subjects",
    node: {
      t: "text/plain",
      h: [
        "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
        "Subject: =?utf-8?Q?Caf=C3=A9?= =?iso-8859-1?B?Y3LobWU=?=",
        "X-Koi8: =?koi8-r?B?8NLJ18XU?=",
        "X-Jis: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=",
        "X-Gb: =?gb2312?B?1tDOxA==?=",
        "X-Big5: =?big5?B?pKSk5Q==?=",
        "X-Sjis: =?shift_jis?B?g2WDWINn?=",
        "X-Win: =?windows-1252?Q?=80uro?=",
        "X-Kr: =?euc-kr?B?x9Gx2w==?=",
        "X-Bad: =?x-unknown?Q?abc?= =?utf-8?B?***?=",
      ],
      body: "charsets\n",
    },
  },
  {
    name: "22-rfc2047-names",
    node: withTop(plain("names\n"), "=?utf-8?B?" + btoa(utf8("Grüße")) + "?="),
  },
  {
    name: "23-rfc2231-continuations",
    node: withTop(
      mp("mixed", "p2231", [
        plain("see file\n"),
        {
          t: "application/octet-stream",
          h: [
            "Content-Type: application/octet-stream;",
            "\tname*0*=utf-8''%E6%97%A5%E6%9C%AC;",
            "\tname*1*=%E8%AA%9E.txt",
            "Content-Disposition: attachment;",
            ' filename*0="very long ";',
            ' filename*1="name.txt"',
          ],
          body: "data\n",
        },
      ]),
      "2231",
    ),
  },
  {
    name: "24-rfc2231-latin1",
    node: withTop(
      mp("mixed", "l1", [{
        t: "text/plain",
        h: [
          "Content-Type: text/plain; charset=iso-8859-1; name*=iso-8859-1'fr'r%E9sum%E9.txt",
          "Content-Disposition: attachment; filename*=iso-8859-1''r%E9sum%E9.txt",
        ],
        body: "r\xe9sum\xe9\n",
      }]),
      "Latin-1 name",
    ),
  },
  {
    name: "25-8bit-utf8-header",
    node: withTop(
      plain(utf8("Grüße\n"), [
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
      ]),
      utf8("Grüße aus Köln"),
    ),
  },
  {
    name: "26-8bit-latin1-header",
    node: withTop(
      plain("caf\xe9\n", ["Content-Type: text/plain; charset=iso-8859-1"]),
      "caf\xe9 cr\xe8me",
    ),
  },
  {
    name: "27-unknown-charset",
    node: withTop(
      plain(utf8("ünknown\n"), ["Content-Type: text/plain; charset=x-no-such-charset"]),
      "Unknown charset",
    ),
  },
  {
    name: "28-broken-base64",
    node: withTop(
      plain("SGVsbG8g!!d29y\nbGQ=garbage==\n", [
        "Content-Type: text/plain",
        "Content-Transfer-Encoding: base64",
      ]),
      "Bad base64",
    ),
  },
  {
    name: "29-broken-qp",
    node: withTop(
      plain("caf=C3=A9 =ZZ bad =\nsoft=3", [
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
      ]),
      "Bad QP",
    ),
  },
  {
    name: "30-calendar-invite",
    node: withTop(
      mp("mixed", "cal", [
        mp("alternative", "calalt", [plain("You are invited.\n"), {
          t: "text/calendar",
          h: ["Content-Type: text/calendar; charset=utf-8; method=REQUEST"],
          body: ics + "\n",
        }]),
        {
          t: "application/ics",
          h: [
            'Content-Type: application/ics; name="invite.ics"',
            'Content-Disposition: attachment; filename="invite.ics"',
            "Content-Transfer-Encoding: base64",
          ],
          body: b64(ics) + "\n",
        },
      ]),
      "Invitation: Planning",
    ),
  },
  {
    name: "31-mixed-line-ends",
    raw:
      "Subject: mixed\nContent-Type: multipart/mixed; boundary=m\n\n--m\r\nContent-Type: text/plain\r\n\r\ncrlf part\r\n--m\n\nlf part\n--m--\n",
    expect: {
      section: "",
      type: "multipart/mixed",
      header: "Subject: mixed\nContent-Type: multipart/mixed; boundary=m\n\n",
      body: "--m\r\nContent-Type: text/plain\r\n\r\ncrlf part\r\n--m\n\nlf part\n--m--\n",
      parts: [
        {
          section: "1",
          type: "text/plain",
          header: "Content-Type: text/plain\r\n\r\n",
          body: "crlf part",
          parts: [],
          message: null,
        },
        {
          section: "2",
          type: "text/plain",
          header: "\n",
          body: "lf part",
          parts: [],
          message: null,
        },
      ],
      message: null,
    },
  },
  {
    name: "32-nul-bytes",
    node: withTop(plain("nul\0in\0body\n", ["Content-Type: text/plain", "X-Nul: a\0b"]), "NUL"),
  },
  {
    name: "33-no-colon-lines",
    node: {
      t: "text/html",
      h: [
        ...top,
        "this line has no colon",
        "Content-Type: text/html",
        ": empty name",
        "Subject: kept",
      ],
      body: "<p>x</p>\n",
    },
  },
  {
    name: "34-cr-multipart",
    eol: "\r",
    node: withTop(mp("mixed", "cr", [plain("cr one\n"), plain("cr two\n")]), "CR multipart"),
  },
  {
    name: "35-lf-nested",
    eol: "\n",
    node: withTop(
      mp("mixed", "lf1", [
        mp("alternative", "lf2", [plain("p\n"), html("<p>h</p>\n")]),
        attachment("x.pdf"),
      ]),
      "LF nested",
    ),
  },
  {
    name: "36-transport-padding",
    node: withTop(mp("mixed", "tp", [plain("a\n"), plain("b\n")], { pad: " \t " }), "Padding"),
  },
  {
    name: "37-signed",
    node: withTop(
      {
        ...mp("signed", "sig", [plain("signed text\n"), {
          t: "application/pgp-signature",
          h: ['Content-Type: application/pgp-signature; name="signature.asc"'],
          body: "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n-----END PGP SIGNATURE-----\n",
        }]),
        h: [
          'Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="sig"',
        ],
      },
      "Signed",
    ),
  },
  {
    name: "38-dsn-report",
    node: withTop(
      {
        ...mp("report", "dsn", [
          plain("Delivery failed.\n"),
          {
            t: "message/delivery-status",
            h: ["Content-Type: message/delivery-status"],
            body:
              "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 5.1.1\n",
          },
          {
            t: "text/rfc822-headers",
            h: ["Content-Type: text/rfc822-headers"],
            body: "Subject: original\nFrom: a@example.com\n",
          },
        ]),
        h: ['Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"'],
      },
      "Undelivered",
    ),
  },
  {
    name: "39-rfc822-base64",
    node: withTop(
      mp("mixed", "eb", [plain("x\n"), {
        t: "message/rfc822",
        h: ["Content-Type: message/rfc822", "Content-Transfer-Encoding: base64"],
        body: b64("Subject: hidden\r\n\r\nbody\r\n") + "\n",
      }]),
      "Encoded message",
    ),
  },
  {
    name: "40-invalid-content-type",
    node: withTop(plain("typeless\n", ["Content-Type: text; charset=utf-8"]), "Invalid type"),
  },
  {
    name: "41-deep-10",
    node: withTop(
      (function deep(level: number): Node {
        return level === 10
          ? plain(`leaf at ${level}\n`)
          : mp("mixed", `d${level}`, [deep(level + 1), plain(`sibling ${level}\n`)]);
      })(0),
      "Deep",
    ),
  },
  {
    name: "42-utf7",
    node: withTop(plain("Hi Mom -+Jjo--!\n", ["Content-Type: text/plain; charset=utf-7"]), "UTF-7"),
  },
  {
    name: "43-html-only",
    node: withTop(
      html(
        "<html><head><style>p{}</style></head><body><p>Only&nbsp;HTML &amp; entities</p></body></html>\n",
      ),
      "HTML only",
    ),
  },
  {
    name: "44-duplicate-content-type",
    node: {
      ...withTop(plain("dup\n", ["Content-Type: text/html", "Content-Type: image/png"]), "Dup"),
      t: "text/html",
    },
  },
  {
    name: "45-boundary-mid-line",
    node: withTop(
      mp("mixed", "mid", [
        plain("text with --mid inside a line\nand x--mid too\n"),
        plain("second\n"),
      ]),
      "Mid-line",
    ),
  },
  {
    name: "46-part-header-no-blank",
    raw:
      "Content-Type: multipart/mixed; boundary=nb\r\n\r\n--nb\r\nContent-Type: text/plain\r\n--nb\r\n\r\nreal\r\n--nb--\r\n",
    expect: {
      section: "",
      type: "multipart/mixed",
      header: "Content-Type: multipart/mixed; boundary=nb\r\n\r\n",
      body: "--nb\r\nContent-Type: text/plain\r\n--nb\r\n\r\nreal\r\n--nb--\r\n",
      parts: [
        {
          section: "1",
          type: "text/plain",
          header: "Content-Type: text/plain",
          body: "",
          parts: [],
          message: null,
        },
        {
          section: "2",
          type: "text/plain",
          header: "\r\n",
          body: "real",
          parts: [],
          message: null,
        },
      ],
      message: null,
    },
  },
  {
    name: "47-only-preamble",
    raw: "Content-Type: multipart/mixed; boundary=zz\r\n\r\nno delimiter ever appears\r\n--z\r\n",
    expect: {
      section: "",
      type: "text/plain",
      header: "Content-Type: multipart/mixed; boundary=zz\r\n\r\n",
      body: "no delimiter ever appears\r\n--z\r\n",
      parts: [],
      message: null,
    },
  },
  {
    name: "48-message-global",
    node: withTop(
      mp("mixed", "gl", [plain("x\n"), {
        t: "message/global",
        h: ["Content-Type: message/global"],
        inner: inner(
          utf8("Grüße"),
          plain(utf8("ünïcode\n"), ["Content-Type: text/plain; charset=utf-8"]),
        ),
      }]),
      "Global",
    ),
  },
  {
    name: "49-folded-headers",
    node: {
      t: "text/plain",
      h: [
        "Subject: a very long subject",
        "  folded over",
        "\tthree lines",
        "To: a@example.com,",
        " b@example.com",
        "Content-Type: text/plain;",
        ' charset="utf-8";',
        "\tformat=flowed",
      ],
      body: "folded\n",
    },
  },
  {
    name: "50-rfc822-chain",
    node: withTop(
      mp("mixed", "ch", [
        plain("chain\n"),
        {
          t: "message/rfc822",
          h: ["Content-Type: message/rfc822"],
          inner: inner("Level 1", {
            t: "message/rfc822",
            h: ["Content-Type: message/rfc822"],
            inner: inner("Level 2", mp("mixed", "ch2", [plain("deep a\n"), plain("deep b\n")])),
          }),
        },
      ]),
      "Chain",
    ),
  },
];

const dir = new URL("../tests/fixtures/mime/", import.meta.url);
await Deno.mkdir(dir, { recursive: true });
for (const f of fixtures) {
  let raw: string;
  let expect: Expected;
  if (f.raw !== undefined && f.expect) {
    raw = f.raw;
    expect = f.expect;
  } else if (f.node) {
    [raw, expect] = render(f.node, f.eol ?? "\r\n", "", true);
  } else throw new Error(`fixture ${f.name} has no content`);
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  await Deno.writeFile(new URL(`${f.name}.eml`, dir), bytes);
  await Deno.writeTextFile(new URL(`${f.name}.json`, dir), JSON.stringify(expect, null, 1) + "\n");
}
console.log(`wrote ${fixtures.length} fixtures to ${dir.pathname}`);
