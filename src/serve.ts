/**
 * `postern serve`: open the app, bind every configured listener, serve until SIGTERM/SIGINT, then
 * shut down gracefully (stop accepting, let sessions finish within the grace period, close the
 * database cleanly).
 */
import type { LoadedConfig } from "./config/load.ts";
import { parseListenAddress, type ServiceName } from "./config/schema.ts";
import { type App, firstStart, openApp } from "./app.ts";
import { CertificateManager } from "./tls/certificates.ts";
import { ListenerGroup, type ListenerSpec } from "./server/listeners.ts";
import { connectionLimits } from "./server/limits.ts";
import { inboundSmtp, inboundSmtpOptions, submissionSmtpOptions } from "./smtp/inbound.ts";
import { Resolver } from "./dns/resolver.ts";
import { createQueue } from "./smtp/outbound/setup.ts";
import { imapOptions, imapServer } from "./imap/server.ts";
import { pop3Service } from "./pop3/server.ts";
import { managesieveService } from "./sieve/managesieve/server.ts";
import { createSpam } from "./spam/setup.ts";
import { createHttpApp } from "./http/app.ts";
import { JmapService, mountJmap } from "./jmap/http.ts";
import { DavService, mountDav } from "./dav/http.ts";
import { mountAutoconfig } from "./http/autoconfig.ts";
import { mountMetrics } from "./http/metrics.ts";
import { metrics, queueMessages, queueRecipients } from "./observability/metrics.ts";
import { mountLazily } from "./http/lazy.ts";
import { useVacationOutbox } from "./mail/vacation.ts";
import { ApiTokens } from "./directory/tokens.ts";
import { serveControl } from "./http/control.ts";
import { logger } from "./observability/log.ts";
import { join } from "node:path";
import { Http01Challenges, mountAcmeChallenges } from "./acme/http01.ts";
import { startAcme, storedAcmeCertificate } from "./acme/setup.ts";
import { restartOnNewCertificate } from "./tls/https_reload.ts";
import { HttpsFront, type HttpsFrontOptions } from "./tls/https_front.ts";
import { TlsAlpn01Challenges } from "./acme/tls_alpn01.ts";
import type { ChallengeSolver } from "./acme/client.ts";

const log = logger("server");
/** How often expired JMAP uploads are dropped. */
const UPLOAD_EXPIRY_INTERVAL_MS = 3600_000;

export interface RunningServer {
  app: App;
  listeners: { service: string; address: string; port: number }[];
  shutdown(): Promise<void>;
  finished: Promise<void>;
  /** Reads the certificate files again (SIGHUP); a bad file is logged and changes nothing. */
  reloadCertificates(): Promise<void>;
}

export class StartupError extends Error {}

export async function startServer(loaded: LoadedConfig): Promise<RunningServer> {
  const { config, paths } = loaded;
  if (await anotherServerRuns(paths.controlSocket)) {
    throw new StartupError(
      `another Postern server is already running on ${paths.dataDir} (its control socket answers)`,
    );
  }
  const app = await openApp(loaded);
  let ready = false;
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const admin = await firstStart(app);
    if (admin) {
      const line =
        `\n  First start: created the administrator account\n    login:    ${admin.address}\n` +
        `    password: ${admin.password}\n  This password is shown only once; change it with ` +
        `'postern account passwd ${admin.address}'.\n\n`;
      await Deno.stdout.write(new TextEncoder().encode(line));
    }
    // Orphan files must be older than this: a CLI delivery racing our start (it found no server
    // and writes directly) may have written its file but not yet committed its row.
    const orphanCutoff = new Date(Date.now() - 3600_000);
    const removed = await app.store.collectBlobs((hash) => app.blobs.deleteSync(hash));
    if (removed) log.info("removed unreferenced blobs", { count: removed });

    const certificates = await CertificateManager.load({
      hostname: config.server.hostname,
      names: config.tls.names,
      certificate: config.tls.certificate,
      key: config.tls.key,
      sni: config.tls.sni,
      tlsDir: join(paths.dataDir, "tls"),
      issued: await storedAcmeCertificate(config, app.store.acme),
    });
    for (const cert of certificates.describe()) {
      log.info("certificate loaded", {
        subject: cert.subject,
        names: cert.names,
        notAfter: cert.notAfter.toISOString(),
        selfSigned: cert.selfSigned,
      });
    }

    const group = new ListenerGroup({
      limits: connectionLimits(config.limits),
      certificates,
      log: logger("net"),
    });
    const nameServer = parseListenAddress(config.dns.nameserver);
    const resolver = new Resolver({
      nameServer: nameServer && { ipAddr: nameServer.host, port: nameServer.port },
      timeoutMs: config.dns.timeout * 1000,
    });
    app.spam = await createSpam(app, resolver);
    const greylist = app.spam.greylist;
    if (greylist) {
      // Triplets past their use (src/spam/greylist.ts prune) are forgotten at start and hourly.
      const prune = () =>
        greylist.prune(Date.now()).catch((error) => log.warn("pruning greylist failed", { error }));
      prune();
      const pruning = setInterval(prune, 3_600_000);
      cleanups.push(() => Promise.resolve(clearInterval(pruning)));
    }
    const queue = await createQueue(app, resolver);
    // Vacation replies (RFC 3834) made at delivery leave through this queue.
    useVacationOutbox(app.store, queue, config.server.hostname);
    const submission = submissionSmtpOptions(app, queue);
    const imap = imapOptions(app);
    const handlers: Partial<Record<ServiceName, Omit<ListenerSpec, "host" | "port" | "service">>> =
      {
        smtp: {
          implicitTls: false,
          handler: inboundSmtp(inboundSmtpOptions(app, resolver, queue)),
        },
        submission: { implicitTls: false, handler: inboundSmtp(submission) },
        submissions: { implicitTls: true, handler: inboundSmtp(submission) },
        imap: { implicitTls: false, handler: imapServer(imap) },
        imaps: { implicitTls: true, handler: imapServer(imap) },
        pop3: { implicitTls: false, ...pop3Service(app) },
        pop3s: { implicitTls: true, ...pop3Service(app) },
        managesieve: { implicitTls: false, ...managesieveService(app) },
      };
    const specs: ListenerSpec[] = [];
    for (
      const [service, spec] of Object.entries(handlers) as [ServiceName, typeof handlers.smtp][]
    ) {
      const address = parseListenAddress(config.listeners[service]);
      if (!address || !spec) continue;
      specs.push({ service, ...address, ...spec });
    }
    const bound = await group.listen(specs);
    cleanups.push(() => group.shutdown(config.server.shutdown_grace));

    const jmap = new JmapService(app, queue, new ApiTokens(app.store, app.directory.limiter));
    // Uploads past their expiry ([jmap] upload_ttl) go, and with them files nothing else uses.
    const expireUploads = () =>
      app.store.expireUploads(new Date())
        .then(async (count) => {
          if (!count) return;
          const removed = await app.store.collectBlobs((hash) => app.blobs.deleteSync(hash));
          log.info("expired uploads", { count, files_removed: removed });
        })
        .catch((error) => log.warn("expiring uploads failed", { error }));
    expireUploads();
    const uploadExpiry = setInterval(expireUploads, UPLOAD_EXPIRY_INTERVAL_MS);
    cleanups.push(() => Promise.resolve(clearInterval(uploadExpiry)));
    const dav = new DavService(app, jmap.tokens);
    // Sync tokens older than [dav] sync_token_retention stop being answerable (RFC 6578 3.2).
    const pruneTombstones = () =>
      app.store.dav.pruneTombstones(Date.now() - config.dav.sync_token_retention * 1000)
        .catch((error) => log.warn("pruning DAV tombstones failed", { error }));
    pruneTombstones();
    const tombstonePruning = setInterval(pruneTombstones, UPLOAD_EXPIRY_INTERVAL_MS);
    cleanups.push(() => Promise.resolve(clearInterval(tombstonePruning)));
    const acmeChallenges = new Http01Challenges();
    const httpApp = createHttpApp({ ready: () => ready }, [
      (http) => mountJmap(http, jmap),
      (http) => mountDav(http, dav),
      (http) => mountAutoconfig(http, app),
      (http) =>
        mountMetrics(http, app, metrics, async () => {
          const counts = await app.store.queueCounts();
          queueMessages.set(undefined, counts.messages);
          queueRecipients.set(undefined, counts.recipients);
        }),
      (http) => mountAcmeChallenges(http, acmeChallenges),
      // Built at their first request (src/http/lazy.ts): most servers seldom open them.
      (http) =>
        mountLazily(
          http,
          "/account",
          async () => (await import("./selfservice/mod.ts")).accountRoutes(app).routes,
        ),
      (http) =>
        mountLazily(http, "/api", async () =>
          (await import("./api/mod.ts")).apiRoutes({
            app,
            queue,
            certificates: () => certificates.describe(),
            listeners: () => bound,
          })),
      (http) =>
        mountLazily(http, "/admin", async () =>
          (await import("./admin/mod.ts")).adminRoutes({
            app,
            queue,
            resolver,
            certificates: () => certificates.describe(),
            listeners: () => bound,
          }).routes),
    ]);
    const httpServers: { shutdown(): Promise<void> }[] = [];
    // With TLS-ALPN-01 or [tls] sni, the https port is owned by a front that routes the CA's
    // checks and picks the certificate by name (src/tls/https_front.ts).
    const alpnChallenges = config.acme.enabled && config.acme.challenge === "tls-alpn-01"
      ? new TlsAlpn01Challenges()
      : null;
    const httpsFront = alpnChallenges !== null || config.tls.sni.length > 0;
    for (const service of ["http", "https"] as const) {
      const address = parseListenAddress(config.listeners[service]);
      if (!address) continue;
      let port: number;
      if (service === "https" && httpsFront) {
        const front = await startHttpsFront(address, {
          address,
          certificates,
          challenges: alpnChallenges ?? { certificate: () => undefined },
          handler: httpApp.fetch,
        });
        httpServers.push(front);
        port = front.port;
      } else {
        const tls = service === "https" ? certificates.material() : null;
        const server = bindHttp(service, address, tls, httpApp.fetch);
        port = server.port;
        httpServers.push(
          service === "https"
            ? restartOnNewCertificate(
              certificates,
              server.server,
              { ...address, port: server.port },
              httpApp.fetch,
            )
            : server.server,
        );
      }
      bound.push({ service, address: address.host, port });
      log.info("listening", { service, address: `${address.host}:${port}` });
    }
    cleanups.push(async () => {
      jmap.close();
      await Promise.all(httpServers.map((s) => s.shutdown()));
    });

    // After the http/https listeners are bound: the CA's checks come to them.
    const solvers: ChallengeSolver[] = [];
    const listening = (service: string) => bound.some((b) => b.service === service);
    if (alpnChallenges && listening("https")) solvers.push(alpnChallenges);
    if (listening("http")) solvers.push(acmeChallenges);
    const acme = await startAcme(
      config,
      paths.configDir,
      app.store.acme,
      certificates,
      solvers,
    );
    if (acme) cleanups.push(() => acme.stop());

    const control = await serveControl(app, paths.controlSocket, queue);
    cleanups.push(async () => {
      await control.shutdown();
      await Deno.remove(paths.controlSocket).catch(() => {});
    });

    await queue.start();
    cleanups.push(() => queue.stop(config.server.shutdown_grace * 1000));

    ready = true;
    log.info("ready", { listeners: bound.length, control_socket: paths.controlSocket });
    // Files left by a crash between a blob write and its commit; in the background, since a
    // large store takes a while to list.
    const stopSweep = new AbortController();
    const sweep = app.blobs.sweepOrphans(
      (hash) => app.store.blobKnown(hash),
      orphanCutoff,
      stopSweep.signal,
    )
      .then((count) => count && log.info("removed orphaned blob files", { count }))
      .catch((error) => log.warn("orphan sweep failed", { error }));
    cleanups.push(async () => {
      stopSweep.abort();
      await sweep;
    });

    let resolveFinished!: () => void;
    const finished = new Promise<void>((resolve) => resolveFinished = resolve);
    let stopping: Promise<void> | null = null;
    const shutdown = () => {
      stopping ??= (async () => {
        ready = false;
        log.info("shutting down", { grace_seconds: config.server.shutdown_grace });
        for (const cleanup of cleanups.reverse()) {
          await cleanup().catch((error) => log.error("shutdown step failed", { error }));
        }
        await app.close();
        log.info("stopped");
        resolveFinished();
      })();
      return stopping;
    };
    const reloadCertificates = async () => {
      try {
        await certificates.reload();
        log.info("certificates reloaded", {
          names: certificates.describe().flatMap((c) => c.names),
        });
      } catch (error) {
        log.error("certificate reload failed; the certificates in use stay", { error });
      }
    };
    return { app, listeners: bound, shutdown, finished, reloadCertificates };
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await app.close();
    throw error;
  }
}

function bindHttp(
  service: string,
  address: { host: string; port: number },
  tls: { certificatePem: string; keyPem: string } | null,
  handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
): { server: Deno.HttpServer; port: number } {
  try {
    let port = address.port;
    const options = {
      hostname: address.host,
      port: address.port,
      onListen: (addr: Deno.NetAddr) => {
        port = addr.port;
      },
    };
    const server = tls
      ? Deno.serve({ ...options, cert: tls.certificatePem, key: tls.keyPem }, handler)
      : Deno.serve(options, handler);
    return { server, port: (server.addr as Deno.NetAddr).port ?? port };
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new StartupError(
        `${service}: port ${address.port} on ${address.host} is already in use`,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new StartupError(
        `${service}: binding port ${address.port} on ${address.host} needs root or CAP_NET_BIND_SERVICE`,
      );
    }
    throw new StartupError(
      `${service}: cannot listen on ${address.host}:${address.port}: ${(error as Error).message}`,
    );
  }
}

async function startHttpsFront(
  address: { host: string; port: number },
  options: HttpsFrontOptions,
): Promise<HttpsFront> {
  try {
    return await HttpsFront.start(options);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EADDRINUSE") {
      throw new StartupError(`https: port ${address.port} on ${address.host} is already in use`);
    }
    if (code === "EACCES") {
      throw new StartupError(
        `https: binding port ${address.port} on ${address.host} needs root or CAP_NET_BIND_SERVICE`,
      );
    }
    throw new StartupError(
      `https: cannot listen on ${address.host}:${address.port}: ${(error as Error).message}`,
    );
  }
}

async function anotherServerRuns(socketPath: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path: socketPath });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
