/**
 * Postern entry point: `deno run -A main.ts [command]` or the compiled `postern` binary.
 * See `postern --help`.
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
