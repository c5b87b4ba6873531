/** Disk figures (src/observability/disk.ts): `df -Pk` parsing, a real measurement, the cache. */
import { assert, assertEquals } from "../helpers/assert.ts";
import { DiskUsage, parseDfOutput } from "../../src/observability/disk.ts";

Deno.test("parseDfOutput: POSIX df output, names with spaces, garbage", () => {
  assertEquals(
    parseDfOutput(
      "Filesystem     1024-blocks      Used Available Capacity Mounted on\n" +
        "/dev/sda1         41152736  12345678  26693812      32% /\n",
    ),
    { totalBytes: 41152736 * 1024, freeBytes: 26693812 * 1024 },
  );
  assertEquals(
    parseDfOutput(
      "Filesystem 1024-blocks Used Available Capacity Mounted on\nmy disk 100 40 60 40% /mnt/a b\n",
    )
      ?.freeBytes,
    60 * 1024,
  );
  assertEquals(parseDfOutput(""), null);
  assertEquals(parseDfOutput("Filesystem\nnot numbers here at all x\n"), null);
});

Deno.test("DiskUsage: measures a real directory and caches the figures", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-disk-" });
  try {
    await Deno.mkdir(`${dir}/blobs`);
    await Deno.writeFile(`${dir}/blobs/x`, new Uint8Array(10_000));
    await Deno.writeFile(`${dir}/db.sqlite`, new Uint8Array(4096));
    const usage = new DiskUsage({
      dataDir: dir,
      database: `${dir}/db.sqlite`,
      blobDir: `${dir}/blobs`,
    });
    const first = await usage.read();
    assert(first.totalBytes! > 0 && first.freeBytes! >= 0, JSON.stringify(first));
    assertEquals(first.databaseBytes, 4096);
    assert(first.blobBytes! >= 8192, `blobs ${first.blobBytes}`);
    assertEquals(await usage.read(), first);
    const missing = new DiskUsage({
      dataDir: `${dir}/none`,
      database: `${dir}/none/db`,
      blobDir: `${dir}/none/blobs`,
    });
    const unknown = await missing.read();
    assertEquals(
      [unknown.freeBytes, unknown.totalBytes, unknown.databaseBytes, unknown.blobBytes],
      [null, null, null, null],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
