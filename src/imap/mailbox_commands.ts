/**
 * LIST, LSUB and STATUS (RFC 9051 6.3.9–6.3.11, RFC 5258 return options, RFC 6154 special use,
 * RFC 3348 CHILDREN): which mailboxes match, with which attributes.
 *
 * Implementation notes:
 * - Matching is `listPatternMatcher` (src/imap/mailbox_name.ts), linear in name and pattern.
 * - A matching name's missing parent levels are listed \NonExistent only for LIST with
 *   RECURSIVEMATCH; with `%`, a parent whose children match but itself does not is not listed.
 * - An empty pattern asks for the hierarchy delimiter: `* LIST (\Noselect) "/" ""`.
 */
import type { MailboxSummary } from "../store/types.ts";
import type { ListArgs, StatusItem } from "./wire/parser.ts";
import { listPatternMatcher, patternFromWire } from "./mailbox_name.ts";
import { CommandFailure, type ImapSession } from "./server.ts";
import { mailboxObjectId } from "./search.ts";

const SPECIAL_USE: Record<string, string> = {
  sent: "\\Sent",
  drafts: "\\Drafts",
  junk: "\\Junk",
  trash: "\\Trash",
  archive: "\\Archive",
};

export async function listMailboxes(
  session: ImapSession,
  args: ListArgs,
  lsub: boolean,
): Promise<void> {
  const account = session.account!;
  const verb = lsub ? "LSUB" : "LIST";
  if (args.patterns.length === 1 && args.patterns[0] === "") {
    await session.write(`* ${verb} (\\Noselect) "/" ""\r\n`);
    return;
  }
  let reference: string;
  let patterns: string[];
  try {
    reference = patternFromWire(args.reference, session.utf8);
    patterns = args.patterns.map((p) => patternFromWire(p, session.utf8));
  } catch (error) {
    throw new CommandFailure("BAD", (error as Error).message);
  }
  const matchers = patterns.map((p) => listPatternMatcher(reference, p));
  // INBOX first, then by path, so a parent comes before its children.
  const wantsStatus = (args.returnOptions?.status?.length ?? 0) > 0;
  const mailboxes = (await session.opts.store.listMailboxes(account.id, { counts: wantsStatus }))
    .sort((a, b) =>
      Number(b.role === "inbox") - Number(a.role === "inbox") ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
    );
  const subscribedOnly = args.selection.includes("SUBSCRIBED");
  const specialOnly = args.selection.includes("SPECIAL-USE");
  const returnSubscribed = subscribedOnly || (args.returnOptions?.subscribed ?? false);
  const recursive = args.selection.includes("RECURSIVEMATCH");
  if (recursive && !subscribedOnly && !specialOnly) {
    // RFC 5258 3.1: RECURSIVEMATCH only qualifies another selection option.
    throw new CommandFailure("BAD", "RECURSIVEMATCH needs another selection option");
  }
  const parents = new Set(mailboxes.map((m) => m.parentId));
  // Mailboxes with a subscribed descendant (RFC 5258 CHILDINFO).
  const byId = new Map(mailboxes.map((m) => [m.id, m]));
  const subscribedBelow = new Set<number>();
  for (const mailbox of mailboxes) {
    if (!mailbox.subscribed) continue;
    for (let p = byId.get(mailbox.parentId); p; p = byId.get(p.parentId)) {
      subscribedBelow.add(p.id);
    }
  }
  const lines: string[] = [];
  for (const mailbox of mailboxes) {
    if (!matchers.some((match) => match(mailbox.path))) continue;
    const childInfo = recursive && subscribedOnly && subscribedBelow.has(mailbox.id);
    if (subscribedOnly && !mailbox.subscribed && !childInfo) continue;
    const special = mailbox.role ? SPECIAL_USE[mailbox.role] : undefined;
    if (specialOnly && !special) continue;
    const attributes: string[] = [];
    if (!lsub) attributes.push(parents.has(mailbox.id) ? "\\HasChildren" : "\\HasNoChildren");
    if (special && (!args.extended || args.returnOptions?.specialUse || specialOnly)) {
      attributes.push(special);
    }
    if (returnSubscribed && mailbox.subscribed && !lsub) attributes.push("\\Subscribed");
    const extra = childInfo ? ' ("CHILDINFO" ("SUBSCRIBED"))' : "";
    lines.push(`* ${verb} (${attributes.join(" ")}) "/" ${session.wireName(mailbox.path)}${extra}`);
    const statusWanted = args.returnOptions?.status;
    if (statusWanted && statusWanted.length > 0) {
      const items = await statusItems(session, mailbox, statusWanted);
      lines.push(`* STATUS ${session.wireName(mailbox.path)} (${items})`);
    }
  }
  if (lines.length > 0) await session.write(lines.map((l) => `${l}\r\n`).join(""));
}

/** The STATUS item list for a mailbox: `MESSAGES 3 UIDNEXT 4 …`. */
export async function statusItems(
  session: ImapSession,
  summary: MailboxSummary,
  items: StatusItem[],
): Promise<string> {
  const needsCounts = items.some((i) => ["MESSAGES", "UNSEEN", "SIZE"].includes(i));
  const mailbox = needsCounts && summary.messages === 0 && summary.size === 0
    ? (await session.opts.store.listMailboxes(summary.accountId, { onlyCounts: summary.id }))
      .find((m) => m.id === summary.id) ?? summary
    : summary;
  let deleted: number | null = null;
  const parts: string[] = [];
  for (const item of items) {
    switch (item) {
      case "MESSAGES":
        parts.push(`MESSAGES ${mailbox.messages}`);
        break;
      case "UIDNEXT":
        parts.push(`UIDNEXT ${mailbox.uidNext}`);
        break;
      case "UIDVALIDITY":
        parts.push(`UIDVALIDITY ${mailbox.uidValidity}`);
        break;
      case "UNSEEN":
        parts.push(`UNSEEN ${mailbox.unseen}`);
        break;
      case "SIZE":
        parts.push(`SIZE ${mailbox.size}`);
        break;
      case "RECENT":
        parts.push("RECENT 0");
        break;
      case "HIGHESTMODSEQ":
        parts.push(`HIGHESTMODSEQ ${Math.max(1, mailbox.highestModseq)}`);
        break;
      case "APPENDLIMIT":
        parts.push(`APPENDLIMIT ${session.opts.maxLiteralSize}`);
        break;
      case "MAILBOXID":
        parts.push(`MAILBOXID (${mailboxObjectId(mailbox.id)})`);
        break;
      case "DELETED": {
        deleted ??= (await session.opts.store.mailboxMessages(mailbox.accountId, mailbox.id))
          .filter((m) => m.keywords.includes("$deleted")).length;
        parts.push(`DELETED ${deleted}`);
        break;
      }
    }
  }
  return parts.join(" ");
}
