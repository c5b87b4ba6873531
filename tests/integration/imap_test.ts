/**
 * The IMAP server (src/imap/server.ts) of the real server process over real sockets: Python's
 * imaplib through a whole mail-client session, raw-socket checks of the login rules on 143
 * (LOGINDISABLED, STARTTLS injection, SASL-IR), literals and their limits, error replies, and
 * two sessions on one mailbox seeing each other's changes (EXISTS in IDLE after a delivery,
 * unsolicited FETCH, EXPUNGE held back during FETCH).
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, type TestServer, withServer } from "../helpers/server.ts";
import { LineClient } from "../helpers/tls.ts";
import { cliAll } from "../helpers/mail.ts";
import { DatabaseSync } from "node:sqlite";

const USER = "alice@example.com";
const PASSWORD = "pw-alice";

async function setup(server: TestServer): Promise<void> {
  await cliAll(server, [["account", "add", USER, "--password", PASSWORD]]);
  for (const subject of ["first", "second", "third"]) await deliver(server, subject);
}

async function deliver(server: TestServer, subject: string): Promise<void> {
  const result = await cli(
    server.configPath,
    ["deliver", USER],
    `From: Bob <bob@example.org>\r\nTo: ${USER}\r\nSubject: ${subject}\r\n\r\nBody of ${subject}, zebra.\r\n`,
  );
  assertEquals(result.code, 0, result.stderr);
}

const ca = (server: TestServer) => Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);

/** A logged-in raw client on 993. */
async function session(server: TestServer): Promise<LineClient> {
  const client = await LineClient.connect(server.ports.imaps, {
    implicitTls: { ca: await ca(server) },
  });
  assertMatch((await client.readLine())!, /^\* OK \[CAPABILITY IMAP4rev1 /);
  await command(client, "a0", `LOGIN ${USER} ${PASSWORD}`);
  return client;
}

/** Sends a tagged command; returns the untagged lines and the tagged reply (last). */
async function command(client: LineClient, tag: string, text: string): Promise<string[]> {
  await client.write(`${tag} ${text}\r\n`);
  return await client.readUntil((line) => line.startsWith(`${tag} `));
}

Deno.test("IMAP: imaplib runs a whole client session over 993", async () => {
  await withServer(async (server) => {
    await setup(server);
    const script = `
import imaplib, ssl, sys, json
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL("localhost", int(sys.argv[1]), ssl_context=ctx)
out = {}
out["login"] = m.login("${USER}", "${PASSWORD}")[0]
out["list"] = [x.decode() for x in m.list()[1]]
out["select"] = m.select("INBOX")[1][0].decode()
typ, data = m.fetch("2", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
out["fetch_header"] = data[0][1].decode()
typ, data = m.fetch("2", "(BODY[TEXT])")
out["fetch_text"] = data[0][1].decode()
out["flags_after_body"] = m.fetch("2", "(FLAGS)")[1][0].decode()
out["store"] = m.store("1", "+FLAGS", "(\\\\Flagged $Junk)")[1][0].decode()
out["search_text"] = m.search(None, "TEXT", "zebra")[1][0].decode()
out["search_flagged"] = m.search(None, "FLAGGED")[1][0].decode()
out["search_subject"] = m.uid("SEARCH", "SUBJECT", "third")[1][0].decode()
out["create"] = m.create("Archive/2026")[0]
out["copy"] = m.copy("1:2", "Archive/2026")[1][0].decode()
out["append"] = m.append("INBOX", "(\\\\Seen)", None, b"Subject: appended\\r\\n\\r\\nhi\\r\\n")[1][0].decode()
out["status"] = m.status("Archive/2026", "(MESSAGES UIDNEXT UNSEEN)")[1][0].decode()
out["move"] = m.uid("MOVE", "3", "Trash")[0]
out["store_deleted"] = m.store("1", "+FLAGS", "(\\\\Deleted)")[0]
out["expunge"] = [x.decode() for x in m.expunge()[1]]
out["reselect"] = m.select("INBOX")[1][0].decode()
out["uids"] = m.uid("SEARCH", "ALL")[1][0].decode()
out["rename"] = m.rename("Archive/2026", "Old")[0]
out["delete"] = m.delete("Old")[0]
out["missing"] = m.select("Nowhere")[0]
m.logout()
print(json.dumps(out))
`;
    const output = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", script, String(server.ports.imaps), `${server.dir}/data/tls/self-signed.crt`],
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 0, stderr);
    const out = JSON.parse(new TextDecoder().decode(output.stdout));
    assertEquals(out.login, "OK");
    assert(out.list.includes('(\\HasNoChildren \\Sent) "/" "Sent"'), out.list.join("\n"));
    assertEquals(out.select, "3");
    assertEquals(out.fetch_header, "Subject: second\r\n\r\n");
    assertEquals(out.fetch_text, "Body of second, zebra.\r\n");
    assertEquals(out.flags_after_body, "2 (FLAGS (\\Seen))");
    assertEquals(out.store, "1 (FLAGS (\\Flagged $Junk))");
    assertEquals(out.search_text, "1 2 3");
    assertEquals(out.search_flagged, "1");
    assertEquals(out.search_subject, "3");
    assertEquals(out.create, "OK");
    assertMatch(out.copy, /^\[COPYUID \d+ 1:2 1:2\] COPY completed$/);
    assertMatch(out.append, /^\[APPENDUID \d+ 4\] APPEND completed$/);
    assertEquals(out.status, '"Archive/2026" (MESSAGES 2 UIDNEXT 3 UNSEEN 1)');
    assertEquals(out.move, "OK");
    // imaplib collects untagged EXPUNGEs across commands: UID MOVE's "* 3 EXPUNGE", then "* 1".
    assertEquals(out.expunge, ["3", "1"]);
    assertEquals(out.reselect, "2");
    assertEquals(out.uids, "2 4");
    assertEquals([out.rename, out.delete, out.missing], ["OK", "OK", "NO"]);
  });
});

Deno.test("IMAP: imaplib's other commands (AUTHENTICATE, NAMESPACE, ENABLE, LSUB, EXAMINE, SORT, THREAD, QUOTA, UID …)", async () => {
  await withServer(async (server) => {
    await setup(server);
    const script = `
import imaplib, ssl, sys, json, base64
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = imaplib.IMAP4_SSL("localhost", int(sys.argv[1]), ssl_context=ctx)
out = {}
out["auth"] = m.authenticate("PLAIN", lambda _: b"\\0${USER}\\0${PASSWORD}")[0]
out["caps"] = m.capability()[1][0].decode().split()
out["noop"] = m.noop()[0]
out["namespace"] = m.namespace()[1][0].decode()
out["enable"] = m.enable("CONDSTORE")[0]
out["subscribe"] = m.subscribe("Archive")[0]
out["lsub"] = [x.decode() for x in m.lsub('""', "*")[1]]
out["unsubscribe"] = m.unsubscribe("Archive")[0]
out["examine"] = m.select("INBOX", readonly=True)[0]
out["store_readonly"] = m.store("1", "+FLAGS", "(\\\\Seen)")[0]
out["check"] = m.check()[0]
out["sort"] = m.sort("(REVERSE SUBJECT)", "UTF-8", "ALL")[1][0].decode()
out["thread"] = m.thread("REFERENCES", "UTF-8", "ALL")[1][0].decode()
out["quotaroot"] = [x.decode() if isinstance(x, bytes) else str(x) for x in m.getquotaroot("INBOX")[1][0]]
out["unselect"] = m.unselect()[0]
out["select"] = m.select("INBOX")[1][0].decode()
out["uid_store"] = m.uid("STORE", "2", "+FLAGS.SILENT", "(\\\\Deleted)")[0]
out["uid_copy"] = m.uid("COPY", "1:3", "Archive")[0]
out["uid_fetch"] = m.uid("FETCH", "3", "(BODY.PEEK[]<0.8> INTERNALDATE)")[1][0][0].decode()
out["uid_expunge"] = [m.uid("EXPUNGE", "2")[0], m.response("EXPUNGE")[1][0].decode()]
out["append_dated"] = m.append("Archive", None, '"01-Feb-2026 10:00:00 +0000"', b"Subject: dated\\r\\n\\r\\nx\\r\\n")[0]
out["status"] = m.status("Archive", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ)")[1][0].decode()
out["search_charset"] = m.search("UTF-8", "SUBJECT", "third")[1][0].decode()
out["id"] = m.xatom("ID", '("name" "imaplib")')[0]
out["close"] = m.close()[0]
out["after_close"] = m.select("Archive")[1][0].decode()
out["since"] = m.search(None, "SENTBEFORE", "1-Jan-2000")[1][0].decode()
m.logout()
print(json.dumps(out))
`;
    const output = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", script, String(server.ports.imaps), `${server.dir}/data/tls/self-signed.crt`],
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 0, stderr);
    const out = JSON.parse(new TextDecoder().decode(output.stdout));
    for (const cap of ["IDLE", "REPLACE", "WITHIN", "QRESYNC", "SORT", "THREAD=REFERENCES"]) {
      assert(out.caps.includes(cap), `${cap} in ${out.caps}`);
    }
    assertEquals([out.auth, out.noop, out.enable, out.check], ["OK", "OK", "OK", "OK"]);
    assertEquals(out.namespace, '(("" "/")) NIL NIL');
    assertEquals([out.subscribe, out.unsubscribe], ["OK", "OK"]);
    assert(out.lsub.includes('(\\Archive) "/" "Archive"'), out.lsub.join("\n"));
    assertEquals([out.examine, out.store_readonly], ["OK", "NO"]);
    assertEquals(out.sort, "3 2 1"); // third, second, first
    assertEquals(out.thread, "(1)(2)(3)");
    assertEquals(out.quotaroot, ['"INBOX"']); // no quota: no root
    assertEquals(out.unselect, "OK");
    assertEquals(out.select, "3");
    assertEquals(out.uid_store, "OK");
    assertEquals(out.uid_copy, "OK");
    assertMatch(
      out.uid_fetch,
      /^3 \(UID 3 BODY\[\]<0> \{8\}$|^3 \(UID 3 INTERNALDATE "[^"]+" BODY\[\]<0> \{8\}$/,
    );
    assertEquals(out.uid_expunge, ["OK", "2"]);
    assertEquals(out.append_dated, "OK");
    assertMatch(
      out.status,
      /^"?Archive"? \(MESSAGES 4 UIDNEXT 5 UIDVALIDITY \d+ UNSEEN 4 SIZE \d+ HIGHESTMODSEQ \d+\)$/,
    );
    assertEquals(out.search_charset, "2");
    assertEquals([out.id, out.close], ["OK", "OK"]);
    assertEquals(out.after_close, "4");
    assertEquals(out.since, "");
  });
});

Deno.test("IMAP 143: LOGINDISABLED before STARTTLS, injection discarded, SASL-IR after", async () => {
  await withServer(async (server) => {
    await setup(server);
    const client = await LineClient.connect(server.ports.imap);
    const greeting = (await client.readLine())!;
    assertMatch(greeting, /^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED /);
    assertEquals(
      (await command(client, "a1", `LOGIN ${USER} ${PASSWORD}`)).at(-1),
      "a1 NO [PRIVACYREQUIRED] Use STARTTLS first: login over plaintext is disabled",
    );
    // A command pipelined with STARTTLS must not run after the upgrade.
    await client.write("a2 STARTTLS\r\na3 LOGIN alice@example.com pw-alice\r\n");
    assertEquals(await client.readLine(), "a2 OK Begin TLS negotiation now");
    await client.startTls(await ca(server));
    const caps = await command(client, "a4", "CAPABILITY");
    assertMatch(caps[0], /^\* CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN SASL-IR /);
    assert(!caps.join("\n").includes("a3 "), caps.join("\n"));
    const token = btoa(`\0${USER}\0${PASSWORD}`);
    assertMatch((await command(client, "a5", `AUTHENTICATE PLAIN ${token}`)).at(-1)!, /^a5 OK /);
    const selected = await command(client, "a6", "SELECT INBOX");
    assertMatch(selected.at(-1)!, /^a6 OK \[READ-WRITE\]/);
    assert(selected.some((l) => /^\* OK \[MAILBOXID \(B\d+\)\]/.test(l)), selected.join("\n"));
    assertMatch(
      (await command(client, "a7", "CREATE Projects")).at(-1)!,
      /^a7 OK \[MAILBOXID \(B\d+\)\]/,
    );
    assertEquals(await command(client, "a8", "UNAUTHENTICATE"), ["a8 OK UNAUTHENTICATE completed"]);
    assertEquals((await command(client, "a9", "SELECT INBOX")).at(-1), "a9 BAD Log in first");
    await client.close();
  });
});

Deno.test("IMAP: bad credentials, wrong state, bad syntax and literal limits", async () => {
  await withServer(async (server) => {
    await setup(server);
    const client = await LineClient.connect(server.ports.imaps, {
      implicitTls: { ca: await ca(server) },
    });
    await client.readLine();
    assertEquals(
      (await command(client, "b1", `LOGIN ${USER} wrong`)).at(-1),
      "b1 NO [AUTHENTICATIONFAILED] Invalid credentials",
    );
    assertEquals((await command(client, "b2", "SELECT INBOX")).at(-1), "b2 BAD Log in first");
    // Before login only small literals are taken: a big one is refused before it is sent.
    await client.write("b2a LOGIN {100000}\r\n");
    assertMatch((await client.readLine())!, /^b2a NO \[TOOBIG\]/);
    await command(client, "b3", `LOGIN ${USER} ${PASSWORD}`);
    assertMatch((await command(client, "b4", "FROB")).at(-1)!, /^b4 BAD /);
    assertEquals(
      (await command(client, "b5", "FETCH 1 FLAGS")).at(-1),
      "b5 BAD Select a mailbox first",
    );
    await command(client, "b6", "SELECT INBOX");
    assertEquals(
      (await command(client, "b7", "FETCH 9 FLAGS")).at(-1),
      "b7 BAD Message number out of range",
    );
    assertMatch((await command(client, "b8", "SELECT Nowhere")).at(-1)!, /^b8 NO \[NONEXISTENT\]/);
    // A synchronizing literal over the limit is refused before the client sends it.
    await client.write("b9 APPEND INBOX {5000}\r\n");
    assertMatch((await client.readLine())!, /^b9 NO \[TOOBIG\]/);
    // LITERAL+ within the limit: no continuation, stored at once.
    const message = "Subject: literal\r\n\r\nbody\r\n";
    await client.write(`c1 APPEND INBOX (\\Seen) {${message.length}+}\r\n${message}\r\n`);
    assertMatch(
      (await client.readUntil((l) => l.startsWith("c1 "))).at(-1)!,
      /^c1 OK \[APPENDUID \d+ 4\]/,
    );
    assertMatch(
      (await command(client, "c2", "APPEND Nowhere {1+}\r\nx")).at(-1)!,
      /^c2 NO \[TRYCREATE\]/,
    );
    await client.close();
  }, { limits: { max_message_size: "1K" } });
});

Deno.test("IMAP: two sessions see each other's changes; IDLE wakes on delivery and on POP3 DELE", async () => {
  await withServer(async (server) => {
    await setup(server);
    const a = await session(server);
    const b = await session(server);
    await command(a, "s1", "SELECT INBOX");
    await command(b, "t1", "SELECT INBOX");

    await a.write("s2 IDLE\r\n");
    assertEquals(await a.readLine(), "+ idling");
    await deliver(server, "fourth");
    assertEquals(await a.readLine(3000), "* 4 EXISTS");
    await a.write("DONE\r\n");
    assertEquals(await a.readLine(), "s2 OK IDLE terminated");

    // b flags a message: a hears of it at its next command, b is not echoed.
    const stored = await command(b, "t2", "STORE 2 +FLAGS.SILENT (\\Flagged)");
    assertEquals(stored, ["* 4 EXISTS", "t2 OK STORE completed"]);
    const modseq = await command(b, "t2a", "SEARCH MODSEQ 2 FLAGGED");
    assertMatch(modseq[0], /^\* SEARCH 2 \(MODSEQ \d+\)$/);
    const noop = await command(a, "s3", "NOOP");
    assertEquals(noop, ["* 2 FETCH (UID 2 FLAGS (\\Flagged))", "s3 OK NOOP completed"]);

    // b expunges message 1: a does not hear of it during FETCH, then does at NOOP.
    await command(b, "t3", "STORE 1 +FLAGS.SILENT (\\Deleted)");
    assertEquals(await command(b, "t4", "EXPUNGE"), ["* 1 EXPUNGE", "t4 OK EXPUNGE completed"]);
    const fetch = await command(a, "s4", "FETCH 1 (UID)");
    assertEquals(fetch.at(-1), "s4 OK FETCH completed");
    assert(!fetch.some((l) => l.includes("EXPUNGE")), fetch.join("\n"));
    assertEquals(await command(a, "s5", "NOOP"), ["* 1 EXPUNGE", "s5 OK NOOP completed"]);
    assertEquals(await command(a, "s6", "FETCH 1 (UID)"), [
      "* 1 FETCH (UID 2)",
      "s6 OK FETCH completed",
    ]);

    // POP3 deletes the first message (UID 2): a IMAP session idling hears the expunge.
    await a.write("s7 IDLE\r\n");
    assertEquals(await a.readLine(), "+ idling");
    const pop = await LineClient.connect(server.ports.pop3s, {
      implicitTls: { ca: await ca(server) },
    });
    assertMatch((await pop.readLine())!, /^\+OK/);
    for (const line of [`USER ${USER}`, `PASS ${PASSWORD}`, "DELE 1", "QUIT"]) {
      await pop.write(`${line}\r\n`);
      assertMatch((await pop.readLine())!, /^\+OK/);
    }
    await pop.close();
    assertEquals(await a.readLine(3000), "* 1 EXPUNGE");
    await a.write("DONE\r\n");
    assertEquals(await a.readLine(), "s7 OK IDLE terminated");
    assertEquals(await command(b, "t5", "UID SEARCH ALL"), [
      "* 1 EXPUNGE",
      "* SEARCH 3 4",
      "t5 OK UID SEARCH completed",
    ]);
    await a.close();
    await b.close();
  });
});

Deno.test("IMAP: QRESYNC resync on SELECT and UID FETCH VANISHED (RFC 7162)", async () => {
  await withServer(async (server) => {
    await setup(server);
    const a = await session(server);
    await command(a, "q1", "ENABLE QRESYNC");
    const selected = await command(a, "q2", "SELECT INBOX");
    const uidValidity = /UIDVALIDITY (\d+)/.exec(selected.join("\n"))![1];
    const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(selected.join("\n"))![1]);
    await command(a, "q3", "STORE 2 +FLAGS.SILENT (\\Seen)");
    await command(a, "q4", "STORE 1 +FLAGS.SILENT (\\Deleted)");
    assertEquals(await command(a, "q5", "EXPUNGE"), ["* VANISHED 1", "q5 OK EXPUNGE completed"]);
    await command(a, "q6", "UNSELECT");

    const resync = await command(a, "q7", `SELECT INBOX (QRESYNC (${uidValidity} ${modseq} 1:3))`);
    assert(resync.includes("* VANISHED (EARLIER) 1"), resync.join("\n"));
    assert(
      resync.some((l) => /^\* 1 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/.test(l)),
      resync.join("\n"),
    );
    assert(!resync.some((l) => l.includes("UID 3 ")), "UID 3 did not change");
    const fetched = await command(
      a,
      "q8",
      `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`,
    );
    assertEquals(fetched[0], "* VANISHED (EARLIER) 1");
    assertMatch(fetched[1], /^\* 1 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/);
    await a.close();
  });
});

Deno.test("IMAP: ENVELOPE, BODYSTRUCTURE and BINARY of a stored message", async () => {
  await withServer(async (server) => {
    await setup(server);
    const client = await session(server);
    await command(client, "e1", "SELECT INBOX");
    const lines = await command(client, "e2", "FETCH 1 (ENVELOPE BODYSTRUCTURE BINARY.SIZE[1])");
    assertEquals(lines.length, 2, lines.join("\n"));
    assertMatch(
      lines[0],
      /^\* 1 FETCH \(ENVELOPE \(NIL "first" \(\("Bob" NIL "bob" "example\.org"\)\) \(\("Bob" NIL "bob" "example\.org"\)\) \(\("Bob" NIL "bob" "example\.org"\)\) \(\(NIL NIL "alice" "example\.com"\)\) NIL NIL NIL NIL\) BODYSTRUCTURE \("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" 23 1 NIL NIL NIL NIL\) BINARY\.SIZE\[1\] 23\)$/,
    );
    assertEquals(lines[1], "e2 OK FETCH completed");
    await client.close();
  });
});

Deno.test("IMAP: ENVELOPE and BODYSTRUCTURE kept at delivery equal those worked out at FETCH", async () => {
  await withServer(async (server) => {
    await cliAll(server, [["account", "add", USER, "--password", PASSWORD]]);
    // Raw UTF-8 in the header (8-bit octets on the wire) and a multipart with parameters.
    const message = [
      "From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>",
      `To: ${USER}, "Zoë" <zoe@example.net>`,
      "Subject: Grüße aus Köln",
      "Message-ID: <m1@example.org>",
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b1"',
      "",
      "--b1",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      "Hallo, schöne Grüße.",
      "--b1",
      'Content-Type: application/pdf; name="a.pdf"',
      "Content-Disposition: attachment; filename=a.pdf",
      "Content-Transfer-Encoding: base64",
      "",
      "JVBERi0xLjQK",
      "--b1--",
      "",
    ].join("\r\n");
    const result = await cli(server.configPath, ["deliver", USER], message);
    assertEquals(result.code, 0, result.stderr);
    const client = await session(server);
    await command(client, "k1", "SELECT INBOX");
    // 8-bit header text goes as a literal, as Dovecot sends it.
    const kept = (await command(client, "k2", "FETCH 1 (ENVELOPE BODYSTRUCTURE)")).join("\r\n");
    assertMatch(kept, /^\* 1 FETCH \(ENVELOPE \(NIL \{17\}\r\nGrüße aus Köln \(\("=\?utf-8/);
    assertMatch(
      kept,
      /\(\{4\}\r\nZoë NIL "zoe" "example\.net"\)\) NIL NIL NIL "<m1@example\.org>"\)/,
    );
    assertMatch(
      kept,
      / BODYSTRUCTURE \(\("text" "plain" \("charset" "utf-8"\) NIL NIL "8bit" 23 0 /,
    );
    assertMatch(kept, /"mixed" \("boundary" "b1"\) NIL NIL NIL\)\)\r\nk2 OK FETCH completed$/);
    // An email stored before delivery kept them: FETCH works them out from the message.
    const db = new DatabaseSync(`${server.dir}/data/postern.db`);
    try {
      db.exec("UPDATE emails SET imap_envelope = NULL, imap_bodystructure = NULL");
    } finally {
      db.close();
    }
    const computed = (await command(client, "k3", "FETCH 1 (ENVELOPE BODYSTRUCTURE)"))
      .join("\r\n");
    assertEquals(computed, kept.replace(/k2 OK/, "k3 OK"));
    await client.close();
  });
});

Deno.test("IMAP: SORT, SORT=DISPLAY and ESORT (RFC 5256, 5957, 5267)", async () => {
  await withServer(async (server) => {
    await setup(server);
    await cli(
      server.configPath,
      ["deliver", USER],
      "From: Zed <aaron@example.org>\r\nSubject: Re: [list] Apple\r\n\r\nx\r\n",
    );
    const client = await session(server);
    await command(client, "o1", "SELECT INBOX");
    assertEquals(
      await command(client, "o2", "SORT (SUBJECT) UTF-8 ALL"),
      ["* SORT 4 1 2 3", "o2 OK SORT completed"],
    );
    assertEquals(
      (await command(client, "o3", "SORT (REVERSE SUBJECT) UTF-8 NOT SUBJECT apple"))[0],
      "* SORT 3 2 1",
    );
    assertEquals((await command(client, "o4", "SORT (FROM) UTF-8 ALL"))[0], "* SORT 4 1 2 3");
    assertEquals(
      (await command(client, "o5", "SORT (DISPLAYFROM) UTF-8 ALL"))[0],
      "* SORT 1 2 3 4",
    );
    assertEquals(
      (await command(client, "o6", "UID SORT RETURN (COUNT ALL) (REVERSE ARRIVAL) UTF-8 ALL"))[0],
      '* ESEARCH (TAG "o6") UID ALL 4,3,2,1 COUNT 4',
    );
    await cli(
      server.configPath,
      ["deliver", USER],
      "From: a@example.org\r\nSubject: Re: first\r\n\r\nx\r\n",
    );
    await cli(
      server.configPath,
      ["deliver", USER],
      "From: a@example.org\r\nSubject: Fwd: first\r\n\r\nx\r\n",
    );
    // ORDEREDSUBJECT: "first" with its two replies, the others alone (all sent at once here,
    // so the sent dates tie and sequence numbers decide).
    const threads = await command(client, "o8", "THREAD ORDEREDSUBJECT UTF-8 ALL");
    assertEquals(threads, [
      "* 6 EXISTS",
      "* THREAD (1 (5)(6))(2)(3)(4)",
      "o8 OK THREAD completed",
    ]);
    assertMatch(
      (await command(client, "o7", "SORT (SUBJECT) KOI8-R ALL")).at(-1)!,
      /^o7 (NO|BAD) \[BADCHARSET/,
    );
    await client.close();
  });
});

Deno.test("IMAP: LIST-EXTENDED and LIST-STATUS (RFC 5258, 5819)", async () => {
  await withServer(async (server) => {
    await setup(server);
    const client = await session(server);
    await command(client, "l1", "CREATE Lists/Dev");
    await command(client, "l2", "UNSUBSCRIBE Lists");
    const sub = await command(client, "l3", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Lists*"');
    assertEquals(sub, [
      '* LIST (\\HasChildren) "/" "Lists" ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/Dev"',
      "l3 OK LIST completed",
    ]);
    assertMatch(
      (await command(client, "l4", 'LIST (RECURSIVEMATCH) "" "*"')).at(-1)!,
      /^l4 BAD /,
    );
    const special = await command(client, "l5", 'LIST (SPECIAL-USE) "" "*"');
    assertEquals(special.length, 6, special.join("\n")); // Drafts Sent Junk Trash Archive + OK
    const status = await command(client, "l6", 'LIST "" "INBOX" RETURN (STATUS (MESSAGES UNSEEN))');
    assertEquals(status, [
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* STATUS "INBOX" (MESSAGES 3 UNSEEN 3)',
      "l6 OK LIST completed",
    ]);
    await client.close();
  });
});

Deno.test("IMAP: QUOTA (RFC 9208) and PREVIEW (RFC 8970)", async () => {
  await withServer(async (server) => {
    await setup(server);
    await cliAll(server, [[
      "account",
      "add",
      "carol@example.com",
      "--password",
      "pw",
      "--quota",
      "10K",
    ]]);
    await cli(
      server.configPath,
      ["deliver", "carol@example.com"],
      "Subject: hi\r\n\r\n" + "x".repeat(2000) + "\r\n",
    );
    const alice = await session(server);
    assertEquals(await command(alice, "u1", "GETQUOTAROOT INBOX"), [
      '* QUOTAROOT "INBOX"',
      "u1 OK GETQUOTAROOT completed",
    ]);
    assertMatch((await command(alice, "u2", 'GETQUOTA ""')).at(-1)!, /^u2 NO \[NONEXISTENT\]/);
    assertMatch((await command(alice, "u3", 'SETQUOTA "" (STORAGE 1)')).at(-1)!, /^u3 NO /);
    await command(alice, "u4", "SELECT INBOX");
    assertEquals(
      (await command(alice, "u5", "FETCH 1 (PREVIEW)"))[0],
      '* 1 FETCH (PREVIEW "Body of first, zebra.")',
    );
    await alice.close();

    const carol = await LineClient.connect(server.ports.imaps, {
      implicitTls: { ca: await ca(server) },
    });
    await carol.readLine();
    await command(carol, "c0", "LOGIN carol@example.com pw");
    assertEquals(await command(carol, "c1", "GETQUOTAROOT INBOX"), [
      '* QUOTAROOT "INBOX" ""',
      '* QUOTA "" (STORAGE 2 10)',
      "c1 OK GETQUOTAROOT completed",
    ]);
    await carol.close();
  });
});

Deno.test("IMAP: MULTIAPPEND stores all messages or none (RFC 3502)", async () => {
  await withServer(async (server) => {
    await setup(server);
    await cliAll(server, [[
      "account",
      "add",
      "dave@example.com",
      "--password",
      "pw",
      "--quota",
      "1K",
    ]]);
    const client = await LineClient.connect(server.ports.imaps, {
      implicitTls: { ca: await ca(server) },
    });
    await client.readLine();
    await command(client, "m0", "LOGIN dave@example.com pw");
    const small = "Subject: a\r\n\r\nb\r\n";
    const big = `Subject: big\r\n\r\n${"y".repeat(980)}\r\n`;
    const ok = await command(
      client,
      "m1",
      `APPEND INBOX (\\Seen) {${small.length}+}\r\n${small} {${small.length}+}\r\n${small}`,
    );
    assertMatch(ok.at(-1)!, /^m1 OK \[APPENDUID \d+ 1:2\]/);
    // The second message goes over the quota: neither is kept.
    const refused = await command(
      client,
      "m2",
      `APPEND INBOX {${small.length}+}\r\n${small} {${big.length}+}\r\n${big}`,
    );
    assertMatch(refused.at(-1)!, /^m2 NO \[OVERQUOTA\]/);
    const status = await command(client, "m3", "STATUS INBOX (MESSAGES UIDNEXT)");
    assertEquals(status[0], '* STATUS "INBOX" (MESSAGES 2 UIDNEXT 4)');
    await client.close();
  });
});

Deno.test("IMAP: sessions per account are limited (NO [LIMIT]); a slot frees at logout", async () => {
  await withServer(async (server) => {
    await setup(server);
    const first = await session(server);
    const second = await session(server);
    const third = await LineClient.connect(server.ports.imaps, {
      implicitTls: { ca: await ca(server) },
    });
    await third.readLine();
    assertMatch(
      (await command(third, "x1", `LOGIN ${USER} ${PASSWORD}`)).at(-1)!,
      /^x1 NO \[LIMIT\] Too many sessions/,
    );
    await command(first, "x2", "LOGOUT");
    await first.close();
    assertMatch((await command(third, "x3", `LOGIN ${USER} ${PASSWORD}`)).at(-1)!, /^x3 OK /);
    await second.close();
    await third.close();
  }, { extra: "[imap]\nmax_connections_per_user = 2\n" });
});

Deno.test("IMAP4rev2 after ENABLE: ESEARCH for SEARCH, LIST in SELECT, UTF-8 names, [CLOSED]", async () => {
  await withServer(async (server) => {
    await setup(server);
    const client = await session(server);
    assertEquals(await command(client, "r1", "ENABLE IMAP4rev2"), [
      "* ENABLED IMAP4rev2",
      "r1 OK ENABLE completed",
    ]);
    const selected = await command(client, "r2", "SELECT INBOX");
    assert(selected.includes('* LIST () "/" "INBOX"'), selected.join("\n"));
    assert(!selected.some((l) => l.includes("RECENT")), selected.join("\n"));
    assertEquals((await command(client, "r3", "SEARCH ALL"))[0], '* ESEARCH (TAG "r3") ALL 1:3');
    assertEquals(
      (await command(client, "r4", "UID SEARCH SUBJECT second"))[0],
      '* ESEARCH (TAG "r4") UID ALL 2',
    );
    assertMatch((await command(client, "r5", 'CREATE "Entwürfe"')).at(-1)!, /^r5 OK /);
    const listed = await command(client, "r6", 'LIST "" "Entw*"');
    assertEquals(listed[0], '* LIST (\\HasNoChildren) "/" "Entwürfe"');
    const reselect = await command(client, "r7", 'SELECT "Entwürfe"');
    assertEquals(reselect[0], "* OK [CLOSED] Previous mailbox closed");
    await client.close();
  });
});

Deno.test("IMAP: judging mail (Junk moves, $Junk/$NotJunk) emits spam-training events", async () => {
  await withServer(async (server) => {
    await setup(server);
    const client = await session(server);
    await command(client, "j1", "SELECT INBOX");
    await command(client, "j2", "MOVE 1 Junk");
    await command(client, "j3", "STORE 1 +FLAGS.SILENT ($Junk)");
    await command(client, "j4", "STORE 2 +FLAGS.SILENT ($NotJunk)");
    await command(client, "j5", "SELECT Junk");
    await command(client, "j6", "MOVE 1 INBOX");
    await client.close();
    const events = server.logs.filter((l) => l.includes('"msg":"spam training"'))
      .map((l) => JSON.parse(l)).map((e) => [e.spam, e.ham]);
    assertEquals(events, [[1, 0], [1, 0], [0, 1], [0, 1]]);
  });
});

Deno.test("IMAP: COMPRESS=DEFLATE (RFC 4978) both ways", async () => {
  await withServer(async (server) => {
    await setup(server);
    const ca = await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
    const { default: tls } = await import("node:tls");
    const { default: zlib } = await import("node:zlib");
    const socket = tls.connect({
      host: "127.0.0.1",
      port: server.ports.imaps,
      ca,
      servername: "localhost",
    });
    let plain = "";
    let compressed = false;
    const inflate = zlib.createInflateRaw();
    const deflate = zlib.createDeflateRaw();
    inflate.on("data", (chunk: Uint8Array) => plain += new TextDecoder().decode(chunk));
    deflate.on("data", (chunk: Uint8Array) => socket.write(chunk));
    socket.on("data", (chunk: Uint8Array) => {
      if (compressed) inflate.write(chunk);
      else plain += new TextDecoder().decode(chunk);
    });
    const waitFor = async (pattern: RegExp) => {
      for (let i = 0; i < 500 && !pattern.test(plain); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assertMatch(plain, pattern);
    };
    await waitFor(/^\* OK /);
    socket.write(`z1 LOGIN ${USER} ${PASSWORD}\r\nz2 COMPRESS DEFLATE\r\n`);
    await waitFor(/z2 OK DEFLATE active\r\n/);
    compressed = true;
    const send = (text: string) => {
      deflate.write(text);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    };
    send("z3 SELECT INBOX\r\n");
    await waitFor(/z3 OK \[READ-WRITE\]/);
    send("z4 FETCH 1 (BODY.PEEK[TEXT])\r\n");
    await waitFor(/z4 OK FETCH completed/);
    assertMatch(plain, /BODY\[TEXT\] \{23\}\r\nBody of first, zebra\.\r\n\)/);
    send("z5 COMPRESS DEFLATE\r\n");
    await waitFor(/z5 NO \[COMPRESSIONACTIVE\]/);
    socket.destroy();
  });
});

Deno.test("IMAP: [imap] max_nesting_depth and max_search_keys bound a SEARCH", async () => {
  await withServer(async (server) => {
    await setup(server);
    const client = await session(server);
    await command(client, "n1", "SELECT INBOX");
    assertEquals(await command(client, "n2", "SEARCH ((OR SEEN UNSEEN))"), [
      "* SEARCH 1 2 3",
      "n2 OK SEARCH completed",
    ]);
    const deep = await command(client, "n3", "SEARCH ((((ALL))))");
    assertMatch(deep.at(-1)!, /^n3 BAD .*nested deeper than 3/);
    const many = await command(client, "n4", `SEARCH ${Array(13).fill("ALL").join(" ")}`);
    assertMatch(many.at(-1)!, /^n4 BAD /);
    // The session goes on.
    assertEquals((await command(client, "n5", "NOOP")).at(-1), "n5 OK NOOP completed");
    await client.close();
  }, {
    extra: "[imap]\nmax_nesting_depth = 3\nmax_search_keys = 12",
  });
});

Deno.test("IMAP: REPLACE and UID REPLACE (RFC 8508); WITHIN's YOUNGER and OLDER (RFC 5032)", async () => {
  await withServer(async (server) => {
    await setup(server);
    const client = await session(server);
    const caps = await command(client, "r0", "CAPABILITY");
    assertMatch(caps[0], / REPLACE( |$)/);
    assertMatch(caps[0], / WITHIN( |$)/);
    await command(client, "r1", "SELECT INBOX");
    const draft = (n: number) => `Subject: draft ${n}\r\n\r\nversion ${n}\r\n`;

    // In place: the new message is appended, then message 2 goes.
    await client.write(`r2 REPLACE 2 INBOX (\\Seen) {${draft(1).length}+}\r\n${draft(1)}\r\n`);
    const inPlace = await client.readUntil((l) => l.startsWith("r2 "));
    assertMatch(inPlace[0], /^\* OK \[APPENDUID \d+ 4\] /);
    assertEquals(inPlace.slice(1), ["* 2 EXPUNGE", "* 3 EXISTS", "r2 OK REPLACE completed"]);
    assertEquals(await command(client, "r3", "UID FETCH 1:* (FLAGS)"), [
      "* 1 FETCH (UID 1 FLAGS ())",
      "* 2 FETCH (UID 3 FLAGS ())",
      "* 3 FETCH (UID 4 FLAGS (\\Seen))",
      "r3 OK UID FETCH completed",
    ]);

    // Into Drafts by UID: APPENDUID names Drafts' UIDVALIDITY.
    const drafts = await command(client, "r4", "STATUS Drafts (UIDVALIDITY)");
    const validity = drafts[0].match(/UIDVALIDITY (\d+)/)![1];
    await client.write(`r5 UID REPLACE 4 Drafts {${draft(2).length}+}\r\n${draft(2)}\r\n`);
    assertEquals(await client.readUntil((l) => l.startsWith("r5 ")), [
      `* OK [APPENDUID ${validity} 1] Replacement message ready`,
      "* 3 EXPUNGE",
      "r5 OK UID REPLACE completed",
    ]);

    // Failures leave the message where it was.
    await client.write(`r6 UID REPLACE 99 Drafts {${draft(3).length}+}\r\n${draft(3)}\r\n`);
    assertMatch((await client.readUntil((l) => l.startsWith("r6 "))).at(-1)!, /^r6 NO /);
    await client.write(`r7 REPLACE 9 Drafts {${draft(3).length}+}\r\n${draft(3)}\r\n`);
    assertMatch((await client.readUntil((l) => l.startsWith("r7 "))).at(-1)!, /^r7 BAD /);
    await client.write(`r8 REPLACE 1 Nowhere {${draft(3).length}+}\r\n${draft(3)}\r\n`);
    assertMatch(
      (await client.readUntil((l) => l.startsWith("r8 "))).at(-1)!,
      /^r8 NO \[TRYCREATE\]/,
    );
    assertEquals((await command(client, "r9", "SEARCH ALL"))[0], "* SEARCH 1 2");
    await command(client, "r10", "EXAMINE INBOX");
    await client.write(`r11 REPLACE 1 INBOX {${draft(3).length}+}\r\n${draft(3)}\r\n`);
    assertMatch(
      (await client.readUntil((l) => l.startsWith("r11 "))).at(-1)!,
      /^r11 NO \[READ-ONLY\]/,
    );

    // WITHIN: everything arrived in the last hour, nothing before it.
    assertEquals((await command(client, "w1", "SEARCH YOUNGER 3600"))[0], "* SEARCH 1 2");
    assertEquals((await command(client, "w2", "SEARCH OLDER 3600"))[0], "* SEARCH");
    await client.close();
  });
});

Deno.test("IMAP: a selected mailbox deleted by another session ends the session with BYE", async () => {
  await withServer(async (server) => {
    await setup(server);
    const a = await session(server);
    const b = await session(server);
    const c = await session(server);
    await command(b, "b1", "CREATE Work");
    await command(b, "b2", "COPY 1:2 Work");
    await command(a, "a1", "SELECT Work");
    await command(c, "c1", "SELECT Work");
    await c.write("c2 IDLE\r\n");
    assertEquals(await c.readLine(), "+ idling");
    assertEquals((await command(b, "b3", "DELETE Work")).at(-1), "b3 OK DELETE completed");
    // In IDLE: told at once. Otherwise: at the next command, instead of its answer.
    assertEquals(await c.readLine(3000), "* BYE Selected mailbox was deleted, have to disconnect");
    assert(await c.waitClosed());
    await a.write("a2 FETCH 1 (FLAGS)\r\n");
    assertEquals(await a.readLine(), "* BYE Selected mailbox was deleted, have to disconnect");
    assert(await a.waitClosed());
    // Nothing was logged as a server bug, and other sessions go on.
    assert(!server.logs.some((line) => line.includes("command failed")), server.logs.join("\n"));
    assertEquals((await command(b, "b4", "NOOP")).at(-1), "b4 OK NOOP completed");
    await b.close();
  });
});
