/**
 * Per-account sender reputation (mox's idea): a sender the user wrote to, or whose mail the user
 * judged, is known; everyone else is a first-time sender and the classifier decides alone.
 *
 * Implementation notes:
 * - Only identities the message proves count, since From is trivial to forge: the From address
 *   when DMARC passed or a passing DKIM signature or SPF domain is aligned with it (relaxed, RFC
 *   7489 3.1), and the domains of passing DKIM signatures and of a passing SPF check.
 * - Addresses the user sent mail to are recorded as "sent"; a proven From address among them is
 *   a correspondent (strong ham evidence). Domains are not trusted for "sent": writing to one
 *   person at a freemail domain must not vouch for all its users.
 * - Judgements (the user's spam/ham training) are recorded for the proven identities; the most
 *   specific identity with a history decides: points = 5 · (spam − ham) / (spam + ham + 1),
 *   capped at ±4.
 */
import type { MessageFacts, SpamSymbol } from "./types.ts";
import type { SenderStats } from "../store/spam_types.ts";

const CORRESPONDENT_POINTS = -4;
const HISTORY_CAP = 4;

export interface SenderIdentities {
  /** Proven identities, most specific first: the From address (if proven), then domains. */
  proven: string[];
  /** The proven From address, if any. */
  address: string | null;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

/** Relaxed alignment: equal, or one is a subdomain of the other (no public-suffix list). */
function aligned(a: string, b: string): boolean {
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

/** The identities a message proves through its authentication results. */
export function senderIdentities(facts: MessageFacts): SenderIdentities {
  const from = facts.from[0]?.email.toLowerCase() ?? "";
  const fromDomain = from.includes("@") ? domainOf(from) : "";
  const domains: string[] = [];
  let fromProven = fromDomain !== "" && facts.auth.dmarc === "pass";
  for (const signature of facts.auth.dkim) {
    if (signature.result !== "pass" || !signature.domain) continue;
    const domain = signature.domain.toLowerCase();
    domains.push(domain);
    if (fromDomain && aligned(domain, fromDomain)) fromProven = true;
  }
  if (facts.auth.spf === "pass" && facts.auth.spfDomain) {
    const domain = facts.auth.spfDomain.toLowerCase();
    domains.push(domain);
    if (fromDomain && aligned(domain, fromDomain)) fromProven = true;
  }
  if (fromProven) domains.unshift(fromDomain);
  const address = fromProven ? from : null;
  const proven = [...new Set([...(address ? [address] : []), ...domains])];
  return { proven, address };
}

/** Reputation symbols for one account from its stats of the message's identities. */
export function reputationSymbols(
  identities: SenderIdentities,
  stats: Map<string, SenderStats>,
): SpamSymbol[] {
  const symbols: SpamSymbol[] = [];
  const own = identities.address ? stats.get(identities.address) : undefined;
  if (identities.address && own && own.sent > 0) {
    symbols.push({
      name: "REP_CORRESPONDENT",
      score: CORRESPONDENT_POINTS,
      detail: identities.address,
    });
  }
  for (const identity of identities.proven) {
    const entry = stats.get(identity);
    if (!entry || entry.ham + entry.spam === 0) continue;
    const points = Math.max(
      -HISTORY_CAP,
      Math.min(HISTORY_CAP, 5 * (entry.spam - entry.ham) / (entry.spam + entry.ham + 1)),
    );
    const score = Math.round(points * 100) / 100;
    if (score !== 0) {
      symbols.push({
        name: score > 0 ? "REP_SENDER_SPAM" : "REP_SENDER_HAM",
        score,
        detail: `${identity} ham=${entry.ham} spam=${entry.spam}`,
      });
    }
    break;
  }
  return symbols;
}

/** The identities to record as "sent" for a message the user sent: its recipients' addresses. */
export function sentIdentities(recipients: readonly string[]): string[] {
  return [...new Set(recipients.map((r) => r.toLowerCase()).filter((r) => r.includes("@")))];
}
