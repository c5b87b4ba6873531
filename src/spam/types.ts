/**
 * The spam filter's shared vocabulary: what the analysis of a message offers the rules and the
 * classifier, and what scoring produces. The pipeline is engine.ts; the parts are analyze.ts
 * (facts), rules.ts (rule data), tokenize.ts and bayes.ts (classifier), reputation.ts, dnsbl.ts,
 * greylist.ts and llm.ts.
 */
import type { MimePart } from "../mail/mime.ts";
import type { EmailAddress } from "../mail/address.ts";

/** One matched test, with the points it added (negative: looks legitimate). */
export interface SpamSymbol {
  name: string;
  score: number;
  /** Extra detail for the log and X-Spam-Result (a list name, a host, a probability). */
  detail?: string;
}

export type SpamVerdict = "ham" | "junk" | "reject";

export interface SpamResult {
  score: number;
  verdict: SpamVerdict;
  symbols: SpamSymbol[];
}

/** The SMTP transaction around a message. */
export interface Envelope {
  /** MAIL FROM; "" for the null reverse-path. */
  sender: string;
  recipients: string[];
  remoteAddress: string;
  helo: string;
  /** The client's verified PTR name (iprev pass), if any. */
  reverseName?: string;
  /** True for authenticated submission (never scored). */
  authenticated: boolean;
  /** When the message arrived; absent: now. Date checks compare with it (replayed corpora). */
  receivedAt?: Date;
}

/** The results our own Authentication-Results field recorded ("none" when a method is absent). */
export interface AuthFacts {
  spf: string;
  /** MAIL FROM domain SPF judged. */
  spfDomain: string | null;
  /** One result per signature. */
  dkim: { result: string; domain: string }[];
  dmarc: string;
  /** The From domain DMARC judged. */
  dmarcDomain: string | null;
  arc: string;
  iprev: string;
}

export interface LinkFact {
  /** The URL as written (href, or found in text). */
  url: string;
  /** Lower-cased host name (punycode kept as written), "" when none could be read. */
  host: string;
  /** Anchor text for HTML links ("" for plain-text URLs). */
  text: string;
}

export interface AttachmentFact {
  /** Lower-cased "type/subtype". */
  type: string;
  /** File name as given (decoded), "" when none. */
  name: string;
  /** Encoded size in bytes. */
  size: number;
}

/** Everything rules and the classifier read, computed once per message by analyze.ts. */
export interface MessageFacts {
  raw: Uint8Array;
  mime: MimePart;
  /** Header fields of the top-level message in order: lower-cased name, unfolded decoded value. */
  headers: { name: string; value: string }[];
  subject: string;
  from: EmailAddress[];
  replyTo: EmailAddress[];
  to: EmailAddress[];
  /** Plain text of the body: text parts, and HTML parts turned to text (capped). */
  text: string;
  /** The HTML of the body's HTML parts, joined (capped); "" when there is none. */
  html: string;
  links: LinkFact[];
  attachments: AttachmentFact[];
  /** Inline and attached images. */
  images: number;
  envelope: Envelope;
  auth: AuthFacts;
}

/**
 * A DNS block list from the rules file (rules.ts parses it, dnsbl.ts queries it): the query is
 * the target reversed (addresses) or as is (domains) under `zone`.
 */
export interface DnsListRule {
  name: string;
  /**
   * "ip": the connecting client's address; "sender": the MAIL FROM and From domains; "helo":
   * the HELO name; "uri": the registered domains of the message's links.
   */
  target: "ip" | "sender" | "helo" | "uri";
  zone: string;
  /** Answer address (e.g. "127.0.0.2") → points; "*" matches any answer not listed. */
  answers: Record<string, number>;
  description: string;
}
