/**
 * `deno task bench https [--requests N] [--clients C]`: what the TLS-ALPN-01 front
 * (src/tls/https_front.ts, `[acme] challenge = "tls-alpn-01"`) costs against Deno.serve serving
 * TLS itself, side by side in one run with the same certificate and handler: small requests on
 * kept-alive connections (curl, C clients at once) and a 4 MiB download, then the ratio. Also one
 * TLS-ALPN-01 answer's time (openssl s_client), for scale.
 */
import { CertificateManager } from "../src/tls/certificates.ts";
import { HttpsFront } from "../src/tls/https_front.ts";
import { TlsAlpn01Challenges } from "../src/acme/tls_alpn01.ts";

const SMALL = "x".repeat(100);
const LARGE = new Uint8Array(4 << 20);

export async function run(args: string[]): Promise<void> {
  const option = (name: string, fallback: number) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const requests = option("requests", 3000);
  const clients = option("clients", 4);
  const dir = await Deno.makeTempDir({ prefix: "postern-bench-https-" });
  const certificates = await CertificateManager.load({
    hostname: "bench.test",
    names: [],
    certificate: "",
    key: "",
    sni: [],
    tlsDir: dir,
  });
  const handler = (request: Request) =>
    new URL(request.url).pathname === "/large" ? new Response(LARGE) : new Response(SMALL);
  const { certificatePem, keyPem } = certificates.material();
  const direct = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: certificatePem,
    key: keyPem,
    onListen: () => {},
  }, handler);
  const challenges = new TlsAlpn01Challenges();
  const front = await HttpsFront.start({
    address: { host: "127.0.0.1", port: 0 },
    certificates,
    challenges,
    handler,
  });
  try {
    const targets = [
      { name: "Deno.serve (TLS itself)", port: (direct.addr as Deno.NetAddr).port },
      { name: "front → Deno.serve", port: front.port },
    ];
    console.log(`https: ${requests} requests × ${clients} clients (curl, keep-alive, HTTP/1.1)`);
    const rates: number[] = [];
    const downloads: number[] = [];
    for (const target of targets) {
      await curl(dir, target.port, "/", 100, 1); // warm-up
      const rate = await curl(dir, target.port, "/", requests, clients);
      const mib = await curl(dir, target.port, "/large", 50, 1) * 4;
      rates.push(rate);
      downloads.push(mib);
      console.log(
        `  ${target.name.padEnd(26)} ${Math.round(rate).toString().padStart(6)} req/s` +
          `   4 MiB downloads ${Math.round(mib).toString().padStart(5)} MiB/s`,
      );
    }
    console.log(
      `  ratio front/direct: requests ${(rates[1] / rates[0]).toFixed(2)}, ` +
        `downloads ${(downloads[1] / downloads[0]).toFixed(2)}`,
    );
    await challenges.publish("bench.test", "token", "token.thumbprint");
    const started = performance.now();
    const rounds = 20;
    for (let i = 0; i < rounds; i++) await alpnHandshake(front.port);
    console.log(
      `  TLS-ALPN-01 answer (openssl s_client, process start included): ` +
        `${((performance.now() - started) / rounds).toFixed(1)} ms each`,
    );
  } finally {
    await front.shutdown();
    await direct.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Requests per second over `clients` curl processes, each fetching `count` URLs in a row. */
async function curl(
  dir: string,
  port: number,
  path: string,
  count: number,
  clients: number,
): Promise<number> {
  const list = `${dir}/urls-${port}-${path.length}-${count}`;
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(`url = "https://127.0.0.1:${port}${path}"`, "output = /dev/null");
  }
  await Deno.writeTextFile(list, lines.join("\n") + "\n");
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const result = await new Deno.Command("curl", {
        args: ["-sS", "-k", "--http1.1", "-K", list],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!result.success) throw new Error(new TextDecoder().decode(result.stderr));
    }),
  );
  return count * clients / ((performance.now() - started) / 1000);
}

async function alpnHandshake(port: number): Promise<void> {
  const result = await new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      "bench.test",
      "-alpn",
      "acme-tls/1",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!new TextDecoder().decode(result.stdout).includes("ALPN protocol: acme-tls/1")) {
    throw new Error("the TLS-ALPN-01 handshake did not complete");
  }
}
