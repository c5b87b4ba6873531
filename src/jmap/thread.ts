/** Thread/get and Thread/changes (RFC 8621 3): a thread is its emails, oldest received first. */
import type { Args, MethodContext, MethodSpec } from "./method.ts";
import { changesResponse, currentState, readGetArgs, selectProperties } from "./standard.ts";
import { fromJmapId, toJmapId } from "./ids.ts";
import { MethodError } from "./method.ts";

const MAIL = "urn:ietf:params:jmap:mail";

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  const { ids, properties } = readGetArgs(args, ctx);
  const selected = selectProperties(properties, ["id", "emailIds"]);
  // Listing every thread of a mailbox store is never what a client needs (RFC 8620 5.1 lets a
  // server refuse ids null for a type).
  if (ids === null) throw new MethodError("requestTooLarge", "Thread/get needs ids");
  const state = await currentState(ctx);
  const threadIds = ids.map((id) => fromJmapId("thread", id)).filter((id) => id !== null);
  const threads = await ctx.app.store.threadEmails(ctx.account.id, threadIds as number[]);
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids) {
    const emails = threads.get(fromJmapId("thread", id) ?? -1);
    if (!emails) {
      notFound.push(id);
      continue;
    }
    const object: Args = { id };
    if (selected.includes("emailIds")) object.emailIds = emails.map((e) => toJmapId("email", e));
    list.push(object);
  }
  return { accountId: ctx.accountId, state, list, notFound };
}

async function changes(args: Args, ctx: MethodContext): Promise<Args> {
  return await changesResponse(args, ctx, ["Thread"], (n) => toJmapId("thread", n));
}

export const threadMethods: Record<string, MethodSpec> = {
  "Thread/get": { capability: MAIL, handler: get },
  "Thread/changes": { capability: MAIL, handler: changes },
};
