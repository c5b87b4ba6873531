/**
 * Wiring of `[acme]` for `postern serve`: the stored certificate to start with, and the manager
 * that keeps it current.
 */
import { isAbsolute, join } from "node:path";
import type { Config } from "../config/schema.ts";
import type { AcmeStore } from "../store/acme_types.ts";
import type { CertificateManager, TlsMaterial } from "../tls/certificates.ts";
import type { ChallengeSolver } from "./client.ts";
import { AcmeManager } from "./manager.ts";

/** The names a certificate is ordered for: server.hostname first, then tls.names. */
export function acmeNames(config: Config): string[] {
  return [...new Set([config.server.hostname, ...config.tls.names].map((n) => n.toLowerCase()))];
}

/** The stored ACME certificate when [acme] is enabled and it is still usable. */
export function storedAcmeCertificate(
  config: Config,
  store: AcmeStore,
): Promise<TlsMaterial | null> {
  if (!config.acme.enabled) return Promise.resolve(null);
  return AcmeManager.storedMaterial(store, config.acme.directory);
}

/**
 * Starts the manager when [acme] is enabled; null otherwise. `solvers` are the challenge types
 * the bound listeners can answer, in the order [acme] challenge prefers (the config check in
 * src/config/load.ts makes sure the preferred one's listener is on).
 */
export async function startAcme(
  config: Config,
  configDir: string,
  store: AcmeStore,
  certificates: CertificateManager,
  solvers: ChallengeSolver[],
): Promise<AcmeManager | null> {
  const { acme } = config;
  if (!acme.enabled) return null;
  let caCertificatePem = "";
  if (acme.ca_certificate !== "") {
    const path = isAbsolute(acme.ca_certificate)
      ? acme.ca_certificate
      : join(configDir, acme.ca_certificate);
    try {
      caCertificatePem = await Deno.readTextFile(path);
    } catch (error) {
      throw new Error(`acme.ca_certificate: cannot read ${path}: ${(error as Error).message}`);
    }
  }
  const manager = new AcmeManager({
    directory: acme.directory,
    contact: acme.contact,
    renewBeforeSeconds: acme.renew_before,
    caCertificatePem,
    names: acmeNames(config),
    store,
    certificates,
    solvers,
  });
  manager.start();
  return manager;
}
