/**
 * Interop: ACME against Pebble (Debian `pebble`, Let's Encrypt's test CA; scripts/install-interop.sh
 * installs it). Pebble validates HTTP-01 for real: it resolves the names through the test DNS
 * server (tests/helpers/dns_server.ts, every name → 127.0.0.1) and fetches the challenge from the
 * server's `http` listener. It also rejects 5% of nonces, so badNonce retries run too.
 *
 * The certificates Pebble issues live `CERT_VALIDITY_SECONDS`, and the server renews
 * `renew_before` ahead, so a renewal follows the first issuance without any restart; the test
 * checks what IMAPS, SMTP STARTTLS and HTTPS serve after each one.
 */
import net from "node:net";
import tls from "node:tls";
import { assert, assertEquals, assertNotEquals } from "../helpers/assert.ts";
import { startDnsServer, type TestDnsServer, type Zone } from "../helpers/dns_server.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import crypto from "node:crypto";
import { Hono } from "hono";
import { SERVICES } from "../../src/config/schema.ts";
import { AcmeClient } from "../../src/acme/client.ts";
import { generateAccountKey } from "../../src/acme/jws.ts";
import { Http01Challenges, mountAcmeChallenges } from "../../src/acme/http01.ts";

const HOSTNAME = "mail.acme.test";
const EXTRA_NAME = "imap.acme.test";
const CERT_VALIDITY_SECONDS = 40;
const RENEW_BEFORE = "20s";

interface ServedCertificate {
  serial: string;
  issuer: string;
  names: string[];
}

Deno.test("ACME with Pebble: HTTP-01 issuance for two names, served and renewed without a restart", async () => {
  await withPebble(BOTH_NAMES, async ({ dir, dns, pebble, httpPort, nameserver }) => {
    let server: TestServer | null = null;
    try {
      const configPath = `${dir}/config.toml`;
      await Deno.writeTextFile(configPath, postern(httpPort, nameserver, pebble));
      server = await startServer({ dir, configPath });

      await waitForLog(server, "ACME certificate issued", 1);
      const first = await servedEverywhere(server);
      assert(first.issuer.includes("Pebble Intermediate"), `issuer: ${first.issuer}`);
      assertEquals([...first.names].sort(), [EXTRA_NAME, HOSTNAME]);

      // The certificate enters its renewal window 20 s after issuance; the scheduler renews it.
      await waitForLog(server, "ACME certificate issued", 2);
      const second = await servedEverywhere(server);
      assert(second.issuer.includes("Pebble Intermediate"), `issuer: ${second.issuer}`);
      assertNotEquals(second.serial, first.serial);
      assertEquals([...second.names].sort(), [EXTRA_NAME, HOSTNAME]);
      assertEquals(server.logs.filter((l) => l.includes("ACME certificate order failed")), []);
      // Pebble validated for real: it looked both names up in the test DNS.
      const asked = new Set(dns.queries.map((q) => q.name));
      assert(asked.has(HOSTNAME) && asked.has(EXTRA_NAME), `DNS queries: ${[...asked]}`);

      // Account and certificate are in the store: after a restart the issued certificate is the
      // default from the first handshake, not the self-signed one.
      await server.stop();
      server = await startServer({ dir, configPath });
      const loaded = server.logs.filter((line) => line.includes('"msg":"certificate loaded"'))
        .map((line) => JSON.parse(line));
      assertEquals(loaded.length, 1);
      assertEquals(loaded[0].selfSigned, false);
      assertEquals([...loaded[0].names].sort(), [EXTRA_NAME, HOSTNAME]);
    } finally {
      await server?.stop();
    }
  });
});

Deno.test("ACME with Pebble: TLS-ALPN-01 on the https port (http off), HTTPS answering throughout", async () => {
  const httpsPort = await freePort();
  await withPebble(BOTH_NAMES, async ({ dir, pebble, nameserver }) => {
    let server: TestServer | null = null;
    try {
      const configPath = `${dir}/config.toml`;
      const config = postern(0, nameserver, pebble, httpsPort);
      await Deno.writeTextFile(configPath, config);
      server = await startServer({ dir, configPath, listeners: { http: "" } });
      assertEquals(server.ports.https, httpsPort);

      // Requests keep being answered over HTTPS while certificates are issued and swapped.
      let answered = 0;
      let failed = 0;
      let running = true;
      const traffic = (async () => {
        while (running) {
          try {
            if (await healthzStatus(httpsPort) === 200) answered++;
            else failed++;
          } catch {
            failed++;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();

      await waitForLog(server, "ACME certificate issued", 1);
      const first = await servedEverywhere(server);
      assert(first.issuer.includes("Pebble Intermediate"), `issuer: ${first.issuer}`);
      assertEquals([...first.names].sort(), [EXTRA_NAME, HOSTNAME]);
      await waitForLog(server, "ACME certificate issued", 2);
      const second = await servedEverywhere(server);
      assertNotEquals(second.serial, first.serial);
      running = false;
      await traffic;
      assertEquals(failed, 0, "no HTTPS request failed across two certificate swaps");
      assert(answered > 10, `HTTPS requests answered: ${answered}`);
      assertEquals(server.logs.filter((l) => l.includes("ACME certificate order failed")), []);
      // The validation came over TLS-ALPN-01: the server never had an http listener.
      assertEquals(server.ports.http, undefined);
    } finally {
      await server?.stop();
    }
  }, { tlsPort: httpsPort });
});

Deno.test("ACME client with Pebble rejecting 40% of nonces: badNonce retried, certificate issued", async () => {
  await withPebble({ [HOSTNAME]: { A: ["127.0.0.1"] } }, async ({ pebble, httpPort }) => {
    const challenges = new Http01Challenges();
    const app = new Hono();
    mountAcmeChallenges(app, challenges);
    const http = Deno.serve(
      { hostname: "127.0.0.1", port: httpPort, onListen: () => {} },
      app.fetch,
    );
    const httpClient = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(pebble.caFile)] });
    try {
      const client = new AcmeClient({
        directoryUrl: pebble.directory,
        accountKey: await generateAccountKey(),
        contact: ["mailto:postmaster@acme.test"],
        fetch: (input, init) => fetch(input, { ...init, client: httpClient }),
      });
      const accountUrl = await client.account();
      assert(accountUrl.startsWith("https://127.0.0.1:"), accountUrl);
      // Two orders, ~20 signed requests: at 40% rejection some meet a badNonce (odds 0.6^20
      // that none does), and none fails 11 times in a row.
      const serials = new Set<string>();
      for (let order = 0; order < 2; order++) {
        const issued = await client.issue([HOSTNAME], [challenges]);
        const leaf = new crypto.X509Certificate(issued.certificatePem);
        assert(leaf.issuer.includes("Pebble Intermediate"), leaf.issuer);
        assertEquals(leaf.subjectAltName, `DNS:${HOSTNAME}`);
        assert(leaf.checkPrivateKey(crypto.createPrivateKey(issued.keyPem)));
        serials.add(leaf.serialNumber);
      }
      assertEquals(serials.size, 2);
      assert(client.badNonceRetries > 0, `badNonce retries: ${client.badNonceRetries}`);
      // The challenge is withdrawn once answered.
      assertEquals(
        (await app.request(`http://${HOSTNAME}/.well-known/acme-challenge/x`)).status,
        404,
      );
    } finally {
      httpClient.close();
      await http.shutdown();
    }
  }, { env: { PEBBLE_WFE_NONCEREJECT: "40" } });
});

Deno.test("ACME with Pebble: a failing order is logged with back-off, the self-signed certificate stays", async () => {
  // No A record for the names: Pebble's validation fails (NXDOMAIN).
  await withPebble({}, async ({ dir, pebble, httpPort, nameserver }) => {
    let server: TestServer | null = null;
    try {
      const configPath = `${dir}/config.toml`;
      await Deno.writeTextFile(configPath, postern(httpPort, nameserver, pebble));
      server = await startServer({ dir, configPath });
      await waitForLog(server, "ACME certificate order failed", 1);
      const failure = JSON.parse(
        server.logs.find((line) => line.includes('"msg":"ACME certificate order failed"'))!,
      );
      assertEquals(failure.attempt, 1);
      assertEquals(failure.retry_in_seconds, 60);
      const served = await implicitTlsCertificate(server.ports.imaps);
      assertEquals(served.issuer, HOSTNAME, "still the self-signed certificate");
    } finally {
      await server?.stop();
    }
  });
});

const BOTH_NAMES: Zone = {
  [HOSTNAME]: { A: ["127.0.0.1"] },
  [EXTRA_NAME]: { A: ["127.0.0.1"] },
};

interface PebbleRun {
  dir: string;
  dns: TestDnsServer;
  pebble: Pebble;
  /** Where Pebble checks HTTP-01. */
  httpPort: number;
  /** The test DNS server as "host:port", for the server's config. */
  nameserver: string;
}

/** A temporary folder, a test DNS server with `zone`, and Pebble; all gone after `work`. */
async function withPebble(
  zone: Zone,
  work: (run: PebbleRun) => Promise<void>,
  options: { env?: Record<string, string>; tlsPort?: number } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "postern-acme-" });
  const dns = await startDnsServer(zone);
  const httpPort = await freePort();
  const nameserver = `${dns.host}:${dns.port}`;
  const pebble = await startPebble(dir, httpPort, nameserver, options.env, options.tlsPort);
  try {
    await work({ dir, dns, pebble, httpPort, nameserver });
  } finally {
    pebble.process.kill("SIGTERM");
    await pebble.process.status;
    await dns.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The certificate on IMAPS, SMTP STARTTLS and HTTPS, checked to be one and the same. */
async function servedEverywhere(server: TestServer): Promise<ServedCertificate> {
  const imaps = await implicitTlsCertificate(server.ports.imaps);
  const https = await implicitTlsCertificate(server.ports.https);
  const smtp = await smtpStarttlsCertificate(server.ports.smtp);
  assertEquals(https.serial, imaps.serial, "https serves the same certificate as imaps");
  assertEquals(smtp.serial, imaps.serial, "smtp STARTTLS serves the same certificate as imaps");
  return imaps;
}

function describe(socket: tls.TLSSocket): ServedCertificate {
  const cert = socket.getPeerCertificate();
  const names = (cert.subjectaltname ?? "").split(/,\s*/)
    .filter((entry) => entry.startsWith("DNS:"))
    .map((entry) => entry.slice(4));
  const issuer = cert.issuer as unknown as Record<string, string>;
  return { serial: cert.serialNumber, issuer: issuer.CN ?? "", names };
}

function implicitTlsCertificate(port: number): Promise<ServedCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: HOSTNAME,
      rejectUnauthorized: false,
    }, () => {
      const described = describe(socket);
      socket.destroy();
      resolve(described);
    });
    socket.once("error", reject);
  });
}

/** The status of GET /healthz/live over a new TLS connection (any certificate accepted). */
function healthzStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: HOSTNAME,
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    }, () => {
      socket.write(`GET /healthz/live HTTP/1.1\r\nHost: ${HOSTNAME}\r\nConnection: close\r\n\r\n`);
    });
    let reply = "";
    socket.on("data", (chunk: Uint8Array) => reply += new TextDecoder().decode(chunk));
    socket.once("error", reject);
    socket.once("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0)));
  });
}

/** EHLO, STARTTLS, then the handshake on the same socket. */
function smtpStarttlsCertificate(port: number): Promise<ServedCertificate> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: "127.0.0.1", port });
    raw.once("error", reject);
    let buffer = "";
    let step = 0;
    const onData = (chunk: Uint8Array) => {
      buffer += new TextDecoder().decode(chunk);
      // A complete reply ends with a line "NNN text" (no dash after the code).
      if (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buffer)) return;
      const reply = buffer;
      buffer = "";
      if (step === 0) raw.write("EHLO client.acme.test\r\n");
      else if (step === 1) raw.write("STARTTLS\r\n");
      else {
        if (!reply.startsWith("220")) {
          reject(new Error(`STARTTLS refused: ${reply}`));
          raw.destroy();
          return;
        }
        raw.off("data", onData);
        const socket = tls.connect({
          socket: raw,
          servername: HOSTNAME,
          rejectUnauthorized: false,
        }, () => {
          const described = describe(socket);
          socket.destroy();
          resolve(described);
        });
        socket.once("error", reject);
      }
      step++;
    };
    raw.on("data", onData);
  });
}

async function waitForLog(server: TestServer, message: string, count: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const seen = server.logs.filter((line) => line.includes(`"msg":"${message}"`)).length;
    if (seen >= count) return;
    if (Date.now() > deadline) {
      throw new Error(
        `"${message}" logged ${seen} times, not ${count}:\n${server.logs.join("\n")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen({ host: "127.0.0.1", port: 0 }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

interface Pebble {
  process: Deno.ChildProcess;
  directory: string;
  /** The test CA that signed Pebble's own HTTPS certificate. */
  caFile: string;
}

/**
 * Pebble's HTTPS needs a certificate; the Debian package ships none, so one is made here: a
 * test root and a leaf for 127.0.0.1 signed by it (the root is what the server trusts).
 */
async function startPebble(
  dir: string,
  httpPort: number,
  dnsServer: string,
  extraEnv: Record<string, string> = {},
  tlsPort?: number,
): Promise<Pebble> {
  const caFile = `${dir}/pebble-ca.pem`;
  await openssl(
    "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=Pebble-HTTPS-test-root" +
      ` -keyout ${dir}/pebble-ca.key -out ${caFile}`,
  );
  await Deno.writeTextFile(
    `${dir}/pebble-leaf.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  await openssl(
    "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost" +
      ` -keyout ${dir}/pebble.key -out ${dir}/pebble.csr`,
  );
  await openssl(
    `x509 -req -in ${dir}/pebble.csr -CA ${caFile} -CAkey ${dir}/pebble-ca.key -CAcreateserial` +
      ` -days 1 -extfile ${dir}/pebble-leaf.ext -out ${dir}/pebble.crt`,
  );
  const listenPort = await freePort();
  const managementPort = await freePort();
  tlsPort ??= await freePort();
  await Deno.writeTextFile(
    `${dir}/pebble.json`,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listenPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: `${dir}/pebble.crt`,
        privateKey: `${dir}/pebble.key`,
        httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        certificateValidityPeriod: CERT_VALIDITY_SECONDS,
      },
    }),
  );
  const env = { ...Deno.env.toObject(), PEBBLE_VA_NOSLEEP: "1", ...extraEnv };
  delete (env as Record<string, string | undefined>).PEBBLE_VA_ALWAYS_VALID;
  const process = new Deno.Command("pebble", {
    args: ["-config", `${dir}/pebble.json`, "-dnsserver", dnsServer, "-strict"],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const listening = new Promise<void>((resolve, reject) => {
    const read = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        output.push(chunk);
        if (output.join("").includes("Listening on")) resolve();
      }
    };
    Promise.all([read(process.stdout), read(process.stderr)])
      .then(() => reject(new Error(`pebble exited:\n${output.join("")}`)));
  });
  await listening;
  return { process, directory: `https://127.0.0.1:${listenPort}/dir`, caFile };
}

async function openssl(args: string): Promise<void> {
  const result = await new Deno.Command("openssl", { args: args.split(" "), stderr: "piped" })
    .output();
  if (!result.success) {
    throw new Error(`openssl ${args}: ${new TextDecoder().decode(result.stderr)}`);
  }
}

/** The server's config; with `alpnPort`, TLS-ALPN-01 on https at that port and http off. */
function postern(httpPort: number, dns: string, pebble: Pebble, alpnPort?: number): string {
  const listeners = SERVICES.map((service) => {
    if (alpnPort !== undefined && service === "http") return `http = ""`;
    if (alpnPort !== undefined && service === "https") return `https = "127.0.0.1:${alpnPort}"`;
    return `${service} = "127.0.0.1:${service === "http" ? httpPort : 0}"`;
  });
  return [
    "[server]",
    `hostname = "${HOSTNAME}"`,
    `data_dir = "data"`,
    `shutdown_grace = "5s"`,
    "[listeners]",
    ...listeners,
    "[auth]",
    `argon2_memory = "1M"`,
    "argon2_iterations = 1",
    "[tls]",
    `names = ["${EXTRA_NAME}"]`,
    "[acme]",
    "enabled = true",
    `directory = "${pebble.directory}"`,
    `contact = "postmaster@acme.test"`,
    `renew_before = "${RENEW_BEFORE}"`,
    `ca_certificate = "${pebble.caFile}"`,
    `challenge = "${alpnPort === undefined ? "http-01" : "tls-alpn-01"}"`,
    "[dns]",
    `nameserver = "${dns}"`,
    `timeout = "2s"`,
    "[log]",
    `format = "json"`,
    `level = "info"`,
  ].join("\n");
}
