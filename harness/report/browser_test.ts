import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { checkPage, findChromium, pageProblems } from "./browser.ts";

// The report test opens the study's report.html once `deno task study` exists, and a page of
// its own until then. Without Chromium it is ignored under a name that says so, except where
// PRECOPY_REQUIRE_BROWSER=1 (CI), where a missing browser fails.
const root = new URL("../../", import.meta.url);
const artifact = fileURLToPath(new URL("ci-artifacts/report.png", root));
const required = Deno.env.get("PRECOPY_REQUIRE_BROWSER") === "1";
const browser = findChromium();
const studyCli = new URL("harness/cli/study.ts", root);
const hasStudy = (() => {
  try {
    return Deno.statSync(studyCli).isFile;
  } catch {
    return false;
  }
})();

/** A page like a study report: inline style, inline SVG plots, one drawn by a script. */
const SYNTHETIC = `<!doctype html>
<html><head><meta charset="utf-8"><title>synthetic report</title>
<style>.plot { display: inline-block; margin: 8px; border: 1px solid #ccc; }</style></head>
<body><h1>Synthetic report</h1>
<div class="plot" data-plot="downtime-vs-bandwidth"><svg width="320" height="200">
  <line x1="20" y1="180" x2="300" y2="180" stroke="black"/>
  <path d="M20 160 L150 90 L300 40" fill="none" stroke="steelblue"/>
  <path d="M20 170 L150 120 L300 80 L300 20 L150 60 L20 150 Z" fill="steelblue" opacity="0.2"/>
  <text x="150" y="196">bandwidth</text></svg></div>
<div class="plot" data-plot="pareto"><svg width="320" height="200">
  <circle cx="60" cy="50" r="5"/><circle cx="160" cy="120" r="5"/><circle cx="260" cy="150" r="5"/>
  <rect x="20" y="20" width="280" height="160" fill="none" stroke="#999"/></svg></div>
<div class="plot" data-plot="heatmap"></div>
<script>
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "320"); svg.setAttribute("height", "200");
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", 20 + i * 70); r.setAttribute("y", 20 + j * 40);
    r.setAttribute("width", 68); r.setAttribute("height", 38);
    r.setAttribute("fill", "hsl(" + (i * 4 + j) * 20 + ",60%,60%)");
    svg.appendChild(r);
  }
  document.querySelector('[data-plot="heatmap"]').appendChild(svg);
</script></body></html>
`;

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
  const spec = fileURLToPath(new URL("fixtures/studies/slurm-small.json", root));
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
    `report.html renders every plot in headless Chromium (${
      hasStudy ? "a study's report" : "synthetic page until harness/cli/study.ts exists"
    }); screenshot in ci-artifacts/`,
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "precopy-browser-" });
      try {
        let path: string;
        if (hasStudy) path = await studyReport(dir);
        else {
          path = `${dir}/report.html`;
          await Deno.writeTextFile(path, SYNTHETIC);
        }
        const seen = await checkPage(path, { screenshot: artifact });
        assert.deepEqual(pageProblems(seen), []);
        assert.ok(seen.plots.length > 0);
        if (!hasStudy) {
          assert.deepEqual(seen.plots.map((p) => [p.name, p.svgs, p.marks]), [
            ["downtime-vs-bandwidth", 1, 4],
            ["pareto", 1, 4],
            ["heatmap", 1, 16],
          ]);
        }
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
