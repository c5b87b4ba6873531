/**
 * SEARCH evaluation (src/imap/search.ts) over messages ingested through the real message path
 * into a real store: flag, size, date, address, subject, header, full-text (BODY/TEXT), UID and
 * sequence keys, nested OR/NOT, and `$`.
 */
import { assertEquals } from "../helpers/assert.ts";
import type { App } from "../../src/app.ts";
import { withApp } from "../helpers/app.ts";
import { search, type SearchInput } from "../../src/imap/search.ts";
import type { SearchKey } from "../../src/imap/wire/types.ts";

const MESSAGES = [
  "From: Alice Example <alice@example.org>\r\nTo: bob@example.com\r\nSubject: Quarterly report\r\n" +
  "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nX-Priority: 1\r\n\r\nThe zebra numbers are in.\r\n",
  "From: carol@example.net\r\nTo: bob@example.com\r\nCc: Dave <dave@example.org>\r\n" +
  "Subject: Lunch?\r\nDate: Tue, 10 Mar 2026 12:00:00 +0000\r\n\r\nPizza at noon.\r\n",
  "From: alice@example.org\r\nTo: bob@example.com\r\nSubject: Re: Quarterly report\r\n" +
  "Date: Fri, 13 Mar 2026 09:00:00 +0000\r\n\r\n" + "Long text. ".repeat(200) + "\r\n",
];

async function withMailbox(work: (app: App, input: SearchInput) => Promise<void>) {
  await withApp(async (app) => {
    await app.directory.addDomain("example.com");
    const account = await app.directory.addAccount("bob@example.com", null);
    const inbox = (await app.store.listMailboxes(account.id)).find((m) => m.role === "inbox")!;
    const days = [Date.UTC(2026, 2, 2, 10), Date.UTC(2026, 2, 10, 23, 59), Date.UTC(2026, 2, 13)];
    for (const [index, text] of MESSAGES.entries()) {
      const parsed = app.messages.prepare(new TextEncoder().encode(text));
      await app.messages.commit(parsed, {
        accountId: account.id,
        keywords: index === 0 ? ["$seen", "$flagged"] : index === 1 ? ["$seen"] : [],
        receivedAt: new Date(days[index]),
      });
    }
    const messages = await app.store.mailboxMessages(account.id, inbox.id);
    await work(app, {
      store: app.store,
      accountId: account.id,
      messages,
      saved: [1, 3],
      headerOf: async (_, fields) => {
        const raw = new TextDecoder().decode(await app.blobs.get(fields.blobHash));
        return raw.slice(0, raw.indexOf("\r\n\r\n") + 2);
      },
      now: new Date(Date.UTC(2026, 2, 13, 12)),
    });
  });
}

const all = (...keys: SearchKey[]): SearchKey => ({ kind: "AND", keys });
const date = (day: number) => ({ year: 2026, month: 3, day });

Deno.test("SEARCH: every key family against real stored messages", async () => {
  await withMailbox(async (_, input) => {
    const cases: [SearchKey, number[]][] = [
      [{ kind: "ALL" }, [1, 2, 3]],
      [{ kind: "SEEN" }, [1, 2]],
      [{ kind: "UNSEEN" }, [3]],
      [{ kind: "FLAGGED" }, [1]],
      [{ kind: "KEYWORD", flag: "\\Flagged" }, [1]],
      [{ kind: "NEW" }, []],
      [{ kind: "FROM", value: "ALICE" }, [1, 3]],
      [{ kind: "CC", value: "dave" }, [2]],
      [{ kind: "SUBJECT", value: "quarterly" }, [1, 3]],
      [{ kind: "BODY", value: "zeb" }, [1]],
      [{ kind: "TEXT", value: "pizza noon" }, [2]],
      [{ kind: "TEXT", value: "lunch" }, [2]],
      [{ kind: "HEADER", field: "x-priority", value: "1" }, [1]],
      [{ kind: "HEADER", field: "X-Priority", value: "" }, [1]],
      [{ kind: "LARGER", size: 1000 }, [3]],
      [{ kind: "SMALLER", size: 1000 }, [1, 2]],
      [{ kind: "BEFORE", date: date(10) }, [1]],
      [{ kind: "ON", date: date(10) }, [2]],
      [{ kind: "SINCE", date: date(10) }, [2, 3]],
      [{ kind: "SENTON", date: date(13) }, [3]],
      [{ kind: "YOUNGER", seconds: 86_400 }, [3]],
      [{ kind: "OLDER", seconds: 86_400 }, [1, 2]],
      [{ kind: "UID", set: { kind: "ranges", ranges: [{ start: 2, end: "*" }] } }, [2, 3]],
      [{ kind: "SEQUENCE", set: { kind: "ranges", ranges: [{ start: "*", end: "*" }] } }, [3]],
      [{ kind: "UID", set: { kind: "saved" } }, [1, 3]],
      [
        { kind: "OR", left: { kind: "FLAGGED" }, right: { kind: "NOT", key: { kind: "SEEN" } } },
        [1, 3],
      ],
      [all({ kind: "FROM", value: "alice" }, { kind: "NOT", key: { kind: "SEEN" } }), [3]],
      [{ kind: "MODSEQ", entry: null, modseq: 1_000_000 }, []],
    ];
    for (const [key, expected] of cases) {
      assertEquals(await search(key, input), expected, JSON.stringify(key));
    }
  });
});

Deno.test("SUBJECT, FROM, TO, CC, BCC answered by the database match the per-message comparison", async () => {
  const tricky = [
    'From: "O\'Brien, Pat \\"PJ\\"" <pat@example.org>\r\nTo: 100%_done <done@example.com>\r\n' +
    "Subject: 50% off_now \\o/\r\n\r\nx\r\n",
    "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\nCc: a@x.org, B <b@y.org>\r\n" +
    "Bcc: Hidden <h@example.com>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus KÖLN\r\n\r\nx\r\n",
    "From: <noname@example.net>\r\nTo: bob@example.com\r\nSubject:\r\n\r\nx\r\n",
  ];
  await withApp(async (app) => {
    await app.directory.addDomain("example.com");
    const account = await app.directory.addAccount("bob@example.com", null);
    for (const text of tricky) {
      await app.messages.ingest(new TextEncoder().encode(text), { accountId: account.id });
    }
    const inbox = (await app.store.listMailboxes(account.id)).find((m) => m.role === "inbox")!;
    const messages = await app.store.mailboxMessages(account.id, inbox.id);
    const fields = new Map(
      (await app.store.searchFields(account.id, messages.map((m) => m.emailId))).map((f) => [
        f.id,
        f,
      ]),
    );
    const input: SearchInput = {
      store: app.store,
      accountId: account.id,
      messages,
      saved: [],
      headerOf: () => Promise.resolve(""),
    };
    const needles = [
      "",
      "%",
      "_",
      "\\",
      "%_",
      '"',
      "'",
      "o'brien",
      "PJ",
      "pat@",
      "<pat",
      "org>",
      "> ",
      " <",
      "100%",
      "%_d",
      "done",
      "j",
      "müller",
      "MÜLLER",
      "jm@",
      "b <b@",
      "a@x",
      "hidden",
      "noname",
      " <noname",
      "off_now",
      "\\o/",
      "köln",
      "KÖLN",
      "grüße",
      "zzz",
    ];
    let fromStore = 0;
    for (const kind of ["SUBJECT", "FROM", "TO", "CC", "BCC"] as const) {
      for (const value of needles) {
        const expected = messages.filter((m) => {
          const row = fields.get(m.emailId)!;
          const needle = value.toLowerCase();
          if (kind === "SUBJECT") return row.subject.toLowerCase().includes(needle);
          const list = row[kind.toLowerCase() as "from" | "to" | "cc" | "bcc"];
          return list.some((a) => `${a.name ?? ""} <${a.email}>`.toLowerCase().includes(needle));
        }).map((m) => m.uid);
        assertEquals(await search({ kind, value }, input), expected, `${kind} ${value}`);
        if (/^[\x20-\x7e]*$/.test(value)) fromStore++;
      }
    }
    assertEquals(fromStore > 100, true); // most went through the database path
  });
});
