/**
 * Shared by the POP3 integration tests: a POP3 client over LineClient (status lines, multi-line
 * responses with byte-stuffing undone), delivery through `postern deliver`, and the server's CA.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, type TestServer } from "../helpers/server.ts";
import { LineClient } from "../helpers/tls.ts";

export const plain = (user: string, password: string) => btoa(`\0${user}\0${password}`);

export function caOf(server: TestServer): Promise<string> {
  return Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
}

/** Delivers `message` (LF or CRLF; stored with CRLF) to `to` through the CLI. */
export async function deliver(server: TestServer, to: string, message: string): Promise<void> {
  const result = await cli(server.configPath, ["deliver", to], message);
  assertEquals(result.code, 0, result.stderr);
}

export class Pop3Client {
  constructor(readonly line: LineClient) {}

  /** Connects to `pop3s` (implicit TLS) and reads the greeting. */
  static async tls(server: TestServer): Promise<Pop3Client> {
    const line = await LineClient.connect(server.ports.pop3s, {
      implicitTls: { ca: await caOf(server) },
    });
    const client = new Pop3Client(line);
    assertMatch(await client.status(), /^\+OK mail\.example\.com Postern POP3 ready$/);
    return client;
  }

  /** Connects to `pop3` (plaintext) and reads the greeting. */
  static async plain(server: TestServer): Promise<Pop3Client> {
    const client = new Pop3Client(await LineClient.connect(server.ports.pop3));
    assertMatch(await client.status(), /^\+OK /);
    return client;
  }

  /** Connects to `pop3s` and logs in with USER/PASS. */
  static async login(server: TestServer, user: string, password: string): Promise<Pop3Client> {
    const client = await Pop3Client.tls(server);
    assertEquals(await client.send(`USER ${user}`), "+OK");
    assertMatch(await client.send(`PASS ${password}`), /^\+OK Logged in, \d+ messages/);
    return client;
  }

  async status(): Promise<string> {
    const line = await this.line.readLine();
    if (line === null) throw new Error("connection closed");
    return line;
  }

  async send(command: string): Promise<string> {
    await this.line.write(`${command}\r\n`);
    return await this.status();
  }

  /** The body of a multi-line response (after its +OK line), byte-stuffing undone. */
  async body(): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line.readLine();
      if (line === null) throw new Error(`closed after ${JSON.stringify(lines)}`);
      if (line === ".") return lines;
      lines.push(line.startsWith(".") ? line.slice(1) : line);
    }
  }

  /** Sends a multi-line command; returns its status line and body. */
  async multi(command: string): Promise<{ status: string; lines: string[] }> {
    const status = await this.send(command);
    assert(status.startsWith("+OK"), `${command} → ${status}`);
    return { status, lines: await this.body() };
  }

  /** A message as received, lines joined with CRLF and a final CRLF. */
  async retr(n: number): Promise<string> {
    const { lines } = await this.multi(`RETR ${n}`);
    return lines.map((l) => `${l}\r\n`).join("");
  }

  async quit(): Promise<string> {
    const reply = await this.send("QUIT");
    assert(await this.line.waitClosed(), "server did not close after QUIT");
    return reply;
  }

  close(): Promise<void> {
    return this.line.close();
  }
}
