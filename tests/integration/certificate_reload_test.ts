/**
 * SIGHUP reloads the certificate files: a renewal by another tool (certbot) reaches IMAPS and
 * HTTPS — the default certificate and a [tls] sni one — without a restart, and a broken file is
 * logged while the certificates in use stay.
 */
import tls from "node:tls";
import { assert, assertEquals } from "../helpers/assert.ts";
import { startServer } from "../helpers/server.ts";
import { generateSelfSigned } from "../../src/tls/self_signed.ts";

function servedNames(port: number, servername: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: "127.0.0.1", port, servername, rejectUnauthorized: false },
      () => {
        const names = (socket.getPeerCertificate().subjectaltname ?? "").split(/,\s*/)
          .map((entry) => entry.replace(/^DNS:/, ""));
        socket.destroy();
        resolve(names);
      },
    );
    socket.once("error", reject);
  });
}

async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never: ${what}`);
}

Deno.test("SIGHUP: renewed certificate files are served on IMAPS and HTTPS, a broken one is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-reload-" });
  const write = async (name: string, names: string[]) => {
    const pair = await generateSelfSigned(names);
    await Deno.writeTextFile(`${dir}/${name}.crt`, pair.certificatePem);
    await Deno.writeTextFile(`${dir}/${name}.key`, pair.keyPem);
  };
  await write("main", ["mail.example.com"]);
  await write("other", ["other.example.net"]);
  const server = await startServer({
    tls: {
      certificate: `${dir}/main.crt`,
      key: `${dir}/main.key`,
      sni: [{ certificate: `${dir}/other.crt`, key: `${dir}/other.key` }],
    },
  });
  try {
    const { imaps, https } = server.ports;
    assertEquals(await servedNames(imaps, "mail.example.com"), ["mail.example.com"]);
    assertEquals(await servedNames(https, "mail.example.com"), ["mail.example.com"]);
    assertEquals(await servedNames(https, "other.example.net"), ["other.example.net"]);

    await write("main", ["mail.example.com", "renewed.example.com"]);
    await write("other", ["other.example.net", "www.other.example.net"]);
    server.process.kill("SIGHUP");
    await until(
      "the renewed default on IMAPS",
      async () => (await servedNames(imaps, "mail.example.com")).includes("renewed.example.com"),
    );
    await until(
      "the renewed default on HTTPS",
      async () => (await servedNames(https, "mail.example.com")).includes("renewed.example.com"),
    );
    assertEquals(await servedNames(https, "www.other.example.net"), [
      "other.example.net",
      "www.other.example.net",
    ]);
    assertEquals(await servedNames(imaps, "www.other.example.net"), [
      "other.example.net",
      "www.other.example.net",
    ]);

    // A half-written renewal: the key no longer matches. Logged; nothing changes.
    const stray = await generateSelfSigned(["mail.example.com"]);
    await Deno.writeTextFile(`${dir}/main.key`, stray.keyPem);
    server.process.kill("SIGHUP");
    await until(
      "the failed reload logged",
      () => Promise.resolve(server.logs.some((line) => line.includes("certificate reload failed"))),
    );
    assert((await servedNames(imaps, "mail.example.com")).includes("renewed.example.com"));
    assert((await servedNames(https, "mail.example.com")).includes("renewed.example.com"));
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
