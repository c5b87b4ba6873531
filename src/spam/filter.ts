/**
 * The spam filter as an inbound SMTP filter (src/smtp/filters.ts): scores each message from
 * another server for its local recipient accounts, adds the X-Spam-* header fields, files junk
 * per account and refuses what scores past the reject threshold.
 *
 * Implementation notes:
 * - Authenticated submission is never scored: it is the user's own mail.
 * - The stored message is one blob for all its local recipients, so its header fields can tell
 *   one verdict: that of the single recipient account when there is one, else the message-wide
 *   one (global model). Each account is still filed by its own verdict.
 * - A message is refused only when every recipient account's verdict (or, with none, the
 *   message-wide one) is "reject": a recipient whose own model trusts the message gets it.
 * - Every verdict goes to the log with its score and symbols (the delivery log).
 */
import type { FilterInput, FilterVerdict, InboundFilter } from "../smtp/filters.ts";
import type { AccountVerdict } from "../mail/deliver.ts";
import { logger } from "../observability/log.ts";
import { spamVerdicts } from "../observability/metrics.ts";
import { sieveSpamValue, type SpamEngine, spamHeaders } from "./engine.ts";
import type { SpamResult } from "./types.ts";

const log = logger("spam");
const SPAM_FIELDS = [
  "x-spam-status",
  "x-spam-score",
  "x-spam-result",
  "x-spam-flag",
  "x-spam-level",
];

export interface SpamFilterOptions {
  addHeaders: boolean;
}

export function spamFilter(engine: SpamEngine, options: SpamFilterOptions): InboundFilter {
  return {
    name: "spam",
    async check(input: FilterInput): Promise<FilterVerdict> {
      if (input.authenticated) return {};
      const scored = await engine.score(input.message, {
        sender: input.sender,
        recipients: input.recipients,
        remoteAddress: input.remoteAddress,
        helo: input.helo,
        authenticated: false,
      }, input.accountIds);
      const { junkThreshold } = engine.settings;
      const results = [...scored.accounts.values()];
      const shown: SpamResult = results.length === 1 ? results[0] : scored.message;
      log.info("spam verdict", {
        from: input.sender,
        score: shown.score,
        verdict: shown.verdict,
        symbols: shown.symbols.map((s) => `${s.name}(${s.score})`).join(" "),
        ...(results.length > 1
          ? { accounts: [...scored.accounts].map(([id, r]) => `${id}:${r.score}`).join(" ") }
          : {}),
      });
      const everyone = results.length > 0 ? results : [scored.message];
      const refused = everyone.every((r) => r.verdict === "reject");
      // One verdict per message: refused, or how it is filed (a lone "reject" is filed as junk).
      spamVerdicts.inc({ verdict: refused ? "reject" : shown.verdict === "ham" ? "ham" : "junk" });
      if (refused) {
        return {
          reject: {
            code: 550,
            enhanced: "5.7.1",
            text: `Message refused as spam (score ${shown.score.toFixed(1)})`,
          },
        };
      }
      const accounts = new Map<number, AccountVerdict>();
      for (const [id, result] of scored.accounts) {
        accounts.set(id, {
          mailboxRole: result.verdict === "ham" ? undefined : "junk",
          spam: sieveSpamValue(result, junkThreshold),
        });
      }
      return {
        headers: options.addHeaders ? spamHeaders(shown, junkThreshold) : undefined,
        // A sender's own X-Spam-* fields would pass for ours to mail clients' filters.
        removeFields: options.addHeaders ? SPAM_FIELDS : undefined,
        accounts,
      };
    },
  };
}
