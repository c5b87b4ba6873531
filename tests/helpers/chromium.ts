/**
 * Headless Chromium for the page tests (tests/interop/*_browser_test.ts): Debian's `chromium`
 * (scripts/install-interop.sh) driven by playwright-core, screenshots kept as test artifacts.
 */
import { type Browser, chromium, type Page } from "playwright-core";

const ARTIFACTS = new URL("../artifacts/", import.meta.url).pathname;

export async function launchChromium(): Promise<Browser> {
  return await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
}

/** Saves the whole page as tests/artifacts/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

/** The flash message of the page after a form's redirect. */
export async function flash(page: Page): Promise<string> {
  return (await page.textContent(".flash")) ?? "";
}
