/**
 * The commands that work on messages: FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE (and their UID
 * forms), APPEND and CLOSE's silent expunge.
 *
 * Implementation notes:
 * - Message sets resolve against the session's view (src/imap/selected.ts): sequence numbers
 *   as the client last heard them; UIDs that no longer exist are silently skipped (RFC 9051
 *   6.4.8); a sequence number past the end is BAD.
 * - Each change goes to the store in one transaction, then out on the change bus, and the
 *   session records it in its view so it is not echoed back as an unsolicited FETCH.
 * - FETCH of BODY[...] (not PEEK) or RFC822(.TEXT) sets \Seen in a read-write mailbox and
 *   reports the new FLAGS in the same FETCH response (RFC 9051 6.4.5).
 */
import type { MailboxMessage, MailboxSummary } from "../store/types.ts";
import type {
  AppendMessage,
  FetchArgs,
  ImapCommand,
  ReplaceArgs,
  SearchArgs,
  SequenceSet,
  SortArgs,
  StoreArgs,
  ThreadArgs,
} from "./wire/parser.ts";
import { CommandFailure, type ImapSession, storeFailure } from "./server.ts";
import type { SelectedMailbox } from "./selected.ts";
import { FlagError, flagList, keywordOf } from "./flags.ts";
import { search, setContains } from "./search.ts";
import { type SortItem, sortMessages } from "./sort.ts";
import { orderedSubjectThreads, referencesThreads } from "./thread.ts";
import { formatSequenceSet } from "./sequence_set.ts";
import { allSimple, fetchMessage, simpleFetchLine } from "./fetch_items.ts";
import { IngestError } from "../mail/ingest.ts";

interface Target {
  seq: number;
  uid: number;
}

export class SelectedCommands {
  readonly #session: ImapSession;

  constructor(session: ImapSession) {
    this.#session = session;
  }

  async run(command: ImapCommand): Promise<string> {
    const view = this.#session.requireSelected();
    const uid = command.command.startsWith("UID ");
    switch (command.command) {
      case "FETCH":
      case "UID FETCH":
        await this.#fetch(view, command.args, uid);
        return `${command.command} completed`;
      case "STORE":
      case "UID STORE":
        return await this.#store(view, command.args, uid);
      case "SEARCH":
      case "UID SEARCH":
        await this.#search(view, command.args, uid, command.tag);
        return `${command.command} completed`;
      case "SORT":
      case "UID SORT":
        await this.#sort(view, command.args, uid, command.tag);
        return `${command.command} completed`;
      case "THREAD":
      case "UID THREAD":
        await this.#thread(view, command.args, uid);
        return `${command.command} completed`;
      case "COPY":
      case "UID COPY":
        return await this.#copy(view, command.args.sequence, command.args.mailbox, uid, false);
      case "MOVE":
      case "UID MOVE":
        return await this.#copy(view, command.args.sequence, command.args.mailbox, uid, true);
      case "EXPUNGE":
        this.#writable();
        await this.expungeDeleted(view, null, false);
        return "EXPUNGE completed";
      case "UID EXPUNGE":
        this.#writable();
        await this.expungeDeleted(view, this.#targets(view, command.args.sequence, true), false);
        return "UID EXPUNGE completed";
      case "REPLACE":
      case "UID REPLACE":
        return await this.#replace(view, command.args, uid);
      default:
        throw new CommandFailure("BAD", `${command.command} is not supported`);
    }
  }

  #writable(): void {
    if (this.#session.readOnly) throw new CommandFailure("NO", "Mailbox is read-only", "READ-ONLY");
  }

  /** The messages a set names, in sequence order. */
  #targets(view: SelectedMailbox, set: SequenceSet, uid: boolean): Target[] {
    const uids = view.uids;
    if (set.kind === "saved") {
      const saved = new Set(this.#session.saved);
      return uids.flatMap((u, i) => saved.has(u) ? [{ seq: i + 1, uid: u }] : []);
    }
    const max = uid ? (uids.at(-1) ?? 0) : uids.length;
    const ranges = set.ranges.map((r) => {
      const a = r.start === "*" ? max : r.start;
      const b = r.end === "*" ? max : r.end;
      return [Math.min(a, b), Math.max(a, b)] as const;
    });
    if (!uid && uids.length > 0 && ranges.some(([, high]) => high > uids.length)) {
      throw new CommandFailure("BAD", "Message number out of range");
    }
    if (!uid && uids.length === 0) throw new CommandFailure("BAD", "The mailbox is empty");
    const out: Target[] = [];
    for (let index = 0; index < uids.length; index++) {
      const value = uid ? uids[index] : index + 1;
      for (const [low, high] of ranges) {
        if (value >= low && value <= high) {
          out.push({ seq: index + 1, uid: uids[index] });
          break;
        }
      }
    }
    return out;
  }

  async #fetch(view: SelectedMailbox, args: FetchArgs, uid: boolean): Promise<void> {
    const session = this.#session;
    const targets = this.#targets(view, args.sequence, uid);
    const current = await view.current();
    // This command's own \Seen changes, over the shared (read-only) cache entry.
    const updates = new Map<number, MailboxMessage>();
    const messageOf = (uid: number) => updates.get(uid) ?? current.byUid.get(uid);
    const marksSeen = !session.readOnly &&
      args.attributes.some((a) =>
        (a.kind === "BODY[]" && !a.peek) || (a.kind === "BINARY[]" && !a.peek) ||
        a.kind === "RFC822" || a.kind === "RFC822.TEXT"
      );
    if (marksSeen) {
      const unseen = targets.filter((t) => !messageOf(t.uid)?.keywords.includes("$seen"));
      if (unseen.length > 0) {
        const { updated } = await session.opts.store.updateKeywords(
          session.account!.id,
          view.mailboxId,
          unseen.map((t) => t.uid),
          { add: ["$seen"] },
        );
        for (const message of updated) {
          updates.set(message.uid, message);
          view.noteOwn(message);
        }
        if (updated.length > 0) session.published(updated[0].modseq, ["Email", "Mailbox"]);
      }
    }
    const withUid = uid && !args.attributes.some((a) => a.kind === "UID");
    const attributes = withUid ? [{ kind: "UID" as const }, ...args.attributes] : args.attributes;
    const wantsModseq = args.changedSince !== null ||
      (session.condstore && attributes.some((a) => a.kind === "MODSEQ"));
    if (args.vanished) {
      // RFC 7162 3.2.6: UID FETCH (CHANGEDSINCE m VANISHED) also names the UIDs expunged since.
      if (!uid || args.changedSince === null || !session.qresync) {
        throw new CommandFailure("BAD", "VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC");
      }
      const gone = (await session.opts.store.expungedSince(
        session.account!.id,
        view.mailboxId,
        args.changedSince,
      )).filter((u) => setContains(args.sequence, u));
      if (gone.length > 0) {
        await session.write(`* VANISHED (EARLIER) ${formatSequenceSet(gone)}\r\n`);
      }
    }
    const context = { modseq: wantsModseq, seenAdded: marksSeen };
    const simple = allSimple(attributes);
    const out = new OutputBatch((bytes) => session.write(bytes));
    for (const target of targets) {
      const message = messageOf(target.uid);
      if (!message) continue; // expunged meanwhile: nothing to send (RFC 9051 7.5.1 allows it)
      if (args.changedSince !== null && message.modseq <= args.changedSince) continue;
      if (simple) {
        out.add(simpleFetchLine(target.seq, message, attributes, context));
        if (out.size >= BATCH) await out.flush();
        continue;
      }
      const items = await fetchMessage(session, message, attributes, context);
      // One buffer per response, written in batches: FETCH 1:* on a big mailbox is thousands
      // of small responses.
      out.add(`* ${target.seq} FETCH (`);
      items.forEach((item, i) => {
        if (i > 0) out.add(" ");
        out.add(item);
      });
      out.add(")\r\n");
      if (out.size >= BATCH) await out.flush();
    }
    await out.flush();
  }

  async #store(view: SelectedMailbox, args: StoreArgs, uid: boolean): Promise<string> {
    const session = this.#session;
    this.#writable();
    let keywords: string[];
    try {
      keywords = args.flags.map(keywordOf);
    } catch (error) {
      if (error instanceof FlagError) throw new CommandFailure("BAD", error.message);
      throw error;
    }
    const targets = this.#targets(view, args.sequence, uid);
    const change = args.action === "set"
      ? { set: keywords }
      : args.action === "add"
      ? { add: keywords }
      : { remove: keywords };
    const { updated, failed } = await session.opts.store.updateKeywords(
      session.account!.id,
      view.mailboxId,
      targets.map((t) => t.uid),
      change,
      args.unchangedSince ?? undefined,
    );
    if (updated.length > 0) {
      // $Junk / $NotJunk set by the user: the spam filter learns from it.
      const judged = (keyword: string) =>
        args.action !== "remove" && keywords.includes(keyword) ? updated.map((m) => m.emailId) : [];
      session.published(updated[0].modseq, ["Email", "Mailbox"], {
        spam: judged("$junk"),
        ham: judged("$notjunk"),
      });
    }
    const changed = new Map(updated.map((m) => [m.uid, m]));
    const lines: string[] = [];
    for (const target of targets) {
      const message = changed.get(target.uid);
      if (message) view.noteOwn(message);
      const report = !args.silent || (args.unchangedSince !== null && message);
      if (!report || failed.includes(target.uid)) continue;
      const flags = message?.keywords ?? view.keywordsOf(target.uid);
      const parts = [
        ...(uid ? [`UID ${target.uid}`] : []),
        ...(args.silent ? [] : [`FLAGS ${flagList(flags)}`]),
        ...(session.condstore ? [`MODSEQ (${message?.modseq ?? view.modseqOf(target.uid)})`] : []),
      ];
      if (parts.length > 0) lines.push(`* ${target.seq} FETCH (${parts.join(" ")})`);
    }
    if (lines.length > 0) await session.write(lines.map((l) => `${l}\r\n`).join(""));
    if (failed.length > 0) {
      const set = formatSequenceSet(
        failed.map((u) => uid ? u : view.seqOf(u)).sort((a, b) => a - b),
      );
      return `[MODIFIED ${set}] Conditional STORE failed for some messages`;
    }
    return `${uid ? "UID " : ""}STORE completed`;
  }

  async #search(view: SelectedMailbox, args: SearchArgs, uid: boolean, tag: string) {
    const session = this.#session;
    if (args.charset && !["UTF-8", "US-ASCII"].includes(args.charset)) {
      throw new CommandFailure(
        "NO",
        "Supported charsets: UTF-8 US-ASCII",
        "BADCHARSET (UTF-8 US-ASCII)",
      );
    }
    const messagesByUid = (await view.current()).byUid;
    const ordered = view.uids.flatMap((u) => {
      const m = messagesByUid.get(u);
      return m ? [m] : [];
    });
    const found = await search(args.criteria, {
      store: session.opts.store,
      accountId: session.account!.id,
      messages: ordered,
      saved: session.saved,
      headerOf: (_, fields) => this.#headerOf(fields.blobHash),
    });
    const numbers = found.map((u) => uid ? u : view.seqOf(u)).filter((n) => n > 0)
      .sort((a, b) => a - b);
    // RFC 7162 3.1.5: a search with a MODSEQ key reports the highest mod-sequence found.
    const modseq = usesModseq(args.criteria) && found.length > 0
      ? found.reduce((max, u) => Math.max(max, messagesByUid.get(u)?.modseq ?? 0), 0)
      : null;
    // IMAP4rev2 has no SEARCH response: without RETURN it answers ESEARCH ... ALL.
    const options = args.returnOptions ?? (session.rev2 ? [] : null);
    if (options === null) {
      const tail = modseq === null ? "" : ` (MODSEQ ${modseq})`;
      await session.write(`* SEARCH${numbers.map((n) => ` ${n}`).join("")}${tail}\r\n`);
      return;
    }
    const wanted = options.length === 0 ? ["ALL"] : options;
    if (wanted.includes("SAVE")) session.saved = found;
    const parts: string[] = [];
    if (wanted.includes("MIN") && numbers.length) parts.push(`MIN ${numbers[0]}`);
    if (wanted.includes("MAX") && numbers.length) parts.push(`MAX ${numbers.at(-1)}`);
    if (wanted.includes("ALL") && numbers.length) parts.push(`ALL ${formatSequenceSet(numbers)}`);
    if (wanted.includes("COUNT")) parts.push(`COUNT ${numbers.length}`);
    if (modseq !== null) parts.push(`MODSEQ ${modseq}`);
    if (wanted.length === 1 && wanted[0] === "SAVE") return;
    await session.write(
      `* ESEARCH (TAG "${tag}")${uid ? " UID" : ""}${parts.map((p) => ` ${p}`).join("")}\r\n`,
    );
  }

  /**
   * The messages matching a search, for SORT and THREAD; with their header data unless
   * `withFields` is false (SORT by ARRIVAL or SIZE needs none).
   */
  async #matching(
    view: SelectedMailbox,
    key: SearchArgs["criteria"],
    charset: string,
    withFields = true,
  ): Promise<SortItem[]> {
    const session = this.#session;
    if (!["UTF-8", "US-ASCII"].includes(charset)) {
      throw new CommandFailure(
        "NO",
        "Supported charsets: UTF-8 US-ASCII",
        "BADCHARSET (UTF-8 US-ASCII)",
      );
    }
    const messagesByUid = (await view.current()).byUid;
    const ordered = view.uids.flatMap((u) => {
      const m = messagesByUid.get(u);
      return m ? [m] : [];
    });
    const found = new Set(
      await search(key, {
        store: session.opts.store,
        accountId: session.account!.id,
        messages: ordered,
        saved: session.saved,
        headerOf: (_, fields) => this.#headerOf(fields.blobHash),
      }),
    );
    const matches = ordered.filter((m) => found.has(m.uid));
    const fields = new Map(
      withFields
        ? (await session.opts.store.searchFields(
          session.account!.id,
          [...new Set(matches.map((m) => m.emailId))],
        )).map((f) => [f.id, f])
        : [],
    );
    return matches.map((message) => ({
      seq: view.seqOf(message.uid),
      message,
      fields: fields.get(message.emailId),
    }));
  }

  /** THREAD (RFC 5256): ORDEREDSUBJECT and REFERENCES. */
  async #thread(view: SelectedMailbox, args: ThreadArgs, uid: boolean) {
    const algorithm = args.algorithm.toUpperCase();
    if (algorithm !== "ORDEREDSUBJECT" && algorithm !== "REFERENCES") {
      throw new CommandFailure("BAD", `Unsupported threading algorithm ${args.algorithm}`);
    }
    const items = await this.#matching(view, args.search, args.charset);
    const number = (item: SortItem) => uid ? item.message.uid : item.seq;
    const body = algorithm === "REFERENCES"
      ? referencesThreads(items, number)
      : orderedSubjectThreads(items, number);
    await this.#session.write(`* THREAD${body ? ` ${body}` : ""}\r\n`);
  }

  /** SORT (RFC 5256) and ESORT (RFC 5267): the search, then the matches in key order. */
  async #sort(view: SelectedMailbox, args: SortArgs, uid: boolean, tag: string) {
    const session = this.#session;
    const sorted = sortMessages(
      await this.#matching(
        view,
        args.search,
        args.charset,
        args.criteria.some((c) => c.key !== "ARRIVAL" && c.key !== "SIZE"),
      ),
      args.criteria,
    );
    const numbers = sorted.map((item) => uid ? item.message.uid : item.seq);
    if (args.returnOptions === null) {
      await session.write(`* SORT${numbers.map((n) => ` ${n}`).join("")}\r\n`);
      return;
    }
    const wanted = args.returnOptions.length === 0 ? ["ALL"] : args.returnOptions;
    const parts: string[] = [];
    // reduce, not Math.min(...numbers): a spread of 200,000 arguments overflows the stack.
    const min = numbers.reduce((a, b) => Math.min(a, b), Infinity);
    const max = numbers.reduce((a, b) => Math.max(a, b), 0);
    if (wanted.includes("MIN") && numbers.length) parts.push(`MIN ${min}`);
    if (wanted.includes("MAX") && numbers.length) parts.push(`MAX ${max}`);
    if (wanted.includes("ALL") && numbers.length) parts.push(`ALL ${numbers.join(",")}`);
    if (wanted.includes("COUNT")) parts.push(`COUNT ${numbers.length}`);
    await session.write(
      `* ESEARCH (TAG "${tag}")${uid ? " UID" : ""}${parts.map((p) => ` ${p}`).join("")}\r\n`,
    );
  }

  async #headerOf(blobHash: string): Promise<string> {
    const raw = await this.#session.opts.blobs.get(blobHash);
    const text = new TextDecoder("latin1").decode(raw);
    const end = text.indexOf("\r\n\r\n");
    return end === -1 ? text : text.slice(0, end + 2);
  }

  async #copy(
    view: SelectedMailbox,
    set: SequenceSet,
    name: string,
    uid: boolean,
    move: boolean,
  ): Promise<string> {
    const session = this.#session;
    if (move) this.#writable();
    const targets = this.#targets(view, set, uid);
    const target = await session.mailboxByPath(session.path(name)).catch((error) => {
      throw new CommandFailure("NO", (error as Error).message, "TRYCREATE");
    });
    const verb = move ? "MOVE" : "COPY";
    if (targets.length === 0) return `${uid ? "UID " : ""}${verb} completed (nothing to do)`;
    const moved = new Map(
      (await session.opts.store.mailboxMessages(
        session.account!.id,
        view.mailboxId,
        targets.map((t) => t.uid),
      )).map((m) => [m.uid, m.emailId]),
    );
    let result: { uidValidity: number; pairs: [number, number][] };
    try {
      result = move
        ? await session.opts.store.moveMessages(
          session.account!.id,
          view.mailboxId,
          targets.map((t) => t.uid),
          target.id,
        )
        : await session.opts.store.copyMessages(
          session.account!.id,
          view.mailboxId,
          targets.map((t) => t.uid),
          target.id,
        );
    } catch (error) {
      throw storeFailure(error);
    }
    // Into Junk teaches spam; moving out of Junk teaches ham, except into Trash (deleting junk).
    const emails = targets.flatMap((t) => {
      const id = moved.get(t.uid);
      return id === undefined ? [] : [id];
    });
    const source = (await session.opts.store.listMailboxes(session.account!.id, { counts: false }))
      .find((m) => m.id === view.mailboxId);
    session.published(0, ["Email", "Mailbox", "Thread"], {
      spam: target.role === "junk" && source?.role !== "junk" ? emails : [],
      ham: move && source?.role === "junk" && target.role !== "junk" && target.role !== "trash"
        ? emails
        : [],
    });
    if (target.id === view.mailboxId) session.markChanged(); // copied into itself: new EXISTS
    if (result.pairs.length === 0) return `${verb} completed`;
    const code = `COPYUID ${result.uidValidity} ${
      formatSequenceSet(result.pairs.map((p) => p[0]))
    } ${formatSequenceSet(result.pairs.map((p) => p[1]))}`;
    if (!move) return `[${code}] COPY completed`;
    // RFC 6851 4.3: COPYUID goes in an untagged OK before the expunges.
    await session.write(`* OK [${code}] Moved\r\n`);
    view.noteOwnExpunge(result.pairs.map((p) => p[0]));
    return `${uid ? "UID " : ""}MOVE completed`;
  }

  /**
   * Removes \Deleted messages (only those in `only` for UID EXPUNGE). CLOSE does it `silent`ly:
   * no EXPUNGE responses (RFC 9051 6.4.2).
   */
  async expungeDeleted(view: SelectedMailbox, only: Target[] | null, silent: boolean) {
    const session = this.#session;
    // The view is current (it catches up before every command): its flags say which are
    // \Deleted without reading the whole mailbox again.
    const allowed = only ? new Set(only.map((t) => t.uid)) : null;
    const uids = view.uids.filter((u) =>
      !view.isExpunged(u) && view.keywordsOf(u).includes("$deleted") &&
      (!allowed || allowed.has(u))
    );
    if (uids.length === 0) return;
    const gone = await session.opts.store.expunge(session.account!.id, view.mailboxId, uids);
    session.published(0, ["Email", "Mailbox", "Thread"]);
    if (!silent) view.noteOwnExpunge(gone);
  }

  /**
   * REPLACE (RFC 8508): APPEND of the new message, then the old one expunged, as a draft-saving
   * client would do in three commands. If the append fails the old message stays.
   */
  async #replace(view: SelectedMailbox, args: ReplaceArgs, uid: boolean): Promise<string> {
    const session = this.#session;
    this.#writable();
    const old = uid ? args.target : view.uidAt(args.target);
    if (old === undefined) throw new CommandFailure("BAD", "No message with that number");
    if (view.seqOf(old) === 0) throw new CommandFailure("NO", "No message with that UID");
    if (view.isExpunged(old)) {
      throw new CommandFailure("NO", "The message has been expunged", "EXPUNGEISSUED");
    }
    const { mailbox, uids } = await this.#appendAll(args.mailbox, [args.message]);
    await session.write(
      `* OK [APPENDUID ${mailbox.uidValidity} ${uids[0]}] Replacement message ready\r\n`,
    );
    const gone = await session.opts.store.expunge(session.account!.id, view.mailboxId, [old]);
    session.published(0, ["Email", "Mailbox", "Thread"]);
    view.noteOwnExpunge(gone);
    return `${uid ? "UID " : ""}REPLACE completed`;
  }

  /**
   * APPEND, with MULTIAPPEND (RFC 3502): every message is checked (flags, limits, MIME) before
   * any is stored, and if storing one fails the ones already stored are expunged again, so the
   * client sees all or nothing.
   */
  async append(args: { mailbox: string; messages: AppendMessage[] }): Promise<string> {
    const { mailbox, uids } = await this.#appendAll(args.mailbox, args.messages);
    return `[APPENDUID ${mailbox.uidValidity} ${formatSequenceSet(uids)}] APPEND completed`;
  }

  /** Stores `messages` in the mailbox named `name`, all or none; returns their UIDs. */
  async #appendAll(
    name: string,
    messages: AppendMessage[],
  ): Promise<{ mailbox: MailboxSummary; uids: number[] }> {
    const session = this.#session;
    const account = session.account!;
    const mailbox = await session.mailboxByPath(session.path(name)).catch(() => {
      throw new CommandFailure("NO", "No such mailbox", "TRYCREATE");
    });
    const prepared = messages.map((message) => {
      try {
        return {
          keywords: message.flags.map(keywordOf),
          parsed: session.opts.messages.prepare(message.data),
          receivedAt: message.internalDate ? new Date(message.internalDate.epochMs) : undefined,
        };
      } catch (error) {
        if (error instanceof FlagError) throw new CommandFailure("BAD", error.message);
        throw ingestFailure(error);
      }
    });
    const uids: number[] = [];
    try {
      for (const message of prepared) {
        const stored = await session.opts.messages.commit(message.parsed, {
          accountId: account.id,
          mailboxIds: [mailbox.id],
          keywords: message.keywords,
          receivedAt: message.receivedAt,
        });
        uids.push(stored.memberships[0]?.uid ?? 0);
      }
    } catch (error) {
      if (uids.length > 0) await session.opts.store.expunge(account.id, mailbox.id, uids);
      throw ingestFailure(error);
    }
    if (session.selected?.mailboxId === mailbox.id) session.markChanged();
    return { mailbox, uids };
  }
}

/** An ingest refusal as the NO a client can act on; anything else passes through. */
function ingestFailure(error: unknown): unknown {
  if (!(error instanceof IngestError)) return error;
  const code = error.code === "too_large"
    ? "TOOBIG"
    : error.code === "quota"
    ? "OVERQUOTA"
    : "CANNOT";
  return new CommandFailure("NO", error.message, code);
}

function usesModseq(key: SearchArgs["criteria"]): boolean {
  switch (key.kind) {
    case "MODSEQ":
      return true;
    case "AND":
      return key.keys.some(usesModseq);
    case "OR":
      return usesModseq(key.left) || usesModseq(key.right);
    case "NOT":
      return usesModseq(key.key);
    default:
      return false;
  }
}

const BATCH = 64 * 1024;

/**
 * Collects strings and bytes and writes them as one buffer. Strings are joined and encoded
 * once per run (a FLAGS-only FETCH is thousands of short strings).
 */
class OutputBatch {
  #parts: Uint8Array[] = [];
  #text = "";
  #bytes = 0;
  readonly #encoder = new TextEncoder();

  constructor(private readonly write: (bytes: Uint8Array) => Promise<void>) {}

  /** Approximate size held (text counted in UTF-16 units). */
  get size(): number {
    return this.#bytes + this.#text.length;
  }

  add(part: string | Uint8Array): void {
    if (typeof part === "string") {
      this.#text += part;
      return;
    }
    this.#settleText();
    this.#parts.push(part);
    this.#bytes += part.length;
  }

  #settleText(): void {
    if (this.#text === "") return;
    const bytes = this.#encoder.encode(this.#text);
    this.#text = "";
    this.#parts.push(bytes);
    this.#bytes += bytes.length;
  }

  async flush(): Promise<void> {
    this.#settleText();
    if (this.#bytes === 0) return;
    const out = this.#parts.length === 1 ? this.#parts[0] : new Uint8Array(this.#bytes);
    if (this.#parts.length > 1) {
      let offset = 0;
      for (const part of this.#parts) {
        out.set(part, offset);
        offset += part.length;
      }
    }
    this.#parts = [];
    this.#bytes = 0;
    await this.write(out);
  }
}
