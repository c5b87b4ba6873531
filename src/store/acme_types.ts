/**
 * ACME state kept in the store, so it survives restarts and is shared by every node: the
 * account (key and URL) per directory, and the certificates issued.
 */

export interface AcmeAccount {
  directory: string;
  /** The account's private key as a JWK (JSON text). */
  keyJwk: string;
  /** The account URL (the JWS `kid`); "" until the CA assigned one. */
  url: string;
}

export interface AcmeCertificate {
  id: number;
  directory: string;
  /** The names the certificate was ordered for, in order. */
  names: string[];
  /** Leaf first, then the chain. */
  certificatePem: string;
  keyPem: string;
  notAfter: Date;
  issuedAt: Date;
}

export interface AcmeStore {
  getAccount(directory: string): Promise<AcmeAccount | null>;
  saveAccount(account: AcmeAccount): Promise<void>;
  /** The newest certificate issued by `directory`, or null. */
  latestCertificate(directory: string): Promise<AcmeCertificate | null>;
  /** Keeps a new certificate; older ones of the same directory are dropped. */
  saveCertificate(certificate: Omit<AcmeCertificate, "id">): Promise<AcmeCertificate>;
}
