/**
 * Opens everything that holds state — data directory, store, blobs, directory, message path — so
 * the server and the CLI share one wiring. First start creates the first domain and the admin.
 */
import type { LoadedConfig } from "./config/load.ts";
import { SqliteStore } from "./store/sqlite/store.ts";
import { BlobStore } from "./store/blobs.ts";
import { ChangeBus } from "./store/bus.ts";
import { MessagePath } from "./mail/ingest.ts";
import { SieveRuntime } from "./sieve/runtime.ts";
import { Directory } from "./directory/directory.ts";
import { AuthLimiter } from "./directory/ratelimit.ts";
import { LoginCache } from "./directory/login_cache.ts";
import { logger } from "./observability/log.ts";
import type { Store } from "./store/types.ts";
import type { Spam } from "./spam/setup.ts";

export interface App {
  loaded: LoadedConfig;
  store: Store;
  blobs: BlobStore;
  bus: ChangeBus;
  messages: MessagePath;
  directory: Directory;
  /** The spam filter (src/spam/setup.ts); set by the server and the CLI commands that use it. */
  spam: Spam | null;
  close(): Promise<void>;
}

const log = logger("app");

export async function openApp(loaded: LoadedConfig): Promise<App> {
  const { config, paths } = loaded;
  await Deno.mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
  await Deno.chmod(paths.dataDir, 0o700); // mkdir leaves an existing folder as it was
  const store = new SqliteStore({ path: paths.database });
  if (store.appliedMigrations.length > 0) {
    log.info("database schema migrated", {
      path: paths.database,
      versions: store.appliedMigrations,
    });
  }
  const blobs = new BlobStore(paths.blobDir);
  await blobs.init();
  const bus = new ChangeBus();
  const messages = new MessagePath(store, blobs, bus, {
    maxMessageSize: config.limits.max_message_size,
    maxHeaderSize: config.limits.max_header_size,
    maxMimeDepth: config.limits.max_mime_depth,
    maxMimeParts: config.limits.max_mime_parts,
  });
  messages.sieve = new SieveRuntime(store, {
    maxScriptSize: config.sieve.max_script_size,
    maxNesting: config.sieve.max_nesting_depth,
    maxActions: config.sieve.max_actions,
    maxRedirects: config.sieve.max_redirects,
    budget: config.sieve.max_steps,
    maxScripts: config.sieve.max_scripts,
    maxIncludeDepth: config.sieve.max_include_depth,
    duplicatePeriod: config.sieve.duplicate_period,
  });
  const directory = new Directory(store, {
    subAddressSeparator: config.directory.sub_address_separator,
    defaultQuota: config.directory.default_quota,
    argon2: {
      memoryKiB: Math.max(8, Math.floor(config.auth.argon2_memory / 1024)),
      iterations: config.auth.argon2_iterations,
      parallelism: 1,
    },
    limiter: new AuthLimiter({
      maxFailuresPerIp: config.auth.max_failures_per_ip,
      maxFailuresPerAccount: config.auth.max_failures_per_account,
      windowSeconds: config.auth.failure_window,
    }),
    loginCache: new LoginCache({ ttlSeconds: config.auth.cache_ttl }),
  });
  const app: App = {
    loaded,
    store,
    blobs,
    bus,
    messages,
    directory,
    spam: null,
    close: async () => {
      await app.spam?.close();
      directory.close();
      await store.close();
      await blobs.close();
    },
  };
  return app;
}

/** The first mail domain: [server] domain, or hostname without its first label. */
export function primaryDomain(loaded: LoadedConfig): string {
  const { hostname, domain } = loaded.config.server;
  if (domain) return domain.toLowerCase();
  const labels = hostname.toLowerCase().split(".");
  return labels.length >= 3 ? labels.slice(1).join(".") : labels.join(".");
}

/**
 * On an empty database: creates the primary domain and the admin account with a random
 * password, which is returned once (the caller prints it) and never stored in clear.
 */
export async function firstStart(app: App): Promise<{ address: string; password: string } | null> {
  if ((await app.store.listDomains()).length > 0) return null;
  const domain = primaryDomain(app.loaded);
  await app.directory.addDomain(domain);
  const password = randomPassword();
  const address = `${app.loaded.config.server.admin_account}@${domain}`;
  await app.directory.addAccount(address, { password });
  app.directory.hasher.release();
  log.info("first start: created domain and admin account", { domain, admin: address });
  return { address, password };
}

export function randomPassword(): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const limit = 256 - (256 % alphabet.length); // rejection sampling keeps every letter equally likely
  let password = "";
  while (password.length < 20) {
    for (const byte of crypto.getRandomValues(new Uint8Array(32))) {
      if (byte < limit && password.length < 20) password += alphabet[byte % alphabet.length];
    }
  }
  return password;
}
