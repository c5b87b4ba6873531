/**
 * Runs the real server as a child process (`deno run -A main.ts serve`) on ephemeral loopback
 * ports with a temporary data directory, and runs CLI commands against the same config.
 */
import { SERVICES } from "../../src/config/schema.ts";
import { startDnsServer } from "./dns_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestServer {
  dir: string;
  configPath: string;
  ports: Record<string, number>;
  admin: { address: string; password: string } | null;
  process: Deno.ChildProcess;
  logs: string[];
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

export interface TestConfigOptions {
  /** Extra TOML appended to the generated config (sections must not repeat generated ones). */
  extra?: string;
  /** Replace [limits] entries. */
  limits?: Record<string, string | number>;
  listeners?: Record<string, string>;
  /** Replace [auth] entries. */
  auth?: Record<string, string | number>;
  /**
   * "host:port" of the DNS server the server process asks. startServer starts an empty loopback
   * test DNS server when this is absent, so no test ever queries the machine's resolver.
   */
  dns?: string;
  /** Extra [tls] entries (certificate, key, sni). */
  tls?: Record<string, string | { certificate: string; key: string }[]>;
  /** [server] hostname; the first domain is derived from it (default mail.example.com). */
  hostname?: string;
}

export async function makeTestConfig(options: TestConfigOptions = {}, dir?: string) {
  dir ??= await Deno.makeTempDir({ prefix: "postern-test-" });
  const listeners = Object.fromEntries(SERVICES.map((s) => [s, "127.0.0.1:0"]));
  Object.assign(listeners, options.listeners);
  const limits = { max_connections_per_ip: 50, ...options.limits };
  const toml = [
    "[server]",
    `hostname = "${options.hostname ?? "mail.example.com"}"`,
    `data_dir = "data"`,
    `shutdown_grace = "5s"`,
    "[listeners]",
    ...Object.entries(listeners).map(([k, v]) => `${k} = "${v}"`),
    "[limits]",
    ...Object.entries(limits).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
    "[auth]",
    ...Object.entries({ argon2_memory: "1M", argon2_iterations: 1, ...options.auth }).map((
      [k, v],
    ) => `${k} = ${JSON.stringify(v)}`),
    "[tls]",
    `names = ["localhost"]`,
    ...Object.entries(options.tls ?? {}).map(([k, v]) =>
      typeof v === "string"
        ? `${k} = ${JSON.stringify(v)}`
        : `${k} = [${
          v.map((pair) =>
            `{ certificate = ${JSON.stringify(pair.certificate)}, key = ${
              JSON.stringify(pair.key)
            } }`
          ).join(", ")
        }]`
    ),
    ...(options.dns ? ["[dns]", `nameserver = "${options.dns}"`, `timeout = "2s"`] : []),
    "[log]",
    `format = "json"`,
    `level = "info"`,
    options.extra ?? "",
  ].join("\n");
  const configPath = `${dir}/config.toml`;
  await Deno.writeTextFile(configPath, toml);
  return { dir, configPath };
}

/** Runs `work` against a started server (`startServer(options)`), then stops it. */
export async function withServer(
  work: (server: TestServer) => Promise<void>,
  options: Parameters<typeof startServer>[0] = {},
): Promise<void> {
  const server = await startServer(options);
  try {
    await work(server);
  } finally {
    await server.stop();
  }
}

export async function startServer(
  options: TestConfigOptions & { dir?: string; configPath?: string } = {},
): Promise<TestServer> {
  // Every generated config gets a DNS server of its own unless the test brings one.
  const ownDns = !options.configPath && !options.dns ? await startDnsServer({}) : null;
  const { dir, configPath } = options.configPath
    ? { dir: options.dir!, configPath: options.configPath }
    : await makeTestConfig(
      ownDns ? { ...options, dns: `${ownDns.host}:${ownDns.port}` } : options,
      options.dir,
    );
  const process = new Deno.Command(Deno.execPath(), {
    // The V8 flags of `deno task start` (deno.json), so tests and benchmarks run what users run.
    args: ["run", "-A", "--v8-flags=--optimize-for-size", MAIN, "serve", "--config", configPath],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const logs: string[] = [];
  const ports: Record<string, number> = {};
  let admin: TestServer["admin"] = null;
  let stdout = "";
  const stdoutDone = (async () => {
    for await (const chunk of process.stdout.pipeThrough(new TextDecoderStream())) stdout += chunk;
  })();
  const ready = new Promise<void>((resolve, reject) => {
    (async () => {
      let buffer = "";
      for await (const chunk of process.stderr.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          logs.push(line);
          try {
            const event = JSON.parse(line);
            if (event.msg === "listening") {
              ports[event.service] = Number(String(event.address).split(":").pop());
            }
            if (event.msg === "ready") {
              if (Object.keys(ports).length !== expectedListeners) {
                reject(new Error(`expected ${expectedListeners} listeners: ${logs.join("\n")}`));
              }
              resolve();
            }
          } catch {
            // not JSON: a crash trace; keep it in logs
          }
        }
      }
      reject(new Error(`server exited before listening:\n${logs.join("\n")}`));
    })();
  });
  const expectedListeners =
    SERVICES.filter((s) => (options.listeners?.[s] ?? "127.0.0.1:0") !== "").length;
  try {
    await ready;
  } catch (error) {
    await ownDns?.close();
    await process.status;
    await stdoutDone;
    throw error;
  }
  // stdout carries the first-start banner; give it a moment to arrive.
  for (let i = 0; i < 50 && !stdout.includes("password:") && stdout.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const login = /login:\s+(\S+)/.exec(stdout);
  const password = /password:\s+(\S+)/.exec(stdout);
  if (login && password) admin = { address: login[1], password: password[1] };
  const exited = process.status.then(async (status) => {
    await stdoutDone;
    await ownDns?.close();
    return status.code;
  });
  return {
    dir,
    configPath,
    ports,
    admin,
    process,
    logs,
    async stop() {
      try {
        process.kill("SIGTERM");
      } catch { /* already gone */ }
      return await exited;
    },
    async kill() {
      try {
        process.kill("SIGKILL");
      } catch { /* already gone */ }
      await exited;
    },
  };
}

/** Runs `postern ARGS --config CONFIG` and captures its output. */
export async function cli(
  configPath: string,
  args: string[],
  stdin?: string | Uint8Array,
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args, "--config", configPath],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
