/** The inbound SMTP session's options, taken from config.toml (`[smtp]`, `[limits]`). */
import type { App } from "../app.ts";
import { primaryDomain } from "../app.ts";
import type { BareLineEnds } from "./wire/data.ts";
import type { MessagePath } from "../mail/ingest.ts";
import type { Directory } from "../directory/directory.ts";
import type { Resolver } from "../dns/resolver.ts";
import type { AuthOptions } from "./inbound_auth.ts";
import type { OutboundQueue } from "./outbound/queue.ts";
import type { InboundFilter } from "./filters.ts";
import type { Greylist } from "../spam/greylist.ts";

export interface InboundSmtpOptions {
  hostname: string;
  /** Text after the host name in the 220 greeting. */
  greeting: string;
  maxMessageSize: number;
  maxRecipients: number;
  maxMessagesPerConnection: number;
  maxErrors: number;
  /** Seconds; 0 disables. */
  commandTimeout: number;
  dataTimeout: number;
  bareLineEnds: BareLineEnds;
  allowVrfy: boolean;
  /** Received fields allowed before a message is refused as a loop. */
  maxHops: number;
  /** The domain a bare `RCPT TO:<postmaster>` means. */
  postmasterDomain: string;
  messages: MessagePath;
  directory: Directory;
  /**
   * Submission mode (RFC 6409, listeners `submission`/`submissions`): AUTH over TLS, MAIL only
   * from an authenticated account's own addresses, no relay.
   */
  submission: boolean;
  /** SPF/DKIM/DMARC/ARC/iprev checks; absent: none (no resolver given). */
  auth?: AuthOptions;
  /** Remote recipients (submission), external forwards and DSNs go here. */
  queue?: OutboundQueue;
  /** Content filters between acceptance and filing (the spam filter). */
  filters?: readonly InboundFilter[];
  /** Greylisting at RCPT for mail from other servers; absent: none. */
  greylist?: Greylist | null;
  /** Told about each accepted submission (the spam filter learns correspondents and replies). */
  onSubmitted?: (accountId: number, recipients: string[], message: Uint8Array) => void;
}

/** The whole authentication check may take this many resolver timeouts (lookups are serial). */
const AUTH_TIMEOUTS = 3;

/** The session's options from the app's config. */
export function inboundSmtpOptions(
  app: App,
  resolver?: Resolver,
  queue?: OutboundQueue,
): InboundSmtpOptions {
  const { config } = app.loaded;
  return {
    hostname: config.server.hostname,
    greeting: config.smtp.greeting,
    maxMessageSize: config.limits.max_message_size,
    maxRecipients: config.smtp.max_recipients,
    maxMessagesPerConnection: config.smtp.max_messages_per_connection,
    maxErrors: config.smtp.max_errors,
    commandTimeout: config.smtp.command_timeout,
    dataTimeout: config.smtp.data_timeout,
    bareLineEnds: config.smtp.bare_line_ends,
    allowVrfy: config.smtp.allow_vrfy,
    maxHops: config.smtp.max_hops,
    postmasterDomain: primaryDomain(app.loaded),
    messages: app.messages,
    directory: app.directory,
    submission: false,
    queue,
    filters: app.spam?.filter ? [app.spam.filter] : [],
    greylist: app.spam?.greylist,
    onSubmitted: app.spam
      ? (accountId, recipients, message) =>
        void app.spam?.trainer.noteSent(accountId, recipients, message)
      : undefined,
    auth: resolver && {
      hostname: config.server.hostname,
      resolver,
      timeoutMs: config.dns.timeout * 1000 * AUTH_TIMEOUTS,
      quarantineTo: config.smtp.dmarc_quarantine,
    },
  };
}

/** The submission session's options: like port 25's, without sender authentication checks. */
export function submissionSmtpOptions(app: App, queue?: OutboundQueue): InboundSmtpOptions {
  return { ...inboundSmtpOptions(app, undefined, queue), submission: true };
}
