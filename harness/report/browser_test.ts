import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { checkPage, findChromium, pageProblems } from "./browser.ts";

// The report test opens the report.html of fixtures/studies/report-check.json, a small study
// that draws every kind of plot. Without Chromium it is ignored under a name that says so, except where
// PRECOPY_REQUIRE_BROWSER=1 (CI), where a missing browser fails.
const root = new URL("../../", import.meta.url);
const artifact = fileURLToPath(new URL("ci-artifacts/report.png", root));
const required = Deno.env.get("PRECOPY_REQUIRE_BROWSER") === "1";
const browser = findChromium();
// Every kind of plot the report draws, so a kind that fails to render is caught.
const PLOT_KINDS = [
  "pareto",
  "heatmap-",
  "metric-vs-",
  "distribution-",
  "dirty-at-sync",
  "profiling",
];

/** Everything the check must catch; every outside address is in the never-resolving .invalid. */
const BROKEN = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="https://cdn.invalid/style.css">
<script src="local.js"></script></head><body>
<div class="plot" data-plot="empty"><svg width="100" height="100"></svg></div>
<div class="plot" data-plot="no-svg"><p>nothing drawn</p></div>
<div class="plot" data-plot="hidden" style="display:none"><svg><circle r="3"/></svg></div>
<img src="http://img.invalid/a.png">
<script>
  console.error("drawing failed");
  fetch("https://api.invalid/data.json").catch(() => {});
  throw new Error("plot code threw");
</script></body></html>
`;

async function writePage(html: string): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "precopy-browser-" });
  const path = `${dir}/report.html`;
  await Deno.writeTextFile(path, html);
  await Deno.writeTextFile(`${dir}/local.js`, "window.loaded = true;\n");
  return { dir, path };
}

/** Runs `deno task study` on a tiny spec and returns its report.html. */
async function studyReport(dir: string): Promise<string> {
  const spec = fileURLToPath(new URL("fixtures/studies/report-check.json", root));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "study", spec, "--out", `${dir}/study`, "--quiet", "--jobs", "1"],
    cwd: fileURLToPath(root),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `deno task study failed:\n${text}`);
  return `${dir}/study/report.html`;
}

if (!browser) {
  const why = "no Chromium (install Debian's chromium package or set CHROME_PATH)";
  if (required) {
    Deno.test(`browser check: PRECOPY_REQUIRE_BROWSER=1 but ${why}`, () => {
      assert.fail(`the report's browser check must run here, but there is ${why}`);
    });
  } else {
    console.error(`\nNOTE: browser check of report.html NOT RUN: ${why}\n`);
    Deno.test({
      name: `report.html in headless Chromium: NOT RUN, ${why}`,
      ignore: true,
      fn() {},
    });
  }
} else {
  Deno.test(
    "report.html renders every plot in headless Chromium (a study's report); screenshot in ci-artifacts/",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "precopy-browser-" });
      try {
        const path = await studyReport(dir);
        const html = await Deno.readTextFile(path);
        assert.doesNotMatch(html, /data-plot-missing/, "the study draws every kind of plot");
        const seen = await checkPage(path, { screenshot: artifact });
        assert.deepEqual(pageProblems(seen), []);
        for (const kind of PLOT_KINDS) {
          assert.ok(seen.plots.some((p) => p.name.startsWith(kind)), `no ${kind} plot`);
        }
        for (const p of seen.plots) assert.ok(p.marks >= 3, `${p.name}: ${p.marks} marks`);
        const png = await Deno.readFile(artifact);
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
        assert.ok(png.length > 2000, `screenshot of ${png.length} bytes is too small`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );

  Deno.test("the browser check reports empty, missing and hidden plots, errors and any outside request", async () => {
    const { dir, path } = await writePage(BROKEN);
    try {
      const seen = await checkPage(path, { screenshot: `${dir}/broken.png` });
      const problems = pageProblems(seen);
      const has = (re: RegExp) =>
        assert.ok(problems.some((p) => re.test(p)), `${re} not in:\n${problems.join("\n")}`);
      has(/^plot empty: no marks in its SVG$/);
      has(/^plot no-svg: no <svg>$/);
      has(/^plot hidden: not displayed \(zero size\)$/);
      has(/^console error: drawing failed/);
      has(/^uncaught exception: .*plot code threw/);
      has(/^blocked request .*: https:\/\/cdn\.invalid\/style\.css$/);
      has(/^blocked request .*: file:\/\/.*\/local\.js$/);
      has(/^blocked request .*: http:\/\/img\.invalid\/a\.png$/);
      has(/^blocked request .*: https:\/\/api\.invalid\/data\.json$/);
      assert.equal((await Deno.stat(`${dir}/broken.png`)).isFile, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test("checkPage() names a missing file", async () => {
    await assert.rejects(
      checkPage("/nonexistent/report.html", { screenshot: "/nonexistent/x.png" }),
      /'\/nonexistent\/report\.html' is not a readable file/,
    );
  });
}
