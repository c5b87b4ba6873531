/**
 * Every JMAP capability Postern advertises and every method it answers. A capability is listed
 * only when all of its methods are here; a module adds itself with one import and one line.
 */
import type { Config } from "../config/schema.ts";
import type { Args, MethodSpec } from "./method.ts";
import type { JmapLimits } from "./limits.ts";
import { coreMethods } from "./core.ts";
import { mailboxMethods } from "./mailbox.ts";
import { threadMethods } from "./thread.ts";
import { emailMethods } from "./email.ts";
import { emailQueryMethods } from "./email_query.ts";
import { searchSnippetMethods } from "./search_snippet.ts";
import { emailSetMethods } from "./email_set.ts";
import * as push from "./push.ts";
import * as submission from "./submission.ts";
import * as blob from "./blob.ts";
import * as quota from "./quota.ts";
import * as sieve from "./sieve.ts";

export const CORE = "urn:ietf:params:jmap:core";
export const MAIL = "urn:ietf:params:jmap:mail";

export interface Capability {
  urn: string;
  /**
   * The value under `capabilities` in the session resource; `baseUrl` is the request's scheme and
   * host ("https://mail.example.com"), for capabilities that carry a URL (RFC 8887 4.1).
   */
  session(limits: JmapLimits, config: Config, baseUrl: string): Args;
  /** The value under each account's `accountCapabilities`, or null when it has none there. */
  account(limits: JmapLimits, config: Config): Args | null;
}

const BASE_CAPABILITIES: Capability[] = [
  {
    urn: CORE,
    session: (limits) => ({
      maxSizeUpload: limits.maxSizeUpload,
      maxConcurrentUpload: limits.maxConcurrentUpload,
      maxSizeRequest: limits.maxSizeRequest,
      maxConcurrentRequests: limits.maxConcurrentRequests,
      maxCallsInRequest: limits.maxCallsInRequest,
      maxObjectsInGet: limits.maxObjectsInGet,
      maxObjectsInSet: limits.maxObjectsInSet,
      collationAlgorithms: ["i;ascii-casemap", "i;ascii-numeric", "i;unicode-casemap"],
    }),
    account: () => ({}),
  },
  {
    urn: MAIL,
    session: () => ({}),
    account: (_limits, config) => ({
      maxMailboxesPerEmail: null,
      maxMailboxDepth: null,
      maxSizeMailboxName: 255,
      maxSizeAttachmentsPerEmail: config.limits.max_message_size,
      emailQuerySortOptions: [
        "receivedAt",
        "sentAt",
        "size",
        "from",
        "to",
        "subject",
        "hasKeyword",
        "allInThreadHaveKeyword",
        "someInThreadHaveKeyword",
      ],
      mayCreateTopLevelMailbox: true,
    }),
  },
];

/** Modules with capabilities of their own (each lists them only once they are complete). */
const MODULES: { capabilities: Capability[]; methods: Record<string, MethodSpec> }[] = [
  push,
  submission,
  blob,
  quota,
  sieve,
];

export const CAPABILITIES: Capability[] = [
  ...BASE_CAPABILITIES,
  ...MODULES.flatMap((module) => module.capabilities),
];

export const METHODS = new Map<string, MethodSpec>([
  ...Object.entries(coreMethods),
  ...Object.entries(mailboxMethods),
  ...Object.entries(threadMethods),
  ...Object.entries(emailMethods),
  ...Object.entries(emailQueryMethods),
  ...Object.entries(searchSnippetMethods),
  ...Object.entries(emailSetMethods),
  ...MODULES.flatMap((module) => Object.entries(module.methods)),
]);
