/**
 * The one schema of config.toml. Defaults live here and nowhere else; config.toml documents them.
 * Sizes accept integers (bytes) or strings with a unit ("50M", "1G"); durations accept integers
 * (seconds) or strings with a unit ("30s", "5m", "1h", "2d").
 */
import { z } from "zod";

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
};
const DURATION_UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

function unitNumber(units: Record<string, number>, what: string) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    if (typeof value === "number") {
      if (!Number.isFinite(value) || value < 0) {
        ctx.addIssue({
          code: "custom",
          message: `expected a non-negative ${what}, found ${value}`,
        });
        return z.NEVER;
      }
      return value;
    }
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
    const unit = match?.[2].toLowerCase() ?? "";
    if (!match || !(unit in units)) {
      ctx.addIssue({
        code: "custom",
        message: `expected a ${what} like ${
          what === "size" ? '"50M" or 1048576' : '"30s", "5m" or 30'
        }, found ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return Math.round(Number(match[1]) * units[unit]);
  });
}

/** Bytes. */
export const size = () => unitNumber(SIZE_UNITS, "size");
/** Seconds. */
export const duration = () => unitNumber(DURATION_UNITS, "duration");

const listenAddress = z.string().refine(
  (value) => value === "" || parseListenAddress(value) !== null,
  (value) => ({
    message: `expected "host:port" (e.g. "0.0.0.0:25" or "[::]:25") or "" to disable, found ${
      JSON.stringify(value)
    }`,
  }),
);

export function parseListenAddress(value: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(value);
  if (!match) return null;
  const port = Number(match[3]);
  if (port > 65535) return null;
  return { host: match[1] ?? match[2], port };
}

export const SERVICES = [
  "smtp",
  "submission",
  "submissions",
  "imap",
  "imaps",
  "pop3",
  "pop3s",
  "managesieve",
  "http",
  "https",
] as const;
export type ServiceName = typeof SERVICES[number];

const DEFAULT_PORTS: Record<ServiceName, number> = {
  smtp: 25,
  submission: 587,
  submissions: 465,
  imap: 143,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
  managesieve: 4190,
  http: 80,
  https: 443,
};

const hostnameSchema = z.string().min(1).max(253).regex(
  /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/,
  "expected a DNS host name such as mail.example.com",
);

const listenersShape = Object.fromEntries(
  SERVICES.map((s) => [s, listenAddress.default(`0.0.0.0:${DEFAULT_PORTS[s]}`)]),
) as Record<ServiceName, z.ZodDefault<typeof listenAddress>>;

export const configSchema = z.object({
  server: z.object({
    hostname: hostnameSchema.default("localhost"),
    /** The first mail domain; "" derives it from hostname (mail.example.com → example.com). */
    domain: z.union([z.literal(""), hostnameSchema]).default(""),
    data_dir: z.string().min(1).default("./data"),
    shutdown_grace: duration().default(30),
    admin_account: z.string().min(1).default("admin"),
  }).strict().default({}),
  listeners: z.object(listenersShape).strict().default({}),
  tls: z.object({
    certificate: z.string().default(""),
    key: z.string().default(""),
    /** Extra names the self-signed certificate covers, besides server.hostname. */
    names: z.array(hostnameSchema).default([]),
    /** Further certificate/key pairs chosen by SNI. */
    sni: z.array(
      z.object({ certificate: z.string().min(1), key: z.string().min(1) }).strict(),
    ).default([]),
  }).strict().default({}),
  /** Certificates from an ACME CA (RFC 8555) for server.hostname and tls.names (src/acme/). */
  acme: z.object({
    enabled: z.boolean().default(false),
    /** The CA's directory URL. */
    directory: z.string().url().default("https://acme-v02.api.letsencrypt.org/directory"),
    /** E-mail address the CA may write to about the account; "" = none. */
    contact: z.union([z.literal(""), z.string().email()]).default(""),
    /** Renew a certificate when it expires within this long. */
    renew_before: duration().default("30d"),
    /** PEM file of a CA root trusted for the directory's HTTPS (a test CA); "" = system roots. */
    ca_certificate: z.string().default(""),
    /**
     * How the CA checks each name: HTTP-01 on the http listener (port 80), or TLS-ALPN-01
     * (RFC 8737) on the https listener (port 443), which then runs behind a small front.
     */
    challenge: z.enum(["http-01", "tls-alpn-01"]).default("http-01"),
  }).strict().default({}),
  store: z.object({
    backend: z.literal("sqlite").default("sqlite"),
    sqlite_path: z.string().default("postern.db"),
    blob_dir: z.string().default("blobs"),
  }).strict().default({}),
  limits: z.object({
    max_message_size: size().default("50M"),
    max_header_size: size().default("1M"),
    max_mime_depth: z.number().int().min(1).max(10_000).default(100),
    max_mime_parts: z.number().int().min(1).max(1_000_000).default(10_000),
    max_line_length: size().default("64K"),
    max_connections: z.number().int().min(1).default(10_000),
    max_connections_per_ip: z.number().int().min(1).default(50),
    idle_timeout: duration().default("30m"),
  }).strict().default({}),
  dns: z.object({
    /** "host:port" of the recursive resolver to ask; "" uses the first in /etc/resolv.conf. */
    nameserver: listenAddress.default(""),
    timeout: duration().default("5s"),
  }).strict().default({}),
  smtp: z.object({
    /** The text after the code and host name in the 220 greeting. */
    greeting: z.string().max(200).default("ESMTP Postern"),
    max_recipients: z.number().int().min(1).max(100_000).default(100),
    max_messages_per_connection: z.number().int().min(1).default(100),
    /** Errors (4xx/5xx replies to the client) before the session is closed. */
    max_errors: z.number().int().min(1).default(20),
    command_timeout: duration().default("5m"),
    data_timeout: duration().default("10m"),
    /** A bare CR or LF in DATA: "reject" (554 5.6.0, the SMTP smuggling defence) or "normalize". */
    bare_line_ends: z.enum(["reject", "normalize"]).default("reject"),
    /** Where mail failing DMARC with p=quarantine goes: the recipient's Junk, or the inbox. */
    dmarc_quarantine: z.enum(["junk", "inbox"]).default("junk"),
    /** Received fields a message may carry before it is refused as a loop (RFC 5321 6.3). */
    max_hops: z.number().int().min(1).max(1000).default(50),
    /** Answer VRFY/EXPN truthfully (they reveal which addresses exist); off: 252 for VRFY. */
    allow_vrfy: z.boolean().default(false),
  }).strict().default({}),
  pop3: z.object({
    /** Accept USER/PASS and AUTH on the plaintext pop3 port before STLS (passwords in clear). */
    allow_plaintext_auth: z.boolean().default(false),
    /** -ERR responses a client may provoke before the session is closed. */
    max_errors: z.number().int().min(1).default(20),
  }).strict().default({}),
  imap: z.object({
    /** LOGIN/AUTHENTICATE without TLS on port 143. Only for a trusted network. */
    allow_plaintext_auth: z.boolean().default(false),
    /** Simultaneous IMAP sessions one account may have. */
    max_connections_per_user: z.number().int().min(1).max(10_000).default(20),
    /** Commands a session may send per second; faster clients are slowed down, not cut off. */
    max_commands_per_second: z.number().int().min(1).max(100_000).default(200),
    /** Deepest parenthesis nesting in a command (SEARCH groups, NOT and OR). */
    max_nesting_depth: z.number().int().min(2).max(1000).default(16),
    /** Search keys in one SEARCH, SORT or THREAD. */
    max_search_keys: z.number().int().min(10).max(100_000).default(1000),
    /** Messages of recently used mailboxes kept in memory for all sessions (~250 bytes each). */
    cache_messages: z.number().int().min(1000).max(100_000_000).default(200_000),
  }).strict().default({}),
  sieve: z.object({
    /** AUTHENTICATE on the managesieve port before STARTTLS (passwords in clear). */
    allow_plaintext_auth: z.boolean().default(false),
    /** Largest script (UTF-8 bytes) PUTSCRIPT and CHECKSCRIPT take. */
    max_script_size: size().default("64K"),
    /** Scripts one account may keep. */
    max_scripts: z.number().int().min(1).max(10_000).default(32),
    /** Deepest nesting of blocks and tests in a script. */
    max_nesting_depth: z.number().int().min(2).max(1000).default(32),
    /** Redirect actions one script run may take (MAXREDIRECTS, RFC 5804 1.7). */
    max_redirects: z.number().int().min(0).max(1000).default(4),
    /** Actions of any kind one script run may take. */
    max_actions: z.number().int().min(1).max(10_000).default(32),
    /** How deep `include` may nest scripts (RFC 6609). */
    max_include_depth: z.number().int().min(1).max(100).default(10),
    /** How long `duplicate` remembers a message without :seconds (RFC 7352). */
    duplicate_period: duration().default("7d"),
    /** Work one script run may do (commands, tests, compared values) before it is stopped. */
    max_steps: z.number().int().min(1000).max(100_000_000).default(1_000_000),
  }).strict().default({}),
  jmap: z.object({
    /** Largest API request body. */
    max_size_request: size().default("10M"),
    /** Method calls in one API request. */
    max_calls_in_request: z.number().int().min(1).max(10_000).default(64),
    /** Ids in one /get, and create+update+destroy in one /set. */
    max_objects_in_get: z.number().int().min(1).max(1_000_000).default(1000),
    max_objects_in_set: z.number().int().min(1).max(1_000_000).default(1000),
    /** API requests one account may have in progress at once. */
    max_concurrent_requests: z.number().int().min(1).max(10_000).default(8),
    /** Largest upload, and uploads one account may have in progress at once. */
    max_size_upload: size().default("50M"),
    max_concurrent_upload: z.number().int().min(1).max(10_000).default(4),
    /** How long an uploaded blob is kept while nothing uses it. */
    upload_ttl: duration().default("24h"),
    /** Serve JMAP on the plain `http` listener to other machines (passwords in clear). */
    allow_plaintext_http: z.boolean().default(false),
    /** Push connections (EventSource and WebSocket) one account may hold. */
    max_push_connections: z.number().int().min(1).max(10_000).default(10),
  }).strict().default({}),
  dav: z.object({
    /** Largest XML request body (PROPFIND, PROPPATCH, REPORT, LOCK, MKCOL). */
    max_xml_size: size().default("1M"),
    /** Element nesting and element count of one XML body. */
    max_xml_depth: z.number().int().min(8).max(1000).default(64),
    max_xml_elements: z.number().int().min(100).max(10_000_000).default(50_000),
    /** Largest calendar object (iCalendar) or contact (vCard). */
    max_object_size: size().default("1M"),
    /** Largest file in the WebDAV file space. */
    max_file_size: size().default("1G"),
    /** Instances one recurrence expansion may produce, and the time it may take (ms). */
    max_instances: z.number().int().min(100).max(1_000_000).default(10_000),
    expansion_budget_ms: z.number().int().min(10).max(60_000).default(250),
    /** Answer PROPFIND with Depth: infinity (off: 403 propfind-finite-depth, RFC 4918 9.1). */
    allow_depth_infinity: z.boolean().default(false),
    /** Longest lock a client may take; longer requests get this. */
    max_lock_timeout: duration().default("1h"),
    /** Sync tokens stay valid at least this long after a member is removed. */
    sync_token_retention: duration().default("90d"),
    /** Serve DAV on the plain `http` listener to other machines (passwords in clear). */
    allow_plaintext_http: z.boolean().default(false),
  }).strict().default({}),
  /** The MTA-STS policy (RFC 8461) served at https://mta-sts.<domain>/.well-known/mta-sts.txt. */
  mta_sts: z.object({
    mode: z.enum(["testing", "enforce", "none"]).default("testing"),
    /** How long senders cache the policy; at most one year (RFC 8461 3.2). */
    max_age: duration().refine((v) => v <= 31_557_600, "expected at most one year (31557600 s)")
      .default(604800),
    /** MX host names the policy allows ("*.example.com" allowed); [] = server.hostname. */
    mx: z.array(
      z.string().regex(
        /^(\*\.)?[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/,
        "expected an MX host name such as mail.example.com or *.example.com",
      ),
    ).default([]),
  }).strict().default({}),
  spam: z.object({
    /** Score inbound mail from other servers (authenticated submission is never scored). */
    enabled: z.boolean().default(true),
    /** Points at which a message is filed into the recipient's Junk mailbox. */
    junk_threshold: z.number().min(0.1).max(1000).default(5),
    /** Points at which a message is refused at the end of DATA (550 5.7.1); 0: never. */
    reject_threshold: z.number().min(0).max(1000).default(15),
    /** Add X-Spam-Status, X-Spam-Score and X-Spam-Result to delivered messages. */
    add_headers: z.boolean().default(true),
    /** Extra rules file (TOML, format in src/spam/default_rules.ts); same names replace. */
    rules: z.string().default(""),
    /** Query the DNS block lists named in the rules (through [dns]). */
    dns_lists: z.boolean().default(true),
    /** Time all block-list lookups of one message may take. */
    dns_list_timeout: duration().default("2s"),
    /** Treat loopback and private client addresses like public ones in IP block lists (tests). */
    dns_lists_check_private: z.boolean().default(false),
    /** Learn from users' judgements (Junk moves, $Junk/$NotJunk) and replies. */
    learn: z.boolean().default(true),
    /** Per-account reputation of verified senders and of addresses the user wrote to. */
    reputation: z.boolean().default(true),
    greylist: z.object({
      /** Defer first-time (network, sender, recipient) triplets with 451 4.7.1. */
      enabled: z.boolean().default(false),
      delay: duration().default("5m"),
      /** A triplet not retried within this time starts over. */
      retry_window: duration().default("24h"),
      /** A triplet that passed is let through without delay for this long after it was seen. */
      pass_ttl: duration().default("35d"),
      /** Client networks never greylisted (a local relay, monitoring). */
      exempt: z.array(z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/)).default([
        "127.0.0.0/8",
        "::1/128",
      ]),
    }).strict().default({}),
    llm: z.object({
      /** OpenAI-compatible API base (e.g. "http://127.0.0.1:8080/v1"); "": no LLM verdict. */
      endpoint: z.string().default(""),
      model: z.string().default(""),
      /** Bearer key for the endpoint; may also come from POSTERN_LLM_API_KEY. */
      api_key: z.string().default(""),
      timeout: duration().default("10s"),
      /** Calls per hour at most; messages beyond get no LLM verdict. */
      max_per_hour: z.number().int().min(1).max(1_000_000).default(100),
      /** Only messages scoring in [band_low, band_high) before the LLM ask it. */
      band_low: z.number().default(2),
      band_high: z.number().default(8),
      /** Characters of body text sent. */
      max_chars: z.number().int().min(100).max(100_000).default(3000),
    }).strict().default({}),
  }).strict().default({}),
  queue: z.object({
    /** Outbound deliveries (SMTP transactions) in flight at once. */
    concurrency: z.number().int().min(1).max(1000).default(16),
    /** Waits between attempts; the last one repeats until `expire`. */
    retry: z.array(duration()).min(1).default(["2m", "5m", "10m", "20m", "40m", "1h"]),
    /** After this long in the queue a recipient fails and its sender gets a DSN. */
    expire: duration().default("5d"),
    /** A still-queued message's sender is told once, after this long; 0 = never. */
    delay_notice: duration().default("4h"),
    /** Longest wait for a connection, and for any reply of a remote host. */
    connect_timeout: duration().default("30s"),
    reply_timeout: duration().default("5m"),
    /** The port remote MX hosts are reached on. Only tests change it. */
    remote_port: z.number().int().min(1).max(65535).default(25),
    /** Local IP address outbound connections come from; "" = the system's choice. */
    source_address: z.union([z.literal(""), z.string().ip()]).default(""),
    /** Name in our EHLO; "" = server.hostname. */
    helo_name: z.string().default(""),
    /** Look up and enforce the recipient domain's MTA-STS policy (RFC 8461). */
    mta_sts: z.boolean().default(true),
    /** PEM file of extra CA certificates trusted for MTA-STS and the relay host. */
    ca_file: z.string().default(""),
    /** Send everything through this host ("host:port"; "" = deliver by MX). */
    relay_host: z.string().default(""),
    /** "starttls" (required, verified), "implicit" (TLS on connect, port 465) or "none". */
    relay_tls: z.enum(["starttls", "implicit", "none"]).default("starttls"),
    relay_username: z.string().default(""),
    relay_password: z.string().default(""),
  }).strict().default({}),
  auth: z.object({
    max_failures_per_ip: z.number().int().min(1).default(10),
    max_failures_per_account: z.number().int().min(1).default(20),
    failure_window: duration().default("15m"),
    argon2_memory: size().default("19M"),
    argon2_iterations: z.number().int().min(1).max(100).default(2),
    /** How long a verified login skips the password hash check; 0 = always check. */
    cache_ttl: duration().default("10m"),
  }).strict().default({}),
  directory: z.object({
    sub_address_separator: z.string().max(1).default("+"),
    default_quota: size().default(0),
  }).strict().default({}),
  log: z.object({
    level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    format: z.enum(["json", "text"]).default("text"),
    file: z.string().default(""),
  }).strict().default({}),
  /** Prometheus metrics at GET /metrics on the http and https listeners. */
  metrics: z.object({
    enabled: z.boolean().default(true),
    /** Bearer token a scraper outside `allow` presents; "" = none (only `allow` gets in). */
    token: z.string().default(""),
    /** Client networks let in without the token. */
    allow: z.array(z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/)).default([
      "127.0.0.0/8",
      "::1/128",
    ]),
  }).strict().default({}),
  /** The management API under /api (src/api/). */
  admin: z.object({
    /** Accounts that may use it; [] = [server] admin_account at the first domain. */
    accounts: z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/, "expected an address")).default([]),
    /** Largest JSON request body (and web admin form). */
    max_request_size: size().default("1M"),
    /** A web admin session (/admin) ends after this long without a request. */
    session_idle: duration().default("30m"),
    /** A web admin session ends this long after its login, however active. */
    session_max: duration().default("12h"),
  }).strict().default({}),
}).strict();

export type Config = z.infer<typeof configSchema>;
export type LimitsConfig = Config["limits"];
