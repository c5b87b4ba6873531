/**
 * Messages and SMTP delivery for the spam filter's integration tests: a sales offer and a
 * personal letter whose copies differ only in their header fields, composed as another server
 * would hand them over, and delivery on port 25.
 */
import { assertMatch } from "./assert.ts";
import type { TestServer } from "./server.ts";
import { readReply, send } from "./mail.ts";
import { LineClient } from "./tls.ts";

/** Always the same offer: copies differ only in Message-ID, Date and To. */
export const OFFER = `Dear valued customer,

Our warehouse clearance continues this week with replica chronographs, designer handbags and
premium sunglasses at prices our competitors cannot match. Every order ships discreetly from
our overseas partner within two business days, and wholesale buyers receive an additional
discount on quantities above twenty pieces. Reply with your preferred models and shipping
address, and our sales team will prepare a personal quotation with tracking included.

Kind regards,
The clearance desk`;

/** An ordinary letter between people. */
export const LETTER = `Hi,

thanks for the notes from Tuesday. I went through the draft of the grant report and moved the
budget table to the appendix, as Maria suggested. Could you check whether the figures for the
second quarter still match the spreadsheet? If they do, I will send the report to the committee
on Friday morning.

See you at the seminar,
Jonas`;

let sequence = 0;

/** A complete message: header fields in order (plus `extra` ones), CRLF line ends. */
export function compose(
  fields: {
    from: string;
    to: string;
    subject: string;
    id: string;
    inReplyTo?: string;
    extra?: string[];
  },
  body: string,
): string {
  const date = new Date(Date.now() - 60_000 * ++sequence).toUTCString().replace("GMT", "+0000");
  return [
    `From: ${fields.from}`,
    `To: ${fields.to}`,
    `Subject: ${fields.subject}`,
    `Date: ${date}`,
    `Message-ID: <${fields.id}>`,
    ...(fields.inReplyTo ? [`In-Reply-To: <${fields.inReplyTo}>`] : []),
    ...(fields.extra ?? []),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    body.replace(/\r?\n/g, "\r\n"),
    "",
  ].join("\r\n");
}

/** Delivers `data` on port 25 from `sender` to `recipients`; returns the end-of-data reply. */
export async function deliver(
  server: TestServer,
  sender: string,
  recipients: string[],
  data: string,
  helo = "mx.remote.test",
): Promise<string> {
  const smtp = await LineClient.connect(server.ports.smtp);
  try {
    await readReply(smtp);
    await send(smtp, `EHLO ${helo}`);
    assertMatch(await send(smtp, `MAIL FROM:<${sender}>`), /^250/);
    for (const recipient of recipients) {
      assertMatch(await send(smtp, `RCPT TO:<${recipient}>`), /^250/);
    }
    assertMatch(await send(smtp, "DATA"), /^354/);
    return await send(smtp, `${data}.`);
  } finally {
    await smtp.close();
  }
}
