/**
 * The outbound queue: accepts messages durably, and a worker pool delivers each recipient —
 * by MX (or through the relay host), or straight into a local mailbox when the domain is ours —
 * retrying on the configured schedule, and telling the sender with DSNs (RFC 3464) when a
 * recipient fails, is delayed, or (NOTIFY=SUCCESS) is delivered.
 *
 * Implementation notes:
 * - `enqueue` resolves only after the blob and the rows are committed: callers answer 250 after.
 * - The worker leases due recipients from the store (`claimDue`), groups them per message and
 *   domain (one SMTP transaction per group), and records every outcome in one transaction. A
 *   kill -9 between a host's 250 and that record is the only way a recipient is sent twice.
 * - Hosts: MX records in preference order (src/dns/mx.ts), each host's A then AAAA addresses,
 *   at most MAX_ADDRESSES tried per attempt. A host that fails as a whole (connection, greeting,
 *   TLS, 4xx to MAIL) passes the recipients to the next; per-recipient replies are final for the
 *   attempt. MTA-STS `enforce` keeps only matching MX hosts and demands verified TLS.
 * - Never a bounce for a bounce: a message with the null reverse-path gets no DSN of any kind.
 * - DSN requests (NOTIFY, ORCPT, ENVID, RET) travel on to hosts that offer DSN; for hosts that
 *   do not, NOTIFY=SUCCESS is answered here with a "relayed" DSN (RFC 3461 5.2.2).
 */
import net from "node:net";
import type { Store } from "../../store/types.ts";
import type {
  AttemptResult,
  DsnNotify,
  QueuedMessage,
  QueuedRecipient,
} from "../../store/types.ts";
import { type BlobStore, sha256Hex } from "../../store/blobs.ts";
import type { Directory } from "../../directory/directory.ts";
import type { MessagePath } from "../../mail/ingest.ts";
import { deliverLocal } from "../../mail/deliver.ts";
import type { Resolver } from "../../dns/resolver.ts";
import { resolveMailHosts } from "../../dns/mx.ts";
import { logger } from "../../observability/log.ts";
import { buildDsn, type DsnRecipient } from "../dsn.ts";
import { deliveredTo } from "../inbound_data.ts";
import { prependHeaders, returnPathHeader } from "../received.ts";
import {
  type ClientOptions,
  type Envelope,
  formatReply,
  localReply,
  type Reply,
  sendTransaction,
  type TlsMode,
} from "./client.ts";
import type { MtaSts } from "../mta_sts.ts";
import { mxMatches } from "../mta_sts.ts";
import {
  messagesBounced,
  messagesDeferred,
  messagesDelivered,
  messagesQueued,
} from "../../observability/metrics.ts";

const log = logger("queue");

/** Addresses (over all MX hosts) tried in one attempt before the recipients wait for a retry. */
const MAX_ADDRESSES = 10;
/** A lease outlives any attempt (MAX_ADDRESSES connections bounded by the timeouts). */
const LEASE_MS = 2 * 60 * 60 * 1000;
/** The longest the worker sleeps without looking at the queue. */
const MAX_SLEEP_MS = 60_000;

export interface RelayHost {
  host: string;
  port: number;
  tls: "starttls" | "implicit" | "none";
  username: string;
  password: string;
}

export interface QueueOptions {
  store: Store;
  blobs: BlobStore;
  directory: Directory;
  messages: MessagePath;
  resolver: Resolver;
  /** Our host name: EHLO, Reporting-MTA, DSN sender. */
  hostname: string;
  helo: string;
  concurrency: number;
  /** Seconds between attempts; the last value repeats. */
  retry: number[];
  /** Seconds a message may stay queued. */
  expire: number;
  /** Seconds before a delay notice; 0 = never. */
  delayNotice: number;
  connectTimeout: number;
  replyTimeout: number;
  remotePort: number;
  /** Local IP to send from; "" = the system's choice. */
  sourceAddress: string;
  relay: RelayHost | null;
  mtaSts: MtaSts | null;
  ca: string[];
  now?: () => Date;
}

export interface EnqueueInput {
  /** "" for the null reverse-path. */
  sender: string;
  recipients: { address: string; notify?: DsnNotify[]; orcpt?: string | null }[];
  message: Uint8Array;
  envelopeId?: string | null;
  ret?: "FULL" | "HDRS" | null;
  body?: "7BIT" | "8BITMIME" | "BINARYMIME";
  smtputf8?: boolean;
  requireTls?: boolean;
  source: string;
}

interface Outcome {
  recipient: QueuedRecipient;
  status: "delivered" | "failed" | "deferred";
  reply: Reply;
  host: string | null;
  /** The host took the DSN request on (it offers DSN), so no "relayed" notice from us. */
  dsnRelayed: boolean;
  local: boolean;
}

export class OutboundQueue {
  readonly #opts: QueueOptions;
  readonly #now: () => Date;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #woken = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: QueueOptions) {
    this.#opts = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** Starts the worker; leases left by a previous (killed) process are dropped first. */
  async start(): Promise<void> {
    if (this.#running) return;
    await this.#opts.store.releaseLeases();
    this.#running = true;
    this.#loop = this.#run();
  }

  /**
   * Stops claiming and waits up to `graceMs` for deliveries in progress. One still running then
   * is abandoned like a crash: its outcome is not recorded and it is tried again after restart.
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([Promise.allSettled([...this.#inFlight]), timeout]);
    clearTimeout(timer);
    if (this.#inFlight.size > 0) {
      log.warn("deliveries still running at shutdown; they will be retried", {
        count: this.#inFlight.size,
      });
    }
  }

  /** Makes the worker look at the queue now (after enqueue, `queue retry`). */
  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /** Stores a message for delivery; resolves once it is durable. */
  async enqueue(input: EnqueueInput): Promise<QueuedMessage> {
    const hash = sha256Hex(input.message);
    const arrivedAt = this.#now();
    const known = await this.#opts.store.blobKnown(hash);
    if (!known) await this.#opts.blobs.put(hash, input.message);
    const queued = await this.#opts.store.enqueue({
      blobHash: hash,
      blobWritten: !known,
      size: input.message.length,
      returnPath: input.sender,
      envelopeId: input.envelopeId ?? null,
      ret: input.ret ?? null,
      body: input.body ?? (has8bit(input.message) ? "8BITMIME" : "7BIT"),
      smtputf8: input.smtputf8 ?? false,
      requireTls: input.requireTls ?? false,
      source: input.source,
      arrivedAt,
      expiresAt: new Date(arrivedAt.getTime() + this.#opts.expire * 1000),
      recipients: input.recipients.map((r) => ({
        address: r.address,
        notify: r.notify ?? [],
        orcpt: r.orcpt ?? null,
      })),
    });
    messagesQueued.inc();
    log.info("queued", {
      queue_id: queued.id,
      from: input.sender,
      recipients: input.recipients.map((r) => r.address),
      size: input.message.length,
      source: input.source,
    });
    this.wake();
    return queued;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      this.#woken = false;
      try {
        const free = this.#opts.concurrency - this.#inFlight.size;
        if (free > 0) {
          const claimed = await this.#opts.store.claimDue(this.#now(), free * 20, LEASE_MS);
          for (const job of jobsOf(claimed, await this.#localDomains(claimed))) {
            const work = this.#deliver(job.message, job.recipients, job.local)
              .catch((error) =>
                log.error("delivery attempt failed", {
                  queue_id: job.message.id,
                  error: error instanceof Error ? error : String(error),
                })
              );
            const tracked = work.finally(() => {
              this.#inFlight.delete(tracked);
              this.wake();
            });
            this.#inFlight.add(tracked);
            // Over the limit (one claim may hold many groups): wait for a slot.
            while (this.#inFlight.size >= this.#opts.concurrency) {
              await Promise.race(this.#inFlight);
            }
          }
        }
      } catch (error) {
        log.error("queue worker error", { error: error instanceof Error ? error : String(error) });
      }
      if (this.#woken || !this.#running) continue;
      await this.#sleep();
    }
  }

  async #sleep(): Promise<void> {
    let ms = MAX_SLEEP_MS;
    try {
      const due = await this.#opts.store.nextQueueDue(this.#now());
      if (due) ms = Math.min(ms, Math.max(0, due.getTime() - this.#now().getTime()) + 5);
    } catch {
      // Sleep the full time; the next pass logs what is wrong.
    }
    if (this.#woken) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = null;
  }

  async #localDomains(messages: QueuedMessage[]): Promise<Set<string>> {
    const local = new Set<string>();
    const domains = new Set(messages.flatMap((m) => m.recipients.map((r) => r.domain)));
    for (const domain of domains) {
      if (await this.#opts.directory.isLocalDomain(domain)) local.add(domain);
    }
    return local;
  }

  async #deliver(message: QueuedMessage, recipients: QueuedRecipient[], local: boolean) {
    let bytes: Uint8Array;
    try {
      bytes = await this.#opts.blobs.get(message.blobHash);
    } catch (error) {
      log.error("queued message's blob is missing", { queue_id: message.id, error: String(error) });
      const reply = localReply(451, "4.3.0", "message file missing in the queue");
      return await this.#finish(
        message,
        recipients.map((recipient) => ({
          recipient,
          status: "deferred",
          reply,
          host: null,
          dsnRelayed: false,
          local,
        })),
      );
    }
    const outcomes = local
      ? await this.#deliverLocally(message, recipients, bytes)
      : await this.#deliverRemote(message, recipients, bytes);
    await this.#finish(message, outcomes);
  }

  async #deliverLocally(
    message: QueuedMessage,
    recipients: QueuedRecipient[],
    bytes: Uint8Array,
  ): Promise<Outcome[]> {
    const raw = prependHeaders(
      returnPathHeader(message.returnPath) + deliveredTo(recipients),
      bytes,
    );
    const results = await deliverLocal(
      this.#opts.messages,
      this.#opts.directory,
      raw,
      recipients.map((r) => r.address),
    );
    return results.map((result, index): Outcome => {
      const recipient = recipients[index];
      const base = { recipient, host: this.#opts.hostname, dsnRelayed: false, local: true };
      if (result.status === "delivered") {
        return { ...base, status: "delivered", reply: localReply(250, "2.0.0", "delivered") };
      }
      switch (result.code) {
        case "quota":
          return { ...base, status: "deferred", reply: localReply(452, "4.2.2", "mailbox full") };
        case "unknown_recipient":
          return { ...base, status: "failed", reply: localReply(550, "5.1.1", result.error) };
        case "too_large":
          return { ...base, status: "failed", reply: localReply(552, "5.3.4", result.error) };
        case "depth":
        case "parts":
        case "header_size":
          return { ...base, status: "failed", reply: localReply(554, "5.6.0", result.error) };
        default:
          return { ...base, status: "deferred", reply: localReply(451, "4.3.0", result.error) };
      }
    });
  }

  async #deliverRemote(
    message: QueuedMessage,
    recipients: QueuedRecipient[],
    bytes: Uint8Array,
  ): Promise<Outcome[]> {
    const domain = recipients[0].domain;
    /** The same outcome for every recipient; `fail` unless the trouble may pass. */
    const all = (reply: Reply, host: string | null, fail: boolean) =>
      recipients.map((recipient): Outcome => ({
        recipient,
        status: fail ? "failed" : "deferred",
        reply,
        host,
        dsnRelayed: false,
        local: false,
      }));

    const route = await this.#route(domain, message.requireTls);
    if ("reply" in route) return all(route.reply, null, route.reply.code >= 500);

    const envelope: Envelope = {
      from: message.returnPath,
      recipients: recipients.map((r) => ({
        address: r.address,
        notify: r.notify,
        orcpt: r.orcpt,
      })),
      envelopeId: message.envelopeId,
      ret: message.ret,
      body: message.body,
      smtputf8: message.smtputf8,
      requireTls: message.requireTls,
    };
    let last: Reply = localReply(451, "4.4.4", `no usable host for ${domain}`);
    let lastHost: string | null = null;
    let returnIfLast = false;
    let tried = 0;
    for (const host of route.hosts) {
      if (tried >= MAX_ADDRESSES) break;
      const addresses = await this.#addresses(host.name);
      if (addresses.length === 0) {
        last = localReply(451, "4.4.4", `no address for ${host.name}`);
        returnIfLast = false;
        continue;
      }
      for (const address of addresses) {
        if (tried++ >= MAX_ADDRESSES) break;
        const options: ClientOptions = {
          host: host.name,
          address,
          port: host.port,
          sourceAddress: net.isIPv6(address) === net.isIPv6(this.#opts.sourceAddress || address)
            ? this.#opts.sourceAddress
            : "",
          helo: this.#opts.helo,
          tls: route.tls,
          ca: this.#opts.ca,
          auth: route.auth,
          connectTimeoutMs: this.#opts.connectTimeout * 1000,
          replyTimeoutMs: this.#opts.replyTimeout * 1000,
          log,
        };
        const result = await sendTransaction(options, envelope, bytes);
        lastHost = host.name;
        if (result.kind === "host") {
          last = result.reply;
          log.info("host failed", {
            queue_id: message.id,
            host: host.name,
            address,
            reply: formatReply(result.reply),
          });
          if (result.verdict === "bounce") return all(result.reply, host.name, true);
          returnIfLast = result.verdict === "bounce_if_last";
          continue;
        }
        return recipients.map((recipient, index): Outcome => {
          const reply = result.replies[index];
          return {
            recipient,
            status: reply.code < 300 ? "delivered" : reply.code >= 500 ? "failed" : "deferred",
            reply,
            host: host.name,
            dsnRelayed: result.dsnRelayed,
            local: false,
          };
        });
      }
    }
    return all(last, lastHost, returnIfLast);
  }

  /** The hosts to try for a domain, with the TLS they need; or a reply for every recipient. */
  async #route(domain: string, requireTls: boolean): Promise<
    | { reply: Reply }
    | {
      hosts: { name: string; port: number }[];
      tls: TlsMode;
      auth?: { username: string; password: string };
    }
  > {
    const relay = this.#opts.relay;
    if (relay) {
      return {
        hosts: [{ name: relay.host, port: relay.port }],
        tls: relay.tls === "implicit" ? "implicit" : relay.tls === "none" ? "none" : "verified",
        auth: relay.username ? { username: relay.username, password: relay.password } : undefined,
      };
    }
    const route = await resolveMailHosts(this.#opts.resolver, domain);
    switch (route.kind) {
      case "null_mx":
        return { reply: localReply(556, "5.1.10", `${domain} accepts no mail (null MX)`) };
      case "none":
        return {
          reply: localReply(550, "5.1.2", `${domain} has no mail server (no MX, A or AAAA)`),
        };
      case "temporary":
        return {
          reply: localReply(451, "4.4.3", `DNS lookup for ${domain} failed: ${route.reason}`),
        };
    }
    let hosts = route.hosts.map((h) => ({ name: h.name, port: this.#opts.remotePort }));
    let tls: TlsMode = requireTls ? "verified" : "opportunistic";
    const policy = this.#opts.mtaSts ? await this.#opts.mtaSts.policyFor(domain) : null;
    if (policy?.mode === "enforce") {
      tls = "verified";
      const allowed = hosts.filter((h) => mxMatches(policy.mx, h.name));
      if (allowed.length === 0) {
        return {
          reply: localReply(451, "4.7.5", `no MX host of ${domain} matches its MTA-STS policy`),
        };
      }
      hosts = allowed;
    } else if (policy?.mode === "testing") {
      for (const host of hosts) {
        if (!mxMatches(policy.mx, host.name)) {
          log.warn("MX host not in MTA-STS policy (testing mode)", { domain, host: host.name });
        }
      }
    }
    return { hosts, tls };
  }

  async #addresses(host: string): Promise<string[]> {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(":")) return [host];
    const [v4, v6] = await Promise.allSettled([
      this.#opts.resolver.a(host),
      this.#opts.resolver.aaaa(host),
    ]);
    return [
      ...(v4.status === "fulfilled" ? v4.value : []),
      ...(v6.status === "fulfilled" ? v6.value : []),
    ];
  }

  /** Records the outcomes, computes retries and expiry, sends the DSNs, drops a done message. */
  async #finish(message: QueuedMessage, outcomes: Outcome[]): Promise<void> {
    const now = this.#now();
    const results: AttemptResult[] = [];
    const failed: Outcome[] = [];
    const succeeded: Outcome[] = [];
    const deferred: Outcome[] = [];
    for (const outcome of outcomes) {
      const { recipient } = outcome;
      const reply = formatReply(outcome.reply);
      if (outcome.status === "delivered") {
        results.push({ recipientId: recipient.id, status: "delivered", reply, host: outcome.host });
        succeeded.push(outcome);
        continue;
      }
      if (outcome.status === "deferred" && now < message.expiresAt) {
        const wait = this.#opts.retry[Math.min(recipient.attempts, this.#opts.retry.length - 1)];
        const next = Math.min(now.getTime() + wait * 1000, message.expiresAt.getTime());
        results.push({
          recipientId: recipient.id,
          status: "queued",
          nextAttemptAt: new Date(next),
          reply,
          host: outcome.host,
        });
        deferred.push(outcome);
        continue;
      }
      if (outcome.status === "deferred") {
        // Expired: the last temporary error becomes permanent (RFC 3463 X.4.7).
        outcome.reply = {
          code: 554,
          enhanced: "5.4.7",
          lines: [`gave up after ${days(message)}: ${reply}`],
        };
      }
      results.push({
        recipientId: recipient.id,
        status: "failed",
        reply: formatReply(outcome.reply),
        host: outcome.host,
      });
      failed.push(outcome);
    }
    await this.#opts.store.recordAttempts(results, now);
    // Local copies were counted by deliverLocal.
    messagesDelivered.inc({ destination: "remote" }, succeeded.filter((o) => !o.local).length);
    messagesDeferred.inc(undefined, deferred.length);
    messagesBounced.inc(undefined, failed.length);
    for (const outcome of outcomes) {
      log.info(outcome.status === "delivered" ? "delivered" : outcome.status, {
        queue_id: message.id,
        to: outcome.recipient.address,
        host: outcome.host,
        reply: formatReply(outcome.reply),
        attempt: outcome.recipient.attempts + 1,
      });
    }

    await this.#notify(message, failed.filter((o) => wants(o, "FAILURE")), "failed", now);
    await this.#notify(
      message,
      succeeded.filter((o) => o.recipient.notify.includes("SUCCESS") && !o.dsnRelayed),
      "success",
      now,
    );
    if (
      deferred.length > 0 && !message.delayNotified && this.#opts.delayNotice > 0 &&
      now.getTime() - message.arrivedAt.getTime() >= this.#opts.delayNotice * 1000
    ) {
      await this.#notify(message, deferred.filter((o) => wants(o, "DELAY")), "delayed", now);
      await this.#opts.store.markDelayNotified(message.id);
    }
    await this.#opts.store.removeFinished(message.id);
  }

  async #notify(
    message: QueuedMessage,
    outcomes: Outcome[],
    kind: "failed" | "delayed" | "success",
    now: Date,
  ): Promise<void> {
    if (outcomes.length === 0 || message.returnPath === "") return;
    let original: Uint8Array;
    try {
      original = await this.#opts.blobs.get(message.blobHash);
    } catch {
      original = new TextEncoder().encode("\r\n");
    }
    await this.report(
      { ...message, original },
      outcomes.map((o): DsnRecipient => ({
        address: o.recipient.address,
        originalRecipient: o.recipient.orcpt ?? undefined,
        action: kind === "failed"
          ? "failed"
          : kind === "delayed"
          ? "delayed"
          : o.local
          ? "delivered"
          : "relayed",
        status: o.reply.enhanced ?? defaultStatus(o.reply.code),
        remoteMta: o.local ? undefined : o.host ?? undefined,
        diagnostic: o.local ? undefined : diagnostic(o.reply),
        lastAttempt: now,
        willRetryUntil: kind === "delayed" ? message.expiresAt : undefined,
      })),
      now,
    );
  }

  /**
   * Queues a DSN about `recipients` to the message's sender; nothing for the null sender (never
   * a bounce for a bounce, RFC 3461 6.2). Also used by inbound SMTP for recipients it delivered
   * (NOTIFY=SUCCESS) or failed after DATA.
   */
  async report(
    message: {
      returnPath: string;
      envelopeId: string | null;
      ret: "FULL" | "HDRS" | null;
      arrivedAt: Date;
      smtputf8: boolean;
      original: Uint8Array;
    },
    recipients: DsnRecipient[],
    now = this.#now(),
  ): Promise<void> {
    if (recipients.length === 0 || message.returnPath === "") return;
    const dsn = buildDsn({
      reportingMta: this.#opts.hostname,
      to: message.returnPath,
      envelopeId: message.envelopeId ?? undefined,
      arrivalDate: message.arrivedAt,
      recipients,
      original: message.original,
      ret: message.ret ?? "HDRS",
      date: now,
    });
    await this.enqueue({
      sender: "",
      recipients: [{ address: message.returnPath }],
      message: dsn,
      source: "dsn",
      smtputf8: message.smtputf8,
    });
  }
}

function defaultStatus(code: number): string {
  return code >= 500 ? "5.0.0" : code >= 400 ? "4.0.0" : "2.0.0";
}

/** NOTIFY absent means failures and delays are reported (RFC 3461 4.1); NEVER means none. */
function wants(outcome: Outcome, kind: DsnNotify): boolean {
  const notify = outcome.recipient.notify;
  return notify.length === 0 ? kind !== "SUCCESS" : notify.includes(kind);
}

function days(message: QueuedMessage): string {
  const seconds = (message.expiresAt.getTime() - message.arrivedAt.getTime()) / 1000;
  if (seconds >= 2 * 86400) return `${Math.round(seconds / 86400)} days`;
  if (seconds >= 2 * 3600) return `${Math.round(seconds / 3600)} hours`;
  if (seconds >= 120) return `${Math.round(seconds / 60)} minutes`;
  return `${Math.round(seconds)} seconds`;
}

/** The reply as a DSN Diagnostic-Code (lines kept apart; dsn.ts folds them). */
function diagnostic(reply: Reply): string {
  const prefix = reply.enhanced ? `${reply.code} ${reply.enhanced}` : `${reply.code}`;
  return reply.lines.map((line) => `${prefix} ${line}`.trimEnd()).join("\n");
}

function has8bit(message: Uint8Array): boolean {
  for (const byte of message) if (byte >= 0x80) return true;
  return false;
}

/** One job per message and recipient domain; local domains are delivered in one job. */
function jobsOf(
  messages: QueuedMessage[],
  localDomains: Set<string>,
): { message: QueuedMessage; recipients: QueuedRecipient[]; local: boolean }[] {
  const jobs: { message: QueuedMessage; recipients: QueuedRecipient[]; local: boolean }[] = [];
  for (const message of messages) {
    const groups = new Map<string, QueuedRecipient[]>();
    for (const recipient of message.recipients) {
      const key = localDomains.has(recipient.domain) ? "" : recipient.domain;
      const group = groups.get(key) ?? [];
      group.push(recipient);
      groups.set(key, group);
    }
    for (const [key, recipients] of groups) {
      jobs.push({ message, recipients, local: key === "" });
    }
  }
  return jobs;
}
