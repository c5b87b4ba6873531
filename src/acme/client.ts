/**
 * An RFC 8555 ACME client: directory, nonces, account, order, authorizations, challenges,
 * finalize and certificate download. It knows nothing of where the certificate goes; challenge
 * answers are handed to solvers (src/acme/http01.ts and tls_alpn01.ts serve them).
 *
 * Implementation notes:
 * - Every POST is a JWS with a fresh nonce: the last Replay-Nonce seen is used once, else one is
 *   fetched from newNonce (RFC 8555 7.2). A `badNonce` problem is retried with the nonce that
 *   came with it (RFC 8555 6.5), up to `BAD_NONCE_RETRIES` times.
 * - Resources are read with POST-as-GET (RFC 8555 6.3), never GET, except the directory and
 *   newNonce.
 * - Polling waits what Retry-After says (seconds or an HTTP date, RFC 8555 8.2), else
 *   `DEFAULT_POLL_MS`, each wait at most `MAX_POLL_WAIT_MS`, and gives up after
 *   `POLL_DEADLINE_MS`: the caller's back-off takes over from there.
 * - An authorization already `valid` (the CA reused it, RFC 8555 7.1.3) needs no challenge.
 * - Each authorization is answered with the first solver whose challenge type the CA offers
 *   for it; the solvers come in the order the configuration prefers.
 *
 * @example
 * const client = new AcmeClient({ directoryUrl, accountKey, contact: ["mailto:a@example.com"] });
 * const accountUrl = await client.account();
 * const { certificatePem, keyPem } = await client.issue(names, [http01Challenges]);
 */
import { type AccountKey, base64url, type FlattenedJws, keyAuthorization, signJws } from "./jws.ts";
import { createCsr } from "./csr.ts";

export interface AcmeDirectory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert?: string;
  keyChange?: string;
  meta?: { termsOfService?: string };
}

/** An RFC 7807 problem document from the CA (RFC 8555 6.7). */
export class AcmeProblem extends Error {
  constructor(
    readonly type: string,
    readonly detail: string,
    readonly status: number,
    readonly subproblems: unknown[] = [],
  ) {
    super(`${type}: ${detail} (HTTP ${status})`);
    this.name = "AcmeProblem";
  }
}

export interface AcmeClientOptions {
  directoryUrl: string;
  accountKey: AccountKey;
  /** "mailto:" URLs. */
  contact: string[];
  /** The account URL when it is already known (from the store). */
  accountUrl?: string;
  /** For the CA's HTTPS (Deno.createHttpClient with a test CA's root); default: system roots. */
  fetch?: typeof fetch;
  /** Aborts requests and waits in progress (server shutdown). */
  signal?: AbortSignal;
}

/** Answers one type of challenge: publishes the answer the CA will look for, then withdraws it. */
export interface ChallengeSolver {
  /** The challenge type, e.g. "http-01" or "tls-alpn-01" (RFC 8555 8.3, RFC 8737). */
  readonly type: string;
  publish(name: string, token: string, keyAuthorization: string): Promise<void> | void;
  withdraw(name: string, token: string): void;
}

export interface IssuedCertificate {
  /** Leaf first, then the chain, PEM. */
  certificatePem: string;
  keyPem: string;
}

interface Order {
  status: "pending" | "ready" | "processing" | "valid" | "invalid";
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: ProblemDocument;
}

interface Challenge {
  type: string;
  url: string;
  status: string;
  token?: string;
  error?: ProblemDocument;
}

interface Authorization {
  status: "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked";
  identifier: { type: string; value: string };
  challenges: Challenge[];
}

interface ProblemDocument {
  type?: string;
  detail?: string;
  subproblems?: unknown[];
}

const BAD_NONCE = "urn:ietf:params:acme:error:badNonce";
const BAD_NONCE_RETRIES = 10;
const DEFAULT_POLL_MS = 1000;
const MAX_POLL_WAIT_MS = 60_000;
const POLL_DEADLINE_MS = 5 * 60_000;

export class AcmeClient {
  readonly #options: AcmeClientOptions;
  readonly #fetch: typeof fetch;
  #directory: AcmeDirectory | null = null;
  #nonce: string | null = null;
  #accountUrl: string | null;
  #badNonceRetries = 0;

  constructor(options: AcmeClientOptions) {
    this.#options = options;
    const base = options.fetch ?? fetch;
    this.#fetch = options.signal
      ? (input, init) => base(input, { ...init, signal: options.signal })
      : base;
    this.#accountUrl = options.accountUrl ?? null;
  }

  get accountUrl(): string | null {
    return this.#accountUrl;
  }

  /** Requests sent again after a badNonce problem, since this client was made. */
  get badNonceRetries(): number {
    return this.#badNonceRetries;
  }

  async directory(): Promise<AcmeDirectory> {
    if (this.#directory) return this.#directory;
    const response = await this.#fetch(this.#options.directoryUrl);
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(
        `ACME directory ${this.#options.directoryUrl} answered HTTP ${response.status}`,
      );
    }
    const directory = await response.json() as AcmeDirectory;
    if (!directory.newNonce || !directory.newAccount || !directory.newOrder) {
      throw new Error(
        `ACME directory ${this.#options.directoryUrl} lacks newNonce/newAccount/newOrder`,
      );
    }
    this.#directory = directory;
    return directory;
  }

  /**
   * Creates the account, or finds the existing one for this key (RFC 8555 7.3, 7.3.1), agreeing
   * to the CA's terms of service. Returns the account URL.
   */
  async account(): Promise<string> {
    if (this.#accountUrl) return this.#accountUrl;
    const directory = await this.directory();
    const response = await this.#post(directory.newAccount, {
      termsOfServiceAgreed: true,
      contact: this.#options.contact,
    }, { useJwk: true });
    await response.body?.cancel();
    const location = response.headers.get("Location");
    if (!location) throw new Error("ACME newAccount answered without a Location (account URL)");
    this.#accountUrl = location;
    return location;
  }

  /**
   * The whole issuance: newOrder for `names`, every authorization through one of `solvers`,
   * finalize with a fresh key's CSR, and the chain download (RFC 8555 7.4 – 7.4.2).
   */
  async issue(names: string[], solvers: ChallengeSolver[]): Promise<IssuedCertificate> {
    const directory = await this.directory();
    await this.account();
    const created = await this.#post(directory.newOrder, {
      identifiers: names.map((value) => ({ type: "dns", value })),
    });
    const orderUrl = created.headers.get("Location");
    let order = await created.json() as Order;
    if (!orderUrl) throw new Error("ACME newOrder answered without a Location (order URL)");
    for (const url of order.authorizations) await this.#authorize(url, solvers);
    order = await this.#pollOrder(orderUrl, ["ready", "valid"]);
    const { csrDer, keyPem } = await createCsr(names);
    if (order.status === "ready") {
      const finalized = await this.#post(order.finalize, { csr: base64url(csrDer) });
      order = await finalized.json() as Order;
      if (order.status !== "valid") order = await this.#pollOrder(orderUrl, ["valid"]);
    } else {
      throw new Error("ACME order was valid before it was finalized; cannot match its key");
    }
    if (!order.certificate) throw new Error("ACME order is valid but names no certificate URL");
    const download = await this.#post(order.certificate, null, {
      accept: "application/pem-certificate-chain",
    });
    const certificatePem = await download.text();
    if (!certificatePem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new Error("ACME certificate download holds no PEM certificate");
    }
    return { certificatePem, keyPem };
  }

  async #authorize(url: string, solvers: ChallengeSolver[]): Promise<void> {
    let authorization = await this.#read<Authorization>(url);
    if (authorization.status === "valid") return;
    if (authorization.status !== "pending") {
      throw new Error(
        `ACME authorization for ${authorization.identifier.value} is ${authorization.status}`,
      );
    }
    const name = authorization.identifier.value;
    let solver: ChallengeSolver | undefined;
    let challenge: Challenge | undefined;
    for (const candidate of solvers) {
      challenge = authorization.challenges.find((c) => c.type === candidate.type && c.token);
      if (challenge) {
        solver = candidate;
        break;
      }
    }
    if (!solver || !challenge?.token) {
      throw new Error(
        `ACME CA offers no ${solvers.map((s) => s.type).join(" or ")} challenge for ${name}`,
      );
    }
    const token = challenge.token;
    await solver.publish(name, token, await keyAuthorization(this.#options.accountKey, token));
    try {
      // RFC 8555 7.5.1: the client says it is ready with an empty object.
      if (challenge.status === "pending") {
        const answered = await this.#post(challenge.url, {});
        await answered.body?.cancel();
      }
      const deadline = Date.now() + POLL_DEADLINE_MS;
      while (authorization.status === "pending") {
        if (Date.now() > deadline) {
          throw new Error(`ACME authorization for ${authorization.identifier.value} timed out`);
        }
        const response = await this.#post(url, null);
        const wait = retryAfterMs(response.headers.get("Retry-After"));
        authorization = await response.json() as Authorization;
        if (authorization.status === "pending") await delay(wait, this.#options.signal);
      }
    } finally {
      solver.withdraw(name, token);
    }
    if (authorization.status !== "valid") {
      const failed = authorization.challenges.find((c) => c.type === solver.type)?.error;
      throw new AcmeProblem(
        failed?.type ?? "urn:ietf:params:acme:error:unauthorized",
        `authorization for ${authorization.identifier.value} is ${authorization.status}` +
          (failed?.detail ? `: ${failed.detail}` : ""),
        200,
      );
    }
  }

  async #pollOrder(url: string, wanted: Order["status"][]): Promise<Order> {
    const deadline = Date.now() + POLL_DEADLINE_MS;
    for (;;) {
      const response = await this.#post(url, null);
      const wait = retryAfterMs(response.headers.get("Retry-After"));
      const order = await response.json() as Order;
      if (wanted.includes(order.status)) return order;
      if (order.status === "invalid") {
        throw new AcmeProblem(
          order.error?.type ?? "urn:ietf:params:acme:error:serverInternal",
          `order is invalid${order.error?.detail ? `: ${order.error.detail}` : ""}`,
          200,
        );
      }
      if (Date.now() > deadline) throw new Error(`ACME order stayed ${order.status}`);
      await delay(wait, this.#options.signal);
    }
  }

  async #read<T>(url: string): Promise<T> {
    const response = await this.#post(url, null);
    return await response.json() as T;
  }

  /** A signed POST; retries a badNonce; throws `AcmeProblem` on any other error status. */
  async #post(
    url: string,
    payload: unknown | null,
    options: { useJwk?: boolean; accept?: string } = {},
  ): Promise<Response> {
    for (let attempt = 0;; attempt++) {
      const nonce = await this.#takeNonce();
      const kid = options.useJwk ? undefined : this.#accountUrl ?? undefined;
      if (!options.useJwk && !kid) throw new Error("ACME request before the account exists");
      const body: FlattenedJws = await signJws(
        this.#options.accountKey,
        { nonce, url, kid },
        payload,
      );
      const response = await this.#fetch(url, {
        method: "POST",
        headers: {
          "Content-Type": "application/jose+json",
          ...(options.accept ? { Accept: options.accept } : {}),
        },
        body: JSON.stringify(body),
      });
      this.#nonce = response.headers.get("Replay-Nonce") ?? null;
      if (response.ok) return response;
      const problem = await problemOf(response);
      if (problem.type === BAD_NONCE && attempt < BAD_NONCE_RETRIES) {
        this.#badNonceRetries++;
        continue;
      }
      throw problem;
    }
  }

  async #takeNonce(): Promise<string> {
    const saved = this.#nonce;
    this.#nonce = null;
    if (saved) return saved;
    const directory = await this.directory();
    const response = await this.#fetch(directory.newNonce, { method: "HEAD" });
    await response.body?.cancel();
    const nonce = response.headers.get("Replay-Nonce");
    if (!nonce) {
      throw new Error(`ACME newNonce answered HTTP ${response.status} without a Replay-Nonce`);
    }
    return nonce;
  }
}

async function problemOf(response: Response): Promise<AcmeProblem> {
  const text = await response.text();
  try {
    const problem = JSON.parse(text) as ProblemDocument;
    return new AcmeProblem(
      problem.type ?? "about:blank",
      problem.detail ?? "",
      response.status,
      problem.subproblems,
    );
  } catch {
    return new AcmeProblem("about:blank", text.slice(0, 200), response.status);
  }
}

/** Retry-After as milliseconds to wait (delta-seconds or an HTTP date), within bounds. */
export function retryAfterMs(value: string | null, now = Date.now()): number {
  if (!value) return DEFAULT_POLL_MS;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return DEFAULT_POLL_MS;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_POLL_WAIT_MS);
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
