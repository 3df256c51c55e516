/**
 * Opens an HTML report in headless Chromium and says what the browser drew: the SVG marks
 * of every plot, every console error, uncaught exception and failed request, and a PNG
 * screenshot. The page must be self-contained, so the network is cut off: any request
 * other than the file itself is blocked and counted as a failure.
 *
 * Chromium is the system's (Debian's `chromium` package), driven over the DevTools protocol
 * by puppeteer-core through a pipe (no port is opened and no browser is downloaded).
 *
 * Run by hand: `deno run -A harness/cli/browser.ts REPORT.html [SCREENSHOT.png]`.
 *
 * @module
 */

import { pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";
import type { HTTPRequest } from "puppeteer-core";
import { PrecopyError } from "../errors.ts";

/** SVG elements that draw something; counted as a plot's marks. */
export const MARK_SELECTOR = "path, rect, circle, ellipse, line, polyline, polygon, text";

/** The browser's names, looked up on `PATH` in this order when `CHROME_PATH` is not set. */
const BROWSER_NAMES = ["chromium", "chromium-browser"];

// Page-side code, as source: it runs in the browser, whose DOM types this program lacks.
/** Resolves after two animation frames: scripts that draw on load have drawn. */
const AFTER_TWO_FRAMES =
  "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())))";
/** Each `.plot` element: its name, SVGs, marks and box. */
const COUNT_MARKS = `[...document.querySelectorAll(".plot")].map((el, i) => {
  const box = el.getBoundingClientRect();
  return {
    name: el.getAttribute("data-plot") ?? "#" + (i + 1),
    svgs: el.querySelectorAll("svg").length,
    marks: el.querySelectorAll("svg :is(${MARK_SELECTOR})").length,
    width: Math.round(box.width),
    height: Math.round(box.height),
  };
})`;

/** One plot of the page (an element with class `plot`), as the browser laid it out. */
export interface PlotMarks {
  /** The element's `data-plot` attribute, or `#N` (its position, from 1) without one. */
  name: string;
  /** `<svg>` elements inside it. */
  svgs: number;
  /** Marks inside those SVGs (elements matching {@link MARK_SELECTOR}). */
  marks: number;
  /** Width of the plot's box, CSS pixels (0 when hidden). */
  width: number;
  /** Height of the plot's box, CSS pixels (0 when hidden). */
  height: number;
}

/** What {@link checkPage} saw. */
export interface PageCheck {
  /** Every `.plot` element, in document order. */
  plots: PlotMarks[];
  /** Console errors, uncaught exceptions, blocked and failed requests: one line each. */
  errors: string[];
  /** Path of the PNG screenshot written. */
  screenshot: string;
}

/** Options of {@link checkPage}. */
export interface CheckOptions {
  /** Where to write the full-page PNG screenshot (parent directories are created). */
  screenshot: string;
  /** The browser executable; default {@link findChromium}. */
  browser?: string;
  /** Limit for starting the browser and for loading the page, ms; default 60 000. */
  timeoutMs?: number;
  /** Viewport width, CSS pixels; default 1280. */
  width?: number;
}

/**
 * Finds the Chromium executable: `CHROME_PATH` when set, else `chromium` or
 * `chromium-browser` on `PATH`.
 *
 * @param env reads an environment variable (default `Deno.env.get`)
 * @returns the executable's path, or `undefined` when there is none
 * @throws {PrecopyError} when `CHROME_PATH` is set but names no file
 *
 * @example Usage
 * ```ts
 * import { findChromium } from "./browser.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(findChromium((k) => (k === "PATH" ? "/nonexistent" : undefined)), undefined);
 * ```
 */
export function findChromium(
  env: (key: string) => string | undefined = (k) => Deno.env.get(k),
): string | undefined {
  const given = env("CHROME_PATH");
  if (given) {
    if (!isFile(given)) {
      throw new PrecopyError("config", `CHROME_PATH: '${given}' is not a file`);
    }
    return given;
  }
  for (const dir of (env("PATH") ?? "").split(":")) {
    if (!dir) continue;
    for (const name of BROWSER_NAMES) {
      const path = `${dir}/${name}`;
      if (isFile(path)) return path;
    }
  }
  return undefined;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Opens `htmlPath` in headless Chromium with the network cut off, waits for it to load and
 * draw, and reports each plot's marks, every error, and a screenshot.
 *
 * @param htmlPath the page (a local file)
 * @param options screenshot path, browser, limits
 * @returns what the browser saw
 * @throws {PrecopyError} when the file cannot be read or no browser is found
 *
 * @example Usage
 * ```ts
 * import { checkPage, findChromium } from "./browser.ts";
 * import assert from "node:assert/strict";
 *
 * if (findChromium()) {
 *   const dir = await Deno.makeTempDir();
 *   await Deno.writeTextFile(
 *     `${dir}/a.html`,
 *     '<div class="plot" data-plot="dot"><svg><circle r="4" cx="5" cy="5"/></svg></div>',
 *   );
 *   const seen = await checkPage(`${dir}/a.html`, { screenshot: `${dir}/a.png` });
 *   assert.deepEqual(seen.plots.map((p) => [p.name, p.marks]), [["dot", 1]]);
 *   assert.deepEqual(seen.errors, []);
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function checkPage(htmlPath: string, options: CheckOptions): Promise<PageCheck> {
  let real: string;
  try {
    real = await Deno.realPath(htmlPath);
    if (!(await Deno.stat(real)).isFile) throw new Error("not a file");
  } catch {
    throw new PrecopyError("config", `'${htmlPath}' is not a readable file`);
  }
  const executablePath = options.browser ?? findChromium();
  if (!executablePath) {
    throw new PrecopyError(
      "config",
      "no Chromium found: install Debian's chromium package or set CHROME_PATH",
    );
  }
  const timeout = options.timeoutMs ?? 60_000;
  const pageUrl = pathToFileURL(real).href;
  const errors: string[] = [];
  const blocked = new Set<HTTPRequest>();

  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    // A pipe, not a port: no network permission is needed and nothing listens.
    pipe: true,
    timeout,
    protocolTimeout: timeout,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: [
      // Root in a container has no user namespaces for the sandbox; the page is a local
      // file with its network cut off.
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      // Chromium's own background traffic (updates, sync, metrics) has no network here.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
      // Second line of defence behind request interception (which does not see WebSockets).
      "--host-resolver-rules=MAP * ~NOTFOUND",
    ],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: options.width ?? 1280, height: 800 });
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const at = m.location();
      errors.push(
        `console error: ${m.text()}${at.url ? ` (${at.url}:${at.lineNumber ?? 0})` : ""}`,
      );
    });
    page.on("pageerror", (e) => {
      errors.push(`uncaught exception: ${e instanceof Error ? e.message : String(e)}`);
    });
    page.on("error", (e) => void errors.push(`page crashed: ${e.message}`));
    await page.setRequestInterception(true);
    page.on("request", (req) => {
      const url = req.url();
      if (url.split("#")[0] === pageUrl || /^(data|blob|about):/.test(url)) {
        void req.continue();
      } else {
        blocked.add(req);
        errors.push(`blocked request (the page must be self-contained): ${url}`);
        void req.abort("blockedbyclient");
      }
    });
    page.on("requestfailed", (req) => {
      if (blocked.has(req)) return;
      errors.push(`failed request: ${req.url()} (${req.failure()?.errorText ?? "failed"})`);
    });
    page.on("response", (res) => {
      if (res.status() >= 400) errors.push(`failed request: ${res.url()} (status ${res.status()})`);
    });

    await page.goto(pageUrl, { waitUntil: "load", timeout });
    // Let scripts that draw on load finish their frames before counting.
    await page.evaluate(AFTER_TWO_FRAMES);
    const plots = await page.evaluate(COUNT_MARKS) as PlotMarks[];
    const png = await page.screenshot({ fullPage: true, type: "png" });
    const dir = options.screenshot.replace(/\/[^/]*$/, "");
    if (dir !== options.screenshot && dir) await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(options.screenshot, png);
    return { plots, errors, screenshot: options.screenshot };
  } finally {
    await browser.close();
  }
}

/**
 * What is wrong with a checked page, one line each: no plot at all, a plot without SVG,
 * marks or size, and every error the browser reported. Empty when the page is sound.
 *
 * @param check what {@link checkPage} saw
 * @returns the problems
 *
 * @example Usage
 * ```ts
 * import { pageProblems } from "./browser.ts";
 * import assert from "node:assert/strict";
 *
 * const plot = { name: "pareto", svgs: 1, marks: 0, width: 400, height: 300 };
 * assert.deepEqual(pageProblems({ plots: [plot], errors: [], screenshot: "a.png" }), [
 *   "plot pareto: no marks in its SVG",
 * ]);
 * ```
 */
export function pageProblems(check: PageCheck): string[] {
  const out: string[] = [];
  if (check.plots.length === 0) out.push("no element with class 'plot' on the page");
  for (const p of check.plots) {
    if (p.svgs === 0) out.push(`plot ${p.name}: no <svg>`);
    else if (p.marks === 0) out.push(`plot ${p.name}: no marks in its SVG`);
    if (p.width === 0 || p.height === 0) out.push(`plot ${p.name}: not displayed (zero size)`);
  }
  return [...out, ...check.errors];
}
