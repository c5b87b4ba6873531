/**
 * The certificate manager: the default certificate (configured files, or a self-signed one made
 * on first start), extra certificates chosen by SNI, and the `tls.SecureContext`s built from them.
 *
 * Implementation notes:
 * - `reload()` builds the complete new state before swapping it in, so a bad file leaves the
 *   running certificates untouched and handshakes in flight never see half a state.
 * - The self-signed pair lives in `tlsDir/self-signed.{crt,key}` (key mode 0600) and is reused
 *   across starts; it is made anew when it has expired or expires within
 *   `SELF_SIGNED_RENEW_DAYS`, when its names differ from the configured ones, or when the files
 *   are unreadable.
 * - A configured key is checked against its certificate (same SubjectPublicKeyInfo), so a
 *   mismatch fails at start with both file names instead of at the first handshake.
 * - An ACME-issued pair (`issued`, `useIssued()`) is the default certificate once there is one;
 *   `reload()` keeps it. Listeners ask for the context at each handshake, so a swap reaches new
 *   connections at once; `onChange` tells those that copy the PEM (Deno.serve for https). An
 *   unchanged pair keeps its TlsMaterial object across reloads.
 *
 * @example
 * const certificates = await CertificateManager.load({
 *   hostname: "mail.example.com", names: [], certificate: "", key: "", sni: [],
 *   tlsDir: "./data/tls",
 * });
 * tls.createServer({ SNICallback: certificates.sniCallback, ...});
 */
import crypto from "node:crypto";
import tls from "node:tls";
import { nameMatches } from "./names.ts";

export interface TlsMaterial {
  certificatePem: string;
  keyPem: string;
}

export interface CertificateFiles {
  certificate: string;
  key: string;
}

export interface CertificateOptions {
  /** server.hostname: the self-signed certificate's subject and first name. */
  hostname: string;
  /** Extra names for the self-signed certificate. */
  names: string[];
  /** PEM certificate (chain) file; "" together with `key` "" means self-signed. */
  certificate: string;
  key: string;
  sni: CertificateFiles[];
  /** Where the self-signed pair is kept. */
  tlsDir: string;
  /** An ACME-issued pair (from the store): the default certificate instead of the above. */
  issued?: TlsMaterial | null;
}

export interface CertificateDescription {
  subject: string;
  names: string[];
  notAfter: Date;
  selfSigned: boolean;
}

/** A certificate or key file is missing, unreadable, unparseable or mismatched. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertificateError";
  }
}

interface Entry extends CertificateDescription {
  material: TlsMaterial;
  context: tls.SecureContext;
}

const SELF_SIGNED_RENEW_DAYS = 30;

export class CertificateManager {
  readonly #options: CertificateOptions;
  #primary!: Entry;
  #sni: Entry[] = [];
  #issued: Entry | null = null;
  readonly #listeners = new Set<() => void>();

  private constructor(options: CertificateOptions) {
    this.#options = options;
    if (options.issued) this.#issued = entryFrom(options.issued, "(ACME)", "(ACME)", false);
  }

  /**
   * Makes an ACME-issued pair the default certificate (checked first: a bad pair throws and
   * changes nothing), then tells the `onChange` listeners.
   */
  useIssued(material: TlsMaterial): void {
    const entry = entryFrom(material, "(ACME)", "(ACME)", false);
    this.#issued = entry;
    this.#primary = entry;
    this.#notify();
  }

  /** Calls `listener` after every change of a certificate served; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  static async load(options: CertificateOptions): Promise<CertificateManager> {
    const manager = new CertificateManager(options);
    await manager.reload();
    return manager;
  }

  /** The default certificate's context. */
  secureContext(): tls.SecureContext {
    return this.#primary.context;
  }

  /** The default certificate and key as PEM (e.g. for `Deno.serve`). */
  material(): TlsMaterial {
    return this.#primary.material;
  }

  /** For `TLSSocket`/`tls.createServer`: an exact name match first, then a wildcard, else the default. */
  sniCallback = (
    servername: string,
    cb: (err: Error | null, ctx?: tls.SecureContext) => void,
  ): void => {
    cb(null, this.select(servername).context);
  };

  /** The certificate served for `servername`. */
  select(servername: string): CertificateDescription & { context: tls.SecureContext } {
    return this.#entryFor(servername);
  }

  /** The certificate and key served for `servername`, as PEM (the same object until changed). */
  materialFor(servername: string): TlsMaterial {
    return this.#entryFor(servername).material;
  }

  /** Every certificate and key served now, the default first. */
  materials(): TlsMaterial[] {
    return [this.#primary, ...this.#sni].map((entry) => entry.material);
  }

  #entryFor(servername: string): Entry {
    const all = [this.#primary, ...this.#sni];
    const name = servername.toLowerCase();
    return all.find((e) => e.names.includes(name)) ??
      all.find((e) => e.names.some((n) => nameMatches(n, name))) ??
      this.#primary;
  }

  describe(): CertificateDescription[] {
    return [this.#primary, ...this.#sni].map(({ subject, names, notAfter, selfSigned }) => ({
      subject,
      names: [...names],
      notAfter,
      selfSigned,
    }));
  }

  /** Re-reads every file (and renews the self-signed pair if due); all or nothing. */
  async reload(): Promise<void> {
    const { certificate, key, sni } = this.#options;
    let primary: Entry;
    if (this.#issued) primary = this.#issued;
    else if (certificate === "" && key === "") primary = await this.#selfSigned();
    else if (certificate === "" || key === "") {
      throw new CertificateError(
        "tls.certificate and tls.key must be set together (or both left empty for a " +
          "self-signed certificate)",
      );
    } else primary = await readPair(certificate, key);
    let extra = [];
    for (const files of sni) extra.push(await readPair(files.certificate, files.key));
    // An unchanged pair keeps its entry, so those who key by it (the https front) see no change.
    const known = [this.#primary, ...this.#sni].filter((entry) => entry !== undefined);
    const kept = (entry: Entry) => known.find((old) => samePair(old, entry)) ?? entry;
    primary = kept(primary);
    extra = extra.map(kept);
    const changed = this.#primary !== undefined &&
      (primary !== this.#primary || extra.length !== this.#sni.length ||
        extra.some((entry, i) => entry !== this.#sni[i]));
    this.#primary = primary;
    this.#sni = extra;
    if (changed) this.#notify();
  }

  async #selfSigned(): Promise<Entry> {
    const { hostname, names, tlsDir } = this.#options;
    const wanted = [...new Set([hostname, ...names].map((n) => n.toLowerCase()))];
    const certPath = `${tlsDir}/self-signed.crt`;
    const keyPath = `${tlsDir}/self-signed.key`;
    try {
      const existing = await readPair(certPath, keyPath, true);
      const renewAt = Date.now() + SELF_SIGNED_RENEW_DAYS * 86400 * 1000;
      if (existing.notAfter.getTime() > renewAt && sameNames(existing.names, wanted)) {
        return existing;
      }
    } catch {
      // Missing or unusable: make a new one below.
    }
    // Loaded only when a certificate must be made: @peculiar/x509 costs ~15 MB of memory.
    const { generateSelfSigned } = await import("./self_signed.ts");
    const material = await generateSelfSigned(wanted);
    await Deno.mkdir(tlsDir, { recursive: true });
    await writeAtomically(keyPath, material.keyPem, 0o600);
    await writeAtomically(certPath, material.certificatePem, 0o644);
    return entryFrom(material, certPath, keyPath, true);
  }
}

async function readPair(certPath: string, keyPath: string, selfSigned = false): Promise<Entry> {
  const material = {
    certificatePem: await readPem(certPath, "certificate"),
    keyPem: await readPem(keyPath, "key"),
  };
  return entryFrom(material, certPath, keyPath, selfSigned);
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be read (${(err as Error).message})`;
    throw new CertificateError(`TLS ${what} file "${path}" ${reason}`);
  }
}

function entryFrom(
  material: TlsMaterial,
  certPath: string,
  keyPath: string,
  generated: boolean,
): Entry {
  const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(
    material.certificatePem,
  );
  if (!pemBlock) {
    throw new CertificateError(`TLS certificate file "${certPath}" holds no PEM certificate`);
  }
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(pemBlock[0]);
  } catch (err) {
    throw new CertificateError(
      `TLS certificate file "${certPath}" cannot be parsed: ${(err as Error).message}`,
    );
  }
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(material.keyPem);
  } catch (err) {
    throw new CertificateError(
      `TLS key file "${keyPath}" holds no usable private key: ${(err as Error).message}`,
    );
  }
  if (!cert.checkPrivateKey(privateKey)) {
    throw new CertificateError(
      `TLS key file "${keyPath}" does not match the certificate in "${certPath}"`,
    );
  }
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ cert: material.certificatePem, key: material.keyPem });
  } catch (err) {
    throw new CertificateError(
      `TLS certificate "${certPath}" with key "${keyPath}" is unusable: ${(err as Error).message}`,
    );
  }
  return {
    material,
    context,
    subject: cert.subject,
    names: certificateNames(cert),
    notAfter: new Date(cert.validTo),
    selfSigned: generated || cert.subject === cert.issuer,
  };
}

/** DNS names of the SAN extension; the subject CN only when there is no SAN (RFC 6125 6.4.4). */
function certificateNames(cert: crypto.X509Certificate): string[] {
  const dns = (cert.subjectAltName ?? "").split(/,\s*/)
    .filter((entry) => entry.startsWith("DNS:"))
    .map((entry) => entry.slice(4).toLowerCase());
  if (dns.length > 0) return dns;
  return cert.subject.split("\n")
    .filter((field) => field.startsWith("CN="))
    .map((field) => field.slice(3).toLowerCase());
}

function sameNames(a: string[], b: string[]): boolean {
  const sa = [...new Set(a)].sort();
  const sb = [...new Set(b)].sort();
  return sa.length === sb.length && sa.every((n, i) => n === sb[i]);
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    await Deno.writeTextFile(tmp, text, { mode });
    await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

function samePair(a: Entry, b: Entry): boolean {
  return a.material.certificatePem === b.material.certificatePem &&
    a.material.keyPem === b.material.keyPem;
}
