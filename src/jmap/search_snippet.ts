/**
 * SearchSnippet/get (RFC 8621 5): the subject and a piece of the body around the first match,
 * with the words of the filter's text, subject and body conditions marked (<mark>, the rest
 * HTML-escaped); null where nothing matches.
 */
import type { MimePart } from "../mail/mime.ts";
import { extractText } from "../mail/text.ts";
import {
  allowOnly,
  type Args,
  fail,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
  requireAccount,
} from "./method.ts";
import { resolveCreationId } from "./standard.ts";
import { visitConditions } from "./filter.ts";
import { fromJmapId } from "./ids.ts";
import { MAIL } from "./email.ts";
import { checkCondition } from "./email_query.ts";

/** The words and phrases of the filter's text-like conditions, for highlighting. */
function searchTerms(filter: Args | null): { subject: string[]; body: string[] } {
  const subject: string[] = [];
  const body: string[] = [];
  if (!filter) return { subject, body };
  visitConditions(filter, (condition) => {
    for (const [key, value] of Object.entries(condition)) {
      if (typeof value !== "string") continue;
      const words = value.match(/[\p{L}\p{N}]+/gu) ?? [];
      if (key === "text") {
        subject.push(...words);
        body.push(...words);
      } else if (key === "subject") subject.push(...words);
      else if (key === "body") body.push(...words);
    }
  });
  return { subject, body };
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}

/** Wraps each word that starts with a term in <mark>; null when none does. */
export function highlight(text: string, terms: string[]): string | null {
  if (terms.length === 0) return null;
  const lowered = terms.map((t) => t.toLowerCase());
  let found = false;
  const out = text.replace(/[\p{L}\p{N}]+/gu, (word) => {
    const lower = word.toLowerCase();
    if (lowered.some((t) => lower.startsWith(t))) {
      found = true;
      return `\u0000${word}\u0001`;
    }
    return word;
  });
  if (!found) return null;
  return escapeHtml(out).replaceAll("\u0000", "<mark>").replaceAll("\u0001", "</mark>");
}

/** About 255 characters of `text` around the first matching word, highlighted. */
function previewSnippet(text: string, terms: string[]): string | null {
  if (terms.length === 0) return null;
  const flat = text.replace(/\s+/g, " ").trim();
  const lowered = terms.map((t) => t.toLowerCase());
  const words = /[\p{L}\p{N}]+/gu;
  let match: RegExpExecArray | null;
  let at = -1;
  while ((match = words.exec(flat))) {
    const lower = match[0].toLowerCase();
    if (lowered.some((t) => lower.startsWith(t))) {
      at = match.index;
      break;
    }
  }
  if (at === -1) return null;
  const start = Math.max(0, at - 60);
  const slice = flat.slice(start, start + 255);
  return highlight(slice, terms);
}

async function searchSnippets(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, ["accountId", "filter", "emailIds"]);
  requireAccount(args, ctx);
  const filter = args.filter ?? null;
  if (filter !== null && !isPlainObject(filter)) fail("filter must be an object");
  if (filter) visitConditions(filter as Args, checkCondition);
  const emailIds = args.emailIds;
  if (!Array.isArray(emailIds) || emailIds.some((id) => typeof id !== "string")) {
    fail("emailIds must be a list of ids");
  }
  if (emailIds.length > ctx.limits.maxObjectsInGet) {
    throw new MethodError("requestTooLarge", `at most ${ctx.limits.maxObjectsInGet} emailIds`);
  }
  const terms = searchTerms(filter as Args | null);
  const ids = (emailIds as string[]).map((id) => resolveCreationId(ctx, id));
  const numeric = ids.map((id) => fromJmapId("email", id)).filter((n) => n !== null) as number[];
  const records = new Map(
    (await ctx.app.store.jmapEmails(ctx.account.id, numeric)).map((r) => [r.id, r]),
  );
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids) {
    const record = records.get(fromJmapId("email", id) ?? -1);
    if (!record) {
      notFound.push(id);
      continue;
    }
    let preview: string | null = null;
    if (terms.body.length) {
      const raw = await ctx.app.blobs.get(record.blobHash).catch(() => null);
      if (raw) {
        const text = extractText(raw, JSON.parse(record.mime) as MimePart, {
          maxTextBytes: 256 * 1024,
        }).text;
        preview = previewSnippet(text, terms.body);
      }
    }
    list.push({ emailId: id, subject: highlight(record.subject, terms.subject), preview });
  }
  return { accountId: ctx.accountId, list, notFound: notFound.length ? notFound : null };
}

export const searchSnippetMethods: Record<string, MethodSpec> = {
  "SearchSnippet/get": { capability: MAIL, handler: searchSnippets },
};
