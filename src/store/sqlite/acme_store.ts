/**
 * ACME accounts and issued certificates on SQLite (src/store/acme_types.ts has the model;
 * tables from migration 12).
 */
import { attempt, type Row, type Sql } from "./sql.ts";
import type { AcmeAccount, AcmeCertificate, AcmeStore } from "../acme_types.ts";

export class SqliteAcmeStore implements AcmeStore {
  constructor(readonly sql: Sql) {}

  getAccount(directory: string): Promise<AcmeAccount | null> {
    return attempt(() => {
      const row = this.sql.get(
        "SELECT directory, key_jwk, url FROM acme_accounts WHERE directory = ?",
        directory,
      );
      if (!row) return null;
      return {
        directory: row.directory as string,
        keyJwk: row.key_jwk as string,
        url: row.url as string,
      };
    });
  }

  saveAccount(account: AcmeAccount): Promise<void> {
    return attempt(() => {
      this.sql.run(
        `INSERT INTO acme_accounts (directory, key_jwk, url, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (directory) DO UPDATE SET key_jwk = excluded.key_jwk, url = excluded.url,
           updated_at = excluded.updated_at`,
        account.directory,
        account.keyJwk,
        account.url,
        Date.now(),
      );
    });
  }

  latestCertificate(directory: string): Promise<AcmeCertificate | null> {
    return attempt(() => {
      const row = this.sql.get(
        "SELECT * FROM acme_certificates WHERE directory = ? ORDER BY id DESC LIMIT 1",
        directory,
      );
      return row ? toCertificate(row) : null;
    });
  }

  saveCertificate(certificate: Omit<AcmeCertificate, "id">): Promise<AcmeCertificate> {
    return attempt(() =>
      this.sql.transaction(() => {
        const result = this.sql.run(
          `INSERT INTO acme_certificates
             (directory, names, certificate_pem, key_pem, not_after, issued_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
          certificate.directory,
          JSON.stringify(certificate.names),
          certificate.certificatePem,
          certificate.keyPem,
          certificate.notAfter.getTime(),
          certificate.issuedAt.getTime(),
        );
        const id = Number(result.lastInsertRowid);
        this.sql.run(
          "DELETE FROM acme_certificates WHERE directory = ? AND id < ?",
          certificate.directory,
          id,
        );
        return toCertificate(this.sql.get("SELECT * FROM acme_certificates WHERE id = ?", id)!);
      })
    );
  }
}

function toCertificate(row: Row): AcmeCertificate {
  return {
    id: row.id as number,
    directory: row.directory as string,
    names: JSON.parse(row.names as string) as string[],
    certificatePem: row.certificate_pem as string,
    keyPem: row.key_pem as string,
    notAfter: new Date(row.not_after as number),
    issuedAt: new Date(row.issued_at as number),
  };
}
