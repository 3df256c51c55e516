/**
 * `deno run -A harness/cli/browser.ts REPORT.html [SCREENSHOT.png]`: open an HTML report in
 * headless Chromium and say what it drew — the marks of every plot, every problem — and where
 * the screenshot went. The check itself is harness/report/browser.ts.
 *
 * @module
 */

import { checkPage, pageProblems } from "../report/browser.ts";
import { type CliIo, reportError, runMain, stdio } from "./kit.ts";

const USAGE = "usage: deno run -A harness/cli/browser.ts REPORT.html [SCREENSHOT.png]\n";

/**
 * Checks a report page in the browser.
 *
 * @param args the page, and optionally where its screenshot goes (default: the page's name
 * with `.png`)
 * @param io output sinks
 * @returns the exit status: 0 when every plot drew and nothing went wrong, 1 when the page
 * has problems (each printed as `problem: …`), 2 for bad arguments or a missing browser
 *
 * @example Usage
 * ```ts
 * import { runBrowser } from "./browser.ts";
 * import assert from "node:assert/strict";
 * let err = "";
 * const io = { out: () => {}, err: (t: string) => { err += t; }, interactive: false };
 * assert.equal(await runBrowser([], io), 2);
 * assert.match(err, /^usage: /);
 * ```
 */
export async function runBrowser(args: string[], io: CliIo = stdio): Promise<number> {
  if (args.length < 1 || args.length > 2 || args[0].startsWith("-")) {
    io.err(USAGE);
    return 2;
  }
  try {
    const shot = args[1] ?? args[0].replace(/\.html?$/i, "") + ".png";
    const check = await checkPage(args[0], { screenshot: shot });
    for (const p of check.plots) io.out(`plot ${p.name}: ${p.marks} marks in ${p.svgs} svg\n`);
    const problems = pageProblems(check);
    for (const line of problems) io.out(`problem: ${line}\n`);
    io.out(`screenshot: ${check.screenshot}\n`);
    return problems.length === 0 ? 0 : 1;
  } catch (e) {
    return reportError(e, io);
  }
}

if (import.meta.main) await runMain(runBrowser);
