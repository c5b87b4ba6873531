/** ManageSieve steps tests share: reading a reply, and uploading and activating a script. */
import { assertMatch } from "./assert.ts";
import type { TestServer } from "./server.ts";
import { LineClient } from "./tls.ts";

/** Reads ManageSieve lines up to the OK/NO/BYE line; returns that line. */
export async function sieveReply(client: LineClient): Promise<string> {
  for (;;) {
    const line = await client.readLine();
    if (line === null) throw new Error("managesieve closed");
    if (/^(OK|NO|BYE)\b/.test(line)) return line;
  }
}

/**
 * Uploads `script` as "main" for `user` and activates it over ManageSieve (STARTTLS with the
 * server's self-signed certificate, AUTHENTICATE PLAIN).
 */
export async function activateScript(
  server: TestServer,
  login: { user: string; password: string },
  script: string,
): Promise<void> {
  const client = await LineClient.connect(server.ports.managesieve);
  try {
    await sieveReply(client);
    await client.write("STARTTLS\r\n");
    assertMatch(await sieveReply(client), /^OK/);
    await client.startTls(await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`));
    await sieveReply(client);
    await client.write(`AUTHENTICATE "PLAIN" "${btoa(`\0${login.user}\0${login.password}`)}"\r\n`);
    assertMatch(await sieveReply(client), /^OK/);
    const length = new TextEncoder().encode(script).length;
    await client.write(`PUTSCRIPT "main" {${length}+}\r\n${script}\r\n`);
    assertMatch(await sieveReply(client), /^OK/);
    await client.write('SETACTIVE "main"\r\n');
    assertMatch(await sieveReply(client), /^OK/);
  } finally {
    await client.close();
  }
}
