/** Core/echo (RFC 8620 4) and Blob/copy (RFC 8620 6.3). */
import {
  allowOnly,
  type Args,
  fail,
  type MethodContext,
  MethodError,
  type MethodSpec,
} from "./method.ts";
import { blobExists } from "./blob_access.ts";

const CORE = "urn:ietf:params:jmap:core";

async function blobCopy(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, ["fromAccountId", "accountId", "blobIds"]);
  if (typeof args.fromAccountId !== "string") fail("fromAccountId must be a string");
  if (typeof args.accountId !== "string") fail("accountId must be a string");
  if (args.fromAccountId !== ctx.accountId) throw new MethodError("fromAccountNotFound");
  if (args.accountId !== ctx.accountId) throw new MethodError("accountNotFound");
  const blobIds = args.blobIds;
  if (!Array.isArray(blobIds) || blobIds.some((id) => typeof id !== "string")) {
    fail("blobIds must be a list of ids");
  }
  const copied: Record<string, string> = {};
  const notCopied: Record<string, Args> = {};
  for (const blobId of blobIds as string[]) {
    // Same account: the blob is already there under the same id.
    if (await blobExists(ctx.app, ctx.account.id, blobId)) copied[blobId] = blobId;
    else notCopied[blobId] = { type: "blobNotFound" };
  }
  return {
    fromAccountId: ctx.accountId,
    accountId: ctx.accountId,
    copied: Object.keys(copied).length ? copied : null,
    notCopied: Object.keys(notCopied).length ? notCopied : null,
  };
}

export const coreMethods: Record<string, MethodSpec> = {
  "Core/echo": { capability: CORE, handler: (args) => Promise.resolve(args) },
  "Blob/copy": { capability: CORE, handler: blobCopy },
};
