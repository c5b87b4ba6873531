/**
 * The JMAP session resource (RFC 8620 2): capabilities with their limits, the one account a
 * login owns, and the URLs of the API, upload, download and push endpoints.
 */
import type { Config } from "../config/schema.ts";
import type { Account } from "../store/types.ts";
import type { Args } from "./method.ts";
import type { JmapLimits } from "./limits.ts";
import { CAPABILITIES } from "./registry.ts";
import { toJmapId } from "./ids.ts";

export function sessionResource(
  account: Account,
  baseUrl: string,
  limits: JmapLimits,
  config: Config,
): Args {
  const accountId = toJmapId("account", account.id);
  const capabilities: Args = {};
  const accountCapabilities: Args = {};
  const primaryAccounts: Args = {};
  for (const capability of CAPABILITIES) {
    capabilities[capability.urn] = capability.session(limits, config, baseUrl);
    const perAccount = capability.account(limits, config);
    if (perAccount) {
      accountCapabilities[capability.urn] = perAccount;
      primaryAccounts[capability.urn] = accountId;
    }
  }
  const session: Args = {
    capabilities,
    accounts: {
      [accountId]: {
        name: account.address,
        isPersonal: true,
        isReadOnly: false,
        accountCapabilities,
      },
    },
    primaryAccounts,
    username: account.address,
    apiUrl: `${baseUrl}/jmap/api`,
    downloadUrl: `${baseUrl}/jmap/download/{accountId}/{blobId}/{name}?accept={type}`,
    uploadUrl: `${baseUrl}/jmap/upload/{accountId}/`,
    eventSourceUrl: `${baseUrl}/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}`,
  };
  session.state = sessionState(session);
  return session;
}

/** Changes whenever anything in the session resource does (capabilities, limits, accounts). */
export function sessionState(session: Args): string {
  const text = JSON.stringify(session);
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0).toString(36);
}
