/**
 * The network layer over real sockets: connection limits, idle timeout, long lines, literals,
 * port scanners, implicit TLS, bind errors, handler failures and graceful shutdown — each
 * asserted as a client sees it.
 */
import net from "node:net";
import { assert, assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { eventually, LineClient, startServer, type TestServer } from "../helpers/tls.ts";
import {
  BindError,
  type Connection,
  describeBindError,
  LineTooLongError,
  ListenerGroup,
  type SessionHandler,
} from "../../src/server/mod.ts";
import { smtpGreeter } from "../../src/smtp/greeter.ts";
import { configureLogging } from "../../src/observability/log.ts";

const TOO_MANY = "421 4.7.0 Too many connections from your address\r\n";
const decoder = new TextDecoder();

/** A tiny line protocol for these tests: echo, literals, a crash and a slow command. */
interface Seen {
  started: number;
  eof: number;
  flooded?: number;
}

const MIB = 1024 * 1024;

function echoHandler(seen: Seen = { started: 0, eof: 0 }): SessionHandler {
  return async (conn: Connection) => {
    seen.started++;
    await conn.write("hello\r\n");
    for (;;) {
      let line: string | null;
      try {
        line = await conn.readLine();
      } catch (err) {
        if (!(err instanceof LineTooLongError)) throw err;
        await conn.write("error line too long\r\n");
        continue;
      }
      if (line === null) {
        seen.eof++;
        return;
      }
      if (line === "quit") return;
      if (line === "boom") throw new Error("handler bug (expected by the test)");
      if (line === "pipe") {
        await conn.write(`buffered ${conn.hasBufferedInput()}\r\n`);
        continue;
      }
      if (line.startsWith("flood ")) {
        const chunk = new Uint8Array(MIB).fill(0x2e);
        for (let i = 0; i < Number(line.slice(6)); i++) {
          await conn.write(chunk);
          seen.flooded = (seen.flooded ?? 0) + 1;
        }
        continue;
      }
      if (line.startsWith("slow ")) {
        await new Promise((r) => setTimeout(r, Number(line!.slice(5))));
        await conn.write("slow done\r\n");
        continue;
      }
      if (line.startsWith("literal ")) {
        const bytes = await conn.readBytes(Number(line.slice(8)));
        if (bytes === null) return;
        await conn.write(`literal ${JSON.stringify(decoder.decode(bytes))}\r\n`);
        continue;
      }
      await conn.write(`echo ${line}\r\n`);
    }
  };
}

async function echoServer(
  limits: Parameters<typeof startServer>[1] = {},
  seen?: Seen,
  extra: Partial<{ onIdleTimeout: string }> = {},
): Promise<TestServer> {
  return await startServer([{
    service: "echo",
    implicitTls: false,
    handler: echoHandler(seen),
    tooManyConnections: TOO_MANY,
    ...extra,
  }], limits);
}

async function connectGreeted(port: number, localAddress?: string): Promise<LineClient> {
  const client = await LineClient.connect(port, { localAddress });
  assertEquals(await client.readLine(), "hello");
  return client;
}

Deno.test("per-IP limit: the connection past it gets one line and is closed; other IPs are served", async () => {
  const server = await echoServer({ maxConnectionsPerIp: 3 });
  const port = server.port("echo");
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await connectGreeted(port));
  const refused = await LineClient.connect(port);
  assertEquals(await refused.readLine(), TOO_MANY.trimEnd());
  assert(await refused.waitClosed(), "the refused connection is closed");
  assertEquals(await refused.readLine(), null, "and gets nothing else");
  await refused.close();

  const otherIp = await connectGreeted(port, "127.0.0.2");
  await otherIp.write("ping\r\n");
  assertEquals(await otherIp.readLine(), "echo ping");

  // The served ones are unaffected, and closing one frees a slot for its IP.
  await clients[0].write("ping\r\n");
  assertEquals(await clients[0].readLine(), "echo ping");
  await clients[1].close();
  await eventually(() => server.group.activeConnections() === 3, "the closed slot to be freed");
  clients[1] = await connectGreeted(port);

  for (const c of [...clients, otherIp]) await c.close();
  await server.stop();
});

Deno.test("total limit: past max_connections every address is refused", async () => {
  const server = await echoServer({ maxConnections: 2 });
  const port = server.port("echo");
  const a = await connectGreeted(port);
  const b = await connectGreeted(port, "127.0.0.2");
  const c = await LineClient.connect(port, { localAddress: "127.0.0.3" });
  assertEquals(await c.readLine(), TOO_MANY.trimEnd());
  assert(await c.waitClosed());
  for (const client of [a, b, c]) await client.close();
  await server.stop();
});

Deno.test("idle timeout: the client gets the goodbye line, then EOF; the handler sees null", async () => {
  const seen = { started: 0, eof: 0 };
  const server = await echoServer({ idleTimeoutSeconds: 1 }, seen, {
    onIdleTimeout: "421 4.4.2 Idle timeout\r\n",
  });
  const client = await connectGreeted(server.port("echo"));
  const started = Date.now();
  assertEquals(await client.readLine(3000), "421 4.4.2 Idle timeout");
  const waited = Date.now() - started;
  assert(waited >= 900, `closed after ${waited} ms, before the 1 s timeout`);
  assert(await client.waitClosed(), "closed after the idle timeout");
  await client.close();
  await eventually(() => server.group.activeConnections() === 0, "the session to end");
  assertEquals(seen.eof, 1);
  await server.stop();
});

Deno.test("idle timeout restarts on every line the client sends", async () => {
  const server = await echoServer({ idleTimeoutSeconds: 1 });
  const client = await connectGreeted(server.port("echo"));
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 400));
    await client.write(`ping ${i}\r\n`);
    assertEquals(await client.readLine(), `echo ping ${i}`);
  }
  await client.close();
  await server.stop();
});

Deno.test("a too-long line is answered and the connection continues", async () => {
  const server = await startServer([{
    service: "smtp",
    implicitTls: false,
    handler: smtpGreeter({ hostname: "localhost", submission: false }),
  }], { maxLineLength: 1000 });
  const client = await LineClient.connect(server.port("smtp"));
  await client.readLine();
  await client.write("NOOP " + "x".repeat(5000) + "\r\nNOOP\r\n");
  assertEquals(await client.readLine(), "500 5.5.2 Line too long");
  assertEquals(await client.readLine(), "250 2.0.0 OK");

  // The error comes before the line ends (memory stays bounded); the tail is discarded.
  await client.write("y".repeat(3000));
  assertEquals(await client.readLine(), "500 5.5.2 Line too long");
  await client.write("y".repeat(3000) + "\r\nNOOP\r\n");
  assertEquals(await client.readLine(), "250 2.0.0 OK");
  // Exactly the limit is accepted.
  await client.write("NOOP" + " ".repeat(996) + "\r\n");
  assertEquals(await client.readLine(), "250 2.0.0 OK");
  await client.close();
  await server.stop();
});

Deno.test("literal reads and lines split across packets reassemble", async () => {
  const server = await echoServer();
  const client = await connectGreeted(server.port("echo"));
  await client.write("lit");
  await new Promise((r) => setTimeout(r, 20));
  await client.write("eral 7\r\nab\r");
  await new Promise((r) => setTimeout(r, 20));
  await client.write("\ncd\nnext\n");
  assertEquals(await client.readLine(), 'literal "ab\\r\\ncd\\n"');
  assertEquals(await client.readLine(), "echo next");
  await client.close();
  await server.stop();
});

Deno.test("hasBufferedInput tells whether the client pipelined more commands", async () => {
  const server = await echoServer();
  const client = await connectGreeted(server.port("echo"));
  await client.write("pipe\r\nping\r\n");
  assertEquals(await client.readLine(), "buffered true");
  assertEquals(await client.readLine(), "echo ping");
  await client.write("pipe\r\n");
  assertEquals(await client.readLine(), "buffered false");
  await client.close();
  await server.stop();
});

Deno.test("writes apply backpressure: a client that does not read stalls the writer", async () => {
  const seen: Seen = { started: 0, eof: 0 };
  const server = await echoServer({}, seen);
  const socket = net.connect({ port: server.port("echo"), host: "127.0.0.1" });
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.pause();
  socket.write("flood 32\r\n");
  await new Promise((resolve) => setTimeout(resolve, 500));
  const whileStalled = seen.flooded ?? 0;
  assert(whileStalled < 24, `${whileStalled} MiB were written to a client that reads nothing`);
  let received = 0;
  const expected = "hello\r\n".length + 32 * MIB;
  await new Promise<void>((resolve) => {
    socket.on("data", (chunk: Uint8Array) => {
      received += chunk.length;
      if (received >= expected) resolve();
    });
    socket.resume();
  });
  assertEquals(received, expected);
  await eventually(() => seen.flooded === 32, "every write to complete");
  socket.destroy();
  await new Promise((resolve) => socket.once("close", resolve));
  await server.stop();
});

Deno.test("a port scanner connecting and hanging up 200 times leaves nothing behind", async () => {
  const seen = { started: 0, eof: 0 };
  const server = await echoServer({}, seen);
  const port = server.port("echo");
  for (let i = 0; i < 200; i++) {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ port, host: "127.0.0.1" });
      socket.on("error", reject);
      // Half hang up politely (FIN), half with a reset after sending a partial command.
      socket.on("connect", () => {
        if (i % 2 === 0) socket.destroy();
        else socket.write("EHLO half", () => socket.resetAndDestroy());
      });
      socket.on("close", () => resolve());
    });
  }
  await eventually(() => seen.started === 200, "the server to accept every scan");
  await eventually(() => server.group.activeConnections() === 0, "every scan to be cleaned up");
  // And the server still serves.
  const client = await connectGreeted(port);
  await client.close();
  await server.stop();
});

Deno.test("a handler exception closes that connection only and is logged with its session", async () => {
  const server = await echoServer();
  const port = server.port("echo");
  const crashing = await connectGreeted(port);
  const healthy = await connectGreeted(port);
  const logged: string[] = [];
  configureLogging({ sink: { write: (line) => logged.push(line) } });
  try {
    await crashing.write("boom\r\n");
    assert(await crashing.waitClosed(), "the failing session is closed");
  } finally {
    configureLogging({ sink: { write: (line) => console.error(line) } });
  }
  const failure = logged.find((l) => l.includes("session failed"));
  assert(failure, `expected a "session failed" log line, got ${JSON.stringify(logged)}`);
  assertMatch(failure, /\[[0-9a-f]{12}\].*handler bug \(expected by the test\)/);
  await healthy.write("still there\r\n");
  assertEquals(await healthy.readLine(), "echo still there");
  await crashing.close();
  await healthy.close();
  await server.stop();
});

Deno.test("implicit TLS listener: the greeting arrives over verified TLS", async () => {
  const server = await startServer([{
    service: "submissions",
    implicitTls: true,
    handler: smtpGreeter({ hostname: "localhost", submission: true }),
  }]);
  const client = await LineClient.connect(server.port("submissions"), {
    implicitTls: { ca: server.ca },
  });
  assert(client.authorized);
  assertEquals(await client.readLine(), "220 localhost ESMTP Postern");
  await client.write("EHLO me\r\n");
  assertEquals(await client.readUntil((l) => l.startsWith("250 ")), [
    "250-localhost Hello me",
    "250 ENHANCEDSTATUSCODES",
  ]);
  await client.write("MAIL FROM:<a@example.com>\r\n");
  assertMatch((await client.readLine())!, /^451 4\.3\.2 /);
  await client.close();
  await server.stop();
});

Deno.test("bind error: a port in use fails the whole group with a clear message", async () => {
  const server = await echoServer();
  const busyPort = server.port("echo");
  const freePort = await ephemeralPort();
  const group = new ListenerGroup({
    limits: {
      maxLineLength: 100,
      idleTimeoutSeconds: 5,
      maxConnections: 5,
      maxConnectionsPerIp: 5,
    },
    certificates: server.certificates,
  });
  const handler = echoHandler();
  const err = await assertRejects(
    () =>
      group.listen([
        { service: "imap", host: "127.0.0.1", port: freePort, implicitTls: false, handler },
        { service: "smtp", host: "127.0.0.1", port: busyPort, implicitTls: false, handler },
      ]),
    BindError,
  );
  assertMatch(
    err.message,
    new RegExp(`^smtp: port ${busyPort} on 127\\.0\\.0\\.1 is already in use`),
  );
  assertMatch(err.message, new RegExp(`held by pid ${Deno.pid} `), "names the holding process");
  assertEquals(err.code, "EADDRINUSE");
  // All or nothing: the listener that did bind was closed again.
  const again = await group.listen([
    { service: "imap", host: "127.0.0.1", port: freePort, implicitTls: false, handler },
  ]);
  assertEquals(again[0].port, freePort);
  await group.shutdown(0);
  await server.stop();
});

Deno.test("bind error: a privileged port names the capability needed", async () => {
  const handler = echoHandler();
  const err = await describeBindError(
    { service: "smtp", host: "0.0.0.0", port: 25, implicitTls: false, handler },
    Object.assign(new Error("listen EACCES"), { code: "EACCES" }),
  );
  assertEquals(err.message, "smtp: binding port 25 on 0.0.0.0 needs root or CAP_NET_BIND_SERVICE");
});

Deno.test("graceful shutdown: a busy session finishes, new connections are refused", async () => {
  const server = await echoServer();
  const port = server.port("echo");
  const client = await connectGreeted(port);
  await client.write("slow 300\r\n");
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  const stopping = server.group.shutdown(5);
  await assertRejects(() => LineClient.connect(port), Error);
  assertEquals(await client.readLine(), "slow done", "the command in progress completes");
  await client.write("quit\r\n");
  await stopping;
  assert(Date.now() - started < 4000, "shutdown ends once the session does, not at the grace end");
  assert(await client.waitClosed());
  await client.close();
  await server.stop();
});

Deno.test("graceful shutdown: sessions still open after the grace period are closed", async () => {
  const server = await echoServer();
  const client = await connectGreeted(server.port("echo"));
  const started = Date.now();
  await server.group.shutdown(0.3);
  const took = Date.now() - started;
  assert(took >= 250 && took < 3000, `shutdown took ${took} ms for a 0.3 s grace`);
  assert(await client.waitClosed(), "the idle session was closed");
  assertEquals(server.group.activeConnections(), 0);
  await client.close();
  await server.stop();
});

function ephemeralPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
