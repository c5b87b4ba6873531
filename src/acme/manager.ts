/**
 * Keeps an ACME certificate for `[server] hostname` plus `[tls] names`: issues one when there is
 * none (or the names changed), renews it `renew_before` ahead of expiry, stores account and
 * certificate in the store, and hands each new certificate to the CertificateManager, which
 * makes it the default for every listener.
 *
 * Implementation notes:
 * - One check runs at a time, on a timer: at start, then when the certificate enters its
 *   renewal window, at least daily (`CHECK_INTERVAL_MS`). `stop()` aborts a check in progress
 *   (its requests and polling waits), so shutdown never waits on the CA.
 * - A failed issuance is logged and retried after 1 min, doubling each time, at most a day
 *   apart (`MIN_BACKOFF_MS`, `MAX_BACKOFF_MS`); the certificate in use (the last one issued, or
 *   the self-signed one before the first) stays until a new one is in hand.
 * - The account key is made once per directory and kept in the store; the account URL with it.
 *   If the CA no longer knows the account (`accountDoesNotExist`), the URL is dropped and the
 *   next attempt registers the same key again.
 * - A renew_before longer than the certificate's lifetime would renew at once, forever; then
 *   the next renewal is at half the remaining lifetime instead (and a warning says so).
 *
 * @example
 * const acme = new AcmeManager({ ...options, certificates, solvers, store: app.store.acme });
 * acme.start();
 * await acme.stop();
 */
import crypto from "node:crypto";
import { AcmeClient, AcmeProblem, type ChallengeSolver } from "./client.ts";
import { exportAccountKey, generateAccountKey, importAccountKey } from "./jws.ts";
import type { AcmeStore } from "../store/acme_types.ts";
import type { CertificateManager, TlsMaterial } from "../tls/certificates.ts";
import { type Logger, logger } from "../observability/log.ts";

export interface AcmeManagerOptions {
  /** The ACME directory URL. */
  directory: string;
  /** E-mail address for the CA's notices; "" registers without one. */
  contact: string;
  /** Renew when the certificate expires within this many seconds. */
  renewBeforeSeconds: number;
  /** PEM roots trusted for the directory's HTTPS besides the system's (a test CA); "" none. */
  caCertificatePem: string;
  /** The certificate's names; the first is its subject. */
  names: string[];
  store: AcmeStore;
  certificates: CertificateManager;
  /** Who answers the CA's challenges, preferred first (src/acme/http01.ts, tls_alpn01.ts). */
  solvers: ChallengeSolver[];
  log?: Logger;
}

const MIN_BACKOFF_MS = 60_000;
const MAX_BACKOFF_MS = 86_400_000;
const CHECK_INTERVAL_MS = 86_400_000;
/** Shortest wait before a renewal of a certificate already inside renew_before. */
const MIN_RENEW_WAIT_MS = 1000;

export class AcmeManager {
  readonly #options: AcmeManagerOptions;
  readonly #log: Logger;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  #failures = 0;
  #stopped = false;
  #httpClient: Deno.HttpClient | null = null;
  readonly #abort = new AbortController();

  constructor(options: AcmeManagerOptions) {
    this.#options = { ...options, names: uniqueNames(options.names) };
    this.#log = options.log ?? logger("acme");
  }

  /**
   * The stored certificate for `directory` when it is usable (parses, key matches, not
   * expired): the default certificate at start, before any check.
   */
  static async storedMaterial(
    store: AcmeStore,
    directory: string,
    log: Logger = logger("acme"),
  ): Promise<TlsMaterial | null> {
    const stored = await store.latestCertificate(directory);
    if (!stored) return null;
    try {
      const { notAfter } = inspect(stored);
      if (notAfter.getTime() <= Date.now()) return null;
      return { certificatePem: stored.certificatePem, keyPem: stored.keyPem };
    } catch (error) {
      log.warn("stored ACME certificate is unusable; a new one will be ordered", { error });
      return null;
    }
  }

  /** Starts the checks; the first runs at once. */
  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort.abort(new Error("server shutting down"));
    await this.#running;
    this.#httpClient?.close();
    this.#httpClient = null;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.#check().finally(() => this.#running = null);
    }, Math.min(ms, MAX_BACKOFF_MS));
  }

  async #check(): Promise<void> {
    let wait: number;
    try {
      const renewAt = await this.#renewAt();
      if (renewAt !== null && renewAt > Date.now()) {
        wait = Math.min(renewAt - Date.now(), CHECK_INTERVAL_MS);
      } else {
        await this.#issue();
        wait = Math.min((await this.#renewAt() ?? Date.now()) - Date.now(), CHECK_INTERVAL_MS);
      }
      this.#failures = 0;
    } catch (error) {
      if (this.#stopped) return;
      this.#failures++;
      wait = retryDelayMs(this.#failures);
      this.#log.warn("ACME certificate order failed", {
        error: error instanceof Error ? error : String(error),
        names: this.#options.names,
        attempt: this.#failures,
        retry_in_seconds: Math.round(wait / 1000),
      });
    }
    this.#schedule(Math.max(wait, 0));
  }

  /**
   * When the stored certificate is due for renewal (ms since the epoch); null when there is
   * none, it is unusable, or it was ordered for other names.
   */
  async #renewAt(): Promise<number | null> {
    const { store, directory, names, renewBeforeSeconds } = this.#options;
    const stored = await store.latestCertificate(directory);
    if (!stored || !sameNames(stored.names, names)) return null;
    let notAfter: Date;
    try {
      notAfter = inspect(stored).notAfter;
    } catch {
      return null; // Unusable (storedMaterial said so at start): order a new one.
    }
    const renewAt = renewalTime(stored.issuedAt, notAfter, renewBeforeSeconds);
    if (renewAt > Date.now() && renewAt !== notAfter.getTime() - renewBeforeSeconds * 1000) {
      this.#log.warn("acme.renew_before is longer than the certificate's lifetime", {
        renew_at: new Date(renewAt).toISOString(),
      });
    }
    return renewAt;
  }

  async #issue(): Promise<void> {
    const { store, directory, names, contact } = this.#options;
    let account = await store.getAccount(directory);
    if (!account) {
      account = { directory, keyJwk: await exportAccountKey(await generateAccountKey()), url: "" };
      await store.saveAccount(account);
    }
    const client = new AcmeClient({
      directoryUrl: directory,
      accountKey: await importAccountKey(account.keyJwk),
      contact: contact ? [`mailto:${contact}`] : [],
      accountUrl: account.url || undefined,
      fetch: this.#fetch(),
      signal: this.#abort.signal,
    });
    this.#log.info("ordering ACME certificate", { names, directory });
    let issued;
    try {
      const url = await client.account();
      if (url !== account.url) await store.saveAccount({ ...account, url });
      issued = await client.issue(names, this.#options.solvers);
    } catch (error) {
      if (
        error instanceof AcmeProblem &&
        error.type === "urn:ietf:params:acme:error:accountDoesNotExist"
      ) {
        await store.saveAccount({ ...account, url: "" });
      }
      throw error;
    }
    const { notAfter, serial, issuer } = inspect(issued);
    // Installed before it is stored: a pair the TLS stack refuses is never kept.
    this.#options.certificates.useIssued(issued);
    await store.saveCertificate({
      directory,
      names,
      certificatePem: issued.certificatePem,
      keyPem: issued.keyPem,
      notAfter,
      issuedAt: new Date(),
    });
    this.#log.info("ACME certificate issued", {
      names,
      serial,
      issuer,
      not_after: notAfter.toISOString(),
    });
  }

  #fetch(): typeof fetch | undefined {
    const { caCertificatePem } = this.#options;
    if (!caCertificatePem) return undefined;
    this.#httpClient ??= Deno.createHttpClient({ caCerts: [caCertificatePem] });
    const client = this.#httpClient;
    return (input, init) => fetch(input, { ...init, client });
  }
}

/** Wait before retry number `failures` (1, 2, ...): 1 min, doubling, at most a day. */
export function retryDelayMs(failures: number): number {
  return Math.min(MIN_BACKOFF_MS * 2 ** Math.max(failures - 1, 0), MAX_BACKOFF_MS);
}

/**
 * When a certificate is renewed (ms since the epoch): `renewBeforeSeconds` ahead of its expiry,
 * or, when that is not after its issuance, halfway through its lifetime.
 */
export function renewalTime(issuedAt: Date, notAfter: Date, renewBeforeSeconds: number): number {
  const renewAt = notAfter.getTime() - renewBeforeSeconds * 1000;
  if (renewAt > issuedAt.getTime()) return renewAt;
  return issuedAt.getTime() +
    Math.max((notAfter.getTime() - issuedAt.getTime()) / 2, MIN_RENEW_WAIT_MS);
}

function inspect(material: { certificatePem: string; keyPem: string }) {
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(
    material.certificatePem,
  );
  if (!leaf) throw new Error("no PEM certificate");
  const cert = new crypto.X509Certificate(leaf[0]);
  if (!cert.checkPrivateKey(crypto.createPrivateKey(material.keyPem))) {
    throw new Error("the key does not match the certificate");
  }
  return {
    notAfter: new Date(cert.validTo),
    serial: cert.serialNumber,
    issuer: cert.issuer.replace(/\n/g, ", "),
  };
}

function uniqueNames(names: string[]): string[] {
  return [...new Set(names.map((n) => n.toLowerCase()))];
}

function sameNames(a: string[], b: string[]): boolean {
  const sa = uniqueNames(a).sort();
  const sb = uniqueNames(b).sort();
  return sa.length === sb.length && sa.every((n, i) => n === sb[i]);
}
