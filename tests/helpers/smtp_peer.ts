/**
 * A scripted SMTP server for fault injection in queue tests: it answers each RCPT and each
 * end-of-data with what the test says (4xx now, 2xx later, 5xx, silence), and records every
 * message it accepted. Real peers (Postern, Postfix) cover the well-behaved cases; this one
 * covers the misbehaving hosts no real server can be told to imitate on cue.
 */
import net from "node:net";
import { startDnsServer, type TestDnsServer, type Zone } from "./dns_server.ts";

export interface PeerMessage {
  from: string;
  mailParams: string;
  recipients: string[];
  rcptParams: string[];
  data: string;
}

export interface PeerScript {
  /** Greeting line; null = accept the connection and never say anything. */
  greeting?: string | null;
  ehlo?: string[];
  /** Offer AUTH PLAIN and accept only these credentials. */
  auth?: { username: string; password: string };
  /** Reply to RCPT TO for an address; default 250. */
  rcpt?: (address: string, attempt: number) => string;
  /** Reply after the final "."; default 250. `count` is how many DATA phases came before. */
  data?: (message: PeerMessage, count: number) => string | Promise<string>;
}

export interface SmtpPeer {
  host: string;
  port: number;
  /** Messages answered with 2xx after DATA. */
  accepted: PeerMessage[];
  connections: number;
  /** Every command line received, in order. */
  commands: string[];
  close(): Promise<void>;
}

export async function startSmtpPeer(
  script: PeerScript,
  options: { host?: string; port?: number } = {},
): Promise<SmtpPeer> {
  const host = options.host ?? "127.0.0.1";
  const sockets = new Set<net.Socket>();
  const peer: SmtpPeer = {
    host,
    port: 0,
    accepted: [],
    connections: 0,
    commands: [],
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const rcptAttempts = new Map<string, number>();
  let dataCount = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    peer.connections++;
    const greeting = script.greeting === undefined ? "220 peer.test ESMTP" : script.greeting;
    if (greeting === null) return;
    socket.write(`${greeting}\r\n`);
    let buffer = "";
    let inData = false;
    let data = "";
    let current: PeerMessage | null = null;
    socket.setEncoding("latin1");
    socket.on("data", async (chunk: string) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf("\r\n.\r\n");
          const atStart = data === "" && buffer.startsWith(".\r\n");
          if (end === -1 && !atStart) {
            if (buffer.length > 5) {
              data += buffer.slice(0, -5);
              buffer = buffer.slice(-5);
            }
            return;
          }
          if (atStart) {
            buffer = buffer.slice(3);
          } else {
            data += buffer.slice(0, end + 2);
            buffer = buffer.slice(end + 5);
          }
          inData = false;
          const message = { ...current!, data: data.replace(/^\.\./gm, ".") };
          const answer = await (script.data?.(message, dataCount++) ?? "250 2.0.0 queued");
          if (answer.startsWith("2")) peer.accepted.push(message);
          current = null;
          socket.write(`${answer}\r\n`);
          continue;
        }
        const newline = buffer.indexOf("\r\n");
        if (newline === -1) return;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 2);
        peer.commands.push(line);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") {
          const lines = [
            "peer.test",
            "PIPELINING",
            "8BITMIME",
            ...(script.auth ? ["AUTH PLAIN"] : []),
            ...(script.ehlo ?? []),
          ];
          socket.write(
            lines.map((l, i) => `250${i === lines.length - 1 ? " " : "-"}${l}\r\n`).join(""),
          );
        } else if (verb === "HELO") socket.write("250 peer.test\r\n");
        else if (verb === "AUTH" && script.auth) {
          const { username, password } = script.auth;
          const expected = btoa(`\0${username}\0${password}`);
          socket.write(
            line === `AUTH PLAIN ${expected}`
              ? "235 2.7.0 ok\r\n"
              : "535 5.7.8 bad credentials\r\n",
          );
        } else if (verb === "MAIL") {
          const match = /^MAIL FROM:<([^>]*)>(.*)$/i.exec(line);
          current = {
            from: match?.[1] ?? "",
            mailParams: match?.[2].trim() ?? "",
            recipients: [],
            rcptParams: [],
            data: "",
          };
          socket.write("250 2.1.0 ok\r\n");
        } else if (verb === "RCPT") {
          const match = /^RCPT TO:<([^>]*)>(.*)$/i.exec(line);
          const address = match?.[1] ?? "";
          const attempt = (rcptAttempts.get(address) ?? 0) + 1;
          rcptAttempts.set(address, attempt);
          const answer = script.rcpt?.(address, attempt) ?? "250 2.1.5 ok";
          if (answer.startsWith("2") && current) {
            current.recipients.push(address);
            current.rcptParams.push(match?.[2].trim() ?? "");
          }
          socket.write(`${answer}\r\n`);
        } else if (verb === "DATA") {
          inData = true;
          data = "";
          socket.write("354 go ahead\r\n");
        } else if (verb === "RSET") {
          current = null;
          socket.write("250 ok\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 bye\r\n");
        } else socket.write("502 5.5.1 unknown\r\n");
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  peer.port = (server.address() as net.AddressInfo).port;
  return peer;
}

/**
 * A remote mail domain for tests: "remote.test" whose MX ("mx.remote.test") is a fresh SMTP
 * peer, served by a test DNS server, with the server options that send the outbound queue there
 * (retry after 1 s, no MTA-STS). `zone` adds records (its "remote.test" entry is merged).
 */
export async function startRemoteDomain(zone: Zone = {}): Promise<{
  peer: SmtpPeer;
  dns: TestDnsServer;
  serverOptions: { dns: string; extra: string };
}> {
  const peer = await startSmtpPeer({});
  const dns = await startDnsServer({
    ...zone,
    "remote.test": { MX: [{ exchange: "mx.remote.test", preference: 10 }], ...zone["remote.test"] },
    "mx.remote.test": { A: [peer.host] },
  });
  const extra = ["[queue]", `remote_port = ${peer.port}`, `retry = ["1s"]`, `mta_sts = false`]
    .join("\n");
  return { peer, dns, serverOptions: { dns: `${dns.host}:${dns.port}`, extra } };
}
