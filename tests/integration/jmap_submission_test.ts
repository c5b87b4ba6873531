/**
 * Identity and EmailSubmission (RFC 8621 6, 7) on the real server: a draft made with Email/set
 * is sent through the outbound queue to a scripted SMTP peer standing in for the recipients' MX
 * (test DNS), DKIM-signed and without its Bcc field, then moved to Sent by the implicit Email/set.
 */
// deno-lint-ignore-file no-explicit-any -- JSON from the server, checked by each test
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { type SmtpPeer, startRemoteDomain } from "../helpers/smtp_peer.ts";
import { jmapClient, type JmapTestClient, USING } from "../helpers/jmap.ts";
import { cliAll } from "../helpers/mail.ts";
import { eventually } from "../helpers/tls.ts";

const SUBMISSION_USING = [...USING, "urn:ietf:params:jmap:submission"];

async function withSubmissionServer(
  work: (server: TestServer, peer: SmtpPeer, client: JmapTestClient) => Promise<void>,
): Promise<void> {
  const { peer, dns, serverOptions } = await startRemoteDomain();
  const server = await startServer(serverOptions);
  try {
    await work(server, peer, await jmapClient(server));
  } finally {
    await server.stop();
    await dns.close();
    await peer.close();
  }
}

async function call(client: JmapTestClient, calls: [string, Record<string, unknown>, string][]) {
  return await client.call(
    calls.map(([name, args, id]) => [name, { accountId: client.accountId, ...args }, id]),
    SUBMISSION_USING,
  );
}

async function roles(client: JmapTestClient): Promise<Record<string, string>> {
  const [[, mailboxes]] = await call(client, [["Mailbox/get", { ids: null }, "0"]]);
  return Object.fromEntries(mailboxes.list.map((m: any) => [m.role, m.id]));
}

async function defaultIdentity(client: JmapTestClient): Promise<any> {
  const [[, identities]] = await call(client, [["Identity/get", { ids: null }, "0"]]);
  assertEquals(identities.list.length, 1);
  return identities.list[0];
}

/** Creates a draft and returns its id. */
async function draft(client: JmapTestClient, fields: Record<string, unknown>): Promise<string> {
  const mailboxes = await roles(client);
  const [[, result]] = await call(client, [["Email/set", {
    create: {
      d: {
        mailboxIds: { [mailboxes.drafts]: true },
        keywords: { $draft: true },
        subject: "Draft",
        textBody: [{ partId: "t", type: "text/plain" }],
        bodyValues: { t: { value: "Body text." } },
        ...fields,
      },
    },
  }, "0"]]);
  assert(result.created?.d, JSON.stringify(result));
  return result.created.d.id;
}

Deno.test("jmap submission: Identity default, create for an alias, forbiddenFrom, update", async () => {
  await withSubmissionServer(async (server, _peer, client) => {
    const me = server.admin!.address;
    const session = await (await client.fetch("/jmap/session")).json();
    assertEquals(
      session.accounts[client.accountId].accountCapabilities["urn:ietf:params:jmap:submission"],
      { maxDelayedSend: 0, submissionExtensions: {} },
    );
    const first = await defaultIdentity(client);
    assertEquals(first.email, me);
    assertEquals(first.mayDelete, true);
    const state = (await call(client, [["Identity/get", { ids: [] }, "0"]]))[0][1].state;

    await cliAll(server, [["alias", "add", "sales@example.com", me]]);
    const [[, created]] = await call(client, [["Identity/set", {
      create: {
        alias: { email: "sales@example.com", name: "Sales" },
        stranger: { email: "someone@remote.test" },
      },
    }, "0"]]);
    assertEquals(created.created.alias.mayDelete, true);
    assertEquals(created.notCreated.stranger.type, "forbiddenFrom");

    const id = created.created.alias.id;
    const [[, updated]] = await call(client, [["Identity/set", {
      update: {
        [id]: { name: "Sales team", replyTo: [{ name: null, email: "desk@example.com" }] },
        [first.id]: { email: "other@example.com" },
      },
    }, "0"]]);
    assertEquals(updated.updated, { [id]: null });
    assertEquals(updated.notUpdated[first.id].type, "invalidProperties");
    const [[, got]] = await call(client, [["Identity/get", {
      ids: [id],
      properties: ["name", "email", "replyTo"],
    }, "0"]]);
    assertEquals(got.list, [{
      id,
      name: "Sales team",
      email: "sales@example.com",
      replyTo: [{ name: null, email: "desk@example.com" }],
    }]);
    const [[, changes]] = await call(client, [["Identity/changes", { sinceState: state }, "0"]]);
    assertEquals(changes.created, [id]);
  });
});

Deno.test("jmap submission: a draft is sent signed without Bcc, then moved to Sent", async () => {
  await withSubmissionServer(async (server, peer, client) => {
    const me = server.admin!.address;
    const identity = await defaultIdentity(client);
    const mailboxes = await roles(client);
    const responses = await call(client, [
      ["Email/set", {
        create: {
          d: {
            mailboxIds: { [mailboxes.drafts]: true },
            keywords: { $draft: true },
            from: [{ name: "Me", email: me }],
            to: [{ name: "Bob", email: "bob@remote.test" }],
            cc: [{ name: null, email: "carol@remote.test" }, {
              name: null,
              email: "bob@remote.test",
            }],
            bcc: [{ name: null, email: "dave@remote.test" }],
            subject: "Quarterly report",
            textBody: [{ partId: "t", type: "text/plain" }],
            bodyValues: { t: { value: "See attached numbers." } },
          },
        },
      }, "0"],
      ["EmailSubmission/set", {
        create: { s: { identityId: identity.id, emailId: "#d" } },
        onSuccessUpdateEmail: {
          "#s": {
            [`mailboxIds/${mailboxes.drafts}`]: null,
            [`mailboxIds/${mailboxes.sent}`]: true,
            "keywords/$draft": null,
            "keywords/$seen": true,
          },
        },
      }, "1"],
    ]);
    assertEquals(responses.map(([name]) => name), [
      "Email/set",
      "EmailSubmission/set",
      "Email/set",
    ]);
    const emailId = responses[0][1].created.d.id;
    const submission = responses[1][1].created.s;
    assert(submission, JSON.stringify(responses[1][1]));
    assertEquals(submission.undoStatus, "final");
    assertEquals(submission.envelope, {
      mailFrom: { email: me, parameters: null },
      rcptTo: ["bob@remote.test", "carol@remote.test", "dave@remote.test"].map((email) => ({
        email,
        parameters: null,
      })),
    });
    assertEquals(responses[2][2], "1");
    assertEquals(responses[2][1].updated, { [emailId]: null });

    await eventually(() => peer.accepted.length === 1, "the message at the peer");
    const sent = peer.accepted[0];
    assertEquals(sent.from, me);
    assertEquals(sent.recipients.sort(), [
      "bob@remote.test",
      "carol@remote.test",
      "dave@remote.test",
    ]);
    assertMatch(sent.data, /^DKIM-Signature: /m);
    assertMatch(sent.data, /^Subject: Quarterly report\r$/m);
    assertMatch(sent.data, /^Message-ID: /mi);
    assert(!/^Bcc:/mi.test(sent.data), "the Bcc field is removed");
    assert(!sent.data.includes("dave@remote.test"), "the Bcc recipient is not named");

    const [[, email]] = await call(client, [["Email/get", {
      ids: [emailId],
      properties: ["mailboxIds", "keywords"],
    }, "0"]]);
    assertEquals(email.list[0].mailboxIds, { [mailboxes.sent]: true });
    assertEquals(email.list[0].keywords, { $seen: true });

    const [[, got], [, queried]] = await call(client, [
      ["EmailSubmission/get", { ids: [submission.id] }, "0"],
      [
        "EmailSubmission/query",
        { filter: { emailIds: [emailId] }, sort: [{ property: "sentAt" }] },
        "1",
      ],
    ]);
    assertEquals(got.list[0].emailId, emailId);
    assertEquals(got.list[0].identityId, identity.id);
    assertEquals(Object.keys(got.list[0].deliveryStatus).sort(), [
      "bob@remote.test",
      "carol@remote.test",
      "dave@remote.test",
    ]);
    assertEquals(queried.ids, [submission.id]);

    const [[, cancel]] = await call(client, [["EmailSubmission/set", {
      update: { [submission.id]: { undoStatus: "canceled" } },
    }, "0"]]);
    assertEquals(cancel.notUpdated[submission.id].type, "cannotUnsend");
  });
});

Deno.test("jmap submission: unknown identity or email, From not the identity's, no recipients", async () => {
  await withSubmissionServer(async (server, peer, client) => {
    const me = server.admin!.address;
    const identity = await defaultIdentity(client);
    const foreign = await draft(client, {
      from: [{ name: null, email: "ceo@remote.test" }],
      to: [{ name: null, email: "bob@remote.test" }],
    });
    const nobody = await draft(client, { from: [{ name: null, email: me }] });
    const fine = await draft(client, {
      from: [{ name: null, email: me }],
      to: [{ name: null, email: "bob@remote.test" }],
    });
    const [[, result]] = await call(client, [["EmailSubmission/set", {
      create: {
        noIdentity: { identityId: "O999999", emailId: fine },
        noEmail: { identityId: identity.id, emailId: "E999999" },
        wrongFrom: { identityId: identity.id, emailId: foreign },
        noRecipients: { identityId: identity.id, emailId: nobody },
        badMailFrom: {
          identityId: identity.id,
          emailId: fine,
          envelope: {
            mailFrom: { email: "ceo@remote.test", parameters: null },
            rcptTo: [{ email: "bob@remote.test", parameters: null }],
          },
        },
      },
    }, "0"]]);
    assertEquals(result.created, null);
    assertEquals(result.notCreated.noIdentity.type, "invalidProperties");
    assertEquals(result.notCreated.noIdentity.properties, ["identityId"]);
    assertEquals(result.notCreated.noEmail.type, "invalidProperties");
    assertEquals(result.notCreated.noEmail.properties, ["emailId"]);
    assertEquals(result.notCreated.wrongFrom.type, "forbiddenFrom");
    assertEquals(result.notCreated.noRecipients.type, "noRecipients");
    assertEquals(result.notCreated.badMailFrom.type, "forbiddenMailFrom");
    assertEquals(peer.accepted.length, 0);
  });
});
