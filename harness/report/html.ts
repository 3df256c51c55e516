/**
 * `report.html` of a study: one self-contained file — styles and data inline, no script
 * that runs, no network — with SVG plots rendered when the report is built: Vega-Lite
 * specs compiled by `vega-lite` and drawn by `vega`'s headless view (`toSVG`, no canvas
 * and no browser needed).
 *
 * Every plot sits in an element with class `plot` and a `data-plot` attribute naming it;
 * a plot whose axes the study does not have is replaced by a line saying so.
 *
 * @module
 */

import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { type Cell, PROFILING_HEADER, profilingCells, type Summary } from "../study/summary.ts";
import {
  combineRoles,
  formatDelta,
  formatMetric,
  ROLE_ORDER,
  roleLabel,
} from "../study/summary.ts";

const esc = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll(
    '"',
    "&quot;",
  );

const NAMES: Record<string, string> = {
  downtimeNs: "downtime (ms)",
  pagesSent: "pages sent",
  totalTimeNs: "total time (ms)",
};
/** Durations are plotted in ms. */
const scale = (m: string, v: number) => (m.endsWith("Ns") ? v / 1e6 : v);
const title = (m: string) => NAMES[m] ?? (m.endsWith("Ns") ? `${m.slice(0, -2)} (ms)` : m);

/**
 * Renders a Vega-Lite spec to an SVG string, headless.
 *
 * @param spec the Vega-Lite spec
 * @returns the SVG element's text
 *
 * @example Usage
 * ```ts
 * import { renderSvg } from "./html.ts";
 * import assert from "node:assert/strict";
 * const svg = await renderSvg({
 *   data: { values: [{ x: 1, y: 2 }, { x: 2, y: 3 }] },
 *   mark: "line",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
 * });
 * assert.match(svg, /^<svg/);
 * ```
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const config = { font: "sans-serif", legend: { labelLimit: 320 }, axis: { labelLimit: 320 } };
  const vg = compile({ config, ...spec } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vg), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

interface Plot {
  name: string;
  caption: string;
  spec?: TopLevelSpec;
  missing?: string;
}

function contenders(s: Summary): string[] {
  return [...new Set(s.cells.map((c) => c.policy))];
}

/** A numeric setting in a readable unit: MiB for memory, MiB/s for rates, ms for durations. */
function axisValue(config: Record<string, unknown>): { value: number; unit: string } {
  const [key, v] = Object.entries(config)[0] as [string, number];
  if (key === "pages") return { value: v * 4096 / 2 ** 20, unit: "MiB" };
  if (key === "bandwidth") return { value: v / 2 ** 20, unit: "MiB/s" };
  if (key.endsWith("Ns")) return { value: v / 1e6, unit: "ms" };
  return { value: v, unit: key };
}

function metricVsAxis(s: Summary): Plot[] {
  const spec = s.study.spec as {
    axes: { key: string; values: string[]; configs: Record<string, unknown>[] }[];
    curves: { workload: number; setting: number };
  };
  const numericAxes = spec.axes.filter((a) =>
    a.key !== "regime" &&
    a.values.every((_, i) => Object.values(a.configs[i]).every((v) => typeof v === "number"))
  );
  if (numericAxes.length === 0) {
    return [{
      name: "metric-vs-axis",
      caption: "metric against a numeric axis",
      missing:
        "This study has no numeric axis (give a setting such as bandwidth or memory a list of values).",
    }];
  }
  const plots: Plot[] = [];
  const wl = s.curves.workload;
  const chosen = s.cells.find((c) => c.workload === wl && c.settingLabel === s.curves.setting);
  for (const axis of numericAxes) {
    for (const m of s.metrics.filter((x) => x === "downtimeNs" || x === "pagesSent")) {
      const rows = s.cells
        .filter((c) =>
          c.workload === wl &&
          Object.entries(c.setting).every(([k, v]) => k === axis.key || chosen?.setting[k] === v)
        )
        .map((c) => {
          const i = axis.values.indexOf(c.setting[axis.key]);
          const x = axisValue(axis.configs[i]).value;
          const st = c.metrics[m];
          return {
            x,
            policy: c.policy,
            mean: scale(m, st.mean),
            lo: scale(m, st.ci ? st.ci[0] : st.mean),
            hi: scale(m, st.ci ? st.ci[1] : st.mean),
          };
        });
      plots.push({
        name: `metric-vs-${axis.key}-${m}`,
        caption: `${
          title(m)
        } against ${axis.key} on ${wl} (other axes as in ${s.curves.setting}); bands are 95 % CIs`,
        spec: {
          width: 420,
          height: 260,
          data: { values: rows },
          encoding: {
            x: {
              field: "x",
              type: "quantitative",
              title: `${axis.key} (${axisValue(axis.configs[0]).unit})`,
              scale: { zero: false },
            },
            color: { field: "policy", type: "nominal" },
          },
          layer: [
            {
              mark: { type: "area", opacity: 0.2 },
              encoding: {
                y: { field: "lo", type: "quantitative", title: title(m) },
                y2: { field: "hi" },
              },
            },
            {
              mark: { type: "line", point: true },
              encoding: { y: { field: "mean", type: "quantitative" } },
            },
          ],
        } as TopLevelSpec,
      });
    }
  }
  return plots;
}

function heatmaps(s: Summary): Plot[] {
  const workloads = new Set(s.cells.map((c) => c.workload)).size;
  const settings = new Set(s.cells.map((c) => c.settingLabel)).size;
  if (workloads < 2 && settings < 2) {
    return [{
      name: "heatmap",
      caption: "Δ over two axes",
      missing: "This study has one workload and one setting: no two axes to map.",
    }];
  }
  const m = s.metrics.includes("downtimeNs") ? "downtimeNs" : s.metrics[0];
  const plots: Plot[] = [];
  for (const p of contenders(s)) {
    if (p === s.baseline) continue;
    const rows = s.cells.filter((c) => c.policy === p && c.vsBaseline).map((c) => {
      const v = c.vsBaseline![m];
      return {
        workload: c.workload,
        setting: c.settingLabel,
        delta: v.pct ? Number(v.pct.mean.toFixed(2)) : 0,
        sig: v.significant ? (v.significant === "better" ? "↓" : "↑") : "",
      };
    });
    plots.push({
      name: `heatmap-${p}`,
      caption: `Δ ${title(m)} of ${p} against ${s.baseline}, % (arrows: significant)`,
      spec: {
        data: { values: rows },
        width: { step: 44 },
        height: { step: 22 },
        encoding: {
          x: {
            field: "setting",
            type: "nominal",
            title: "setting",
            sort: null,
            axis: { labelAngle: -35 },
          },
          y: { field: "workload", type: "nominal", sort: null },
        },
        layer: [
          {
            mark: "rect",
            encoding: {
              color: {
                field: "delta",
                type: "quantitative",
                title: "Δ %",
                scale: { scheme: "redblue", reverse: true, domainMid: 0 },
              },
            },
          },
          {
            mark: { type: "text", fontSize: 11 },
            encoding: { text: { field: "sig" } },
          },
        ],
      } as TopLevelSpec,
    });
  }
  return plots;
}

function distribution(s: Summary, chosen: Cell[]): Plot[] {
  if (chosen.length === 0 || chosen[0].n < 2) {
    return [{
      name: "distribution",
      caption: "distribution over replicates",
      missing: "One replicate: no distribution to show.",
    }];
  }
  const plots: Plot[] = [];
  for (const m of s.metrics.filter((x) => x === "downtimeNs" || x === "pagesSent")) {
    const rows = chosen.flatMap((c) =>
      c.values[m].flatMap((
        v,
        r,
      ) => (v === null ? [] : [{ policy: c.policy, value: scale(m, v), replicate: r + 1 }]))
    );
    plots.push({
      name: `distribution-${m}`,
      caption: `${
        title(m)
      } over replicates, per policy, on ${s.curves.workload} ${s.curves.setting}`,
      spec: {
        width: 420,
        data: { values: rows },
        encoding: { y: { field: "policy", type: "nominal", sort: null } },
        layer: [
          {
            mark: { type: "boxplot", extent: "min-max", opacity: 0.4 },
            encoding: {
              x: { field: "value", type: "quantitative", title: title(m), scale: { zero: false } },
            },
          },
          {
            mark: { type: "tick", color: "black" },
            encoding: { x: { field: "value", type: "quantitative" } },
          },
        ],
      } as TopLevelSpec,
    });
  }
  return plots;
}

function pareto(s: Summary): Plot[] {
  if (!s.metrics.includes("downtimeNs") || !s.metrics.includes("pagesSent")) {
    return [{
      name: "pareto",
      caption: "Pareto",
      missing: "The study measures neither downtime nor pages together.",
    }];
  }
  const rows = s.groups.flatMap((g) => [
    { group: g.name, policy: `${s.baseline}`, pages: 1, downtime: 1, kind: "baseline" },
    ...s.aggregates.filter((a) =>
      a.group === g.name && a.metrics.downtimeNs.ratio && a.metrics.pagesSent.ratio
    )
      .map((a) => ({
        group: g.name,
        policy: a.policy,
        pages: Number(a.metrics.pagesSent.ratio!.ratio.toFixed(5)),
        downtime: Number(a.metrics.downtimeNs.ratio!.ratio.toFixed(5)),
        kind: a.role === "bound"
          ? "bound"
          : a.role === "future-informed heuristic"
          ? "future-informed"
          : a.pareto
          ? "Pareto"
          : "dominated",
      })),
  ]);
  return [{
    name: "pareto",
    caption:
      `downtime against pages sent, geometric mean ratio to ${s.baseline} per regime (lower left is better; only contenders are on the Pareto front — future-informed heuristics and bounds are shown for reference)`,
    spec: {
      data: { values: rows },
      facet: { field: "group", type: "nominal", title: null },
      columns: 3,
      spec: {
        width: 240,
        height: 200,
        layer: [
          {
            mark: { type: "point", filled: true, size: 70 },
            encoding: {
              x: {
                field: "pages",
                type: "quantitative",
                title: "pages / baseline",
                scale: { zero: false },
              },
              y: {
                field: "downtime",
                type: "quantitative",
                title: "downtime / baseline",
                scale: { zero: false },
              },
              color: { field: "policy", type: "nominal" },
              shape: { field: "kind", type: "nominal" },
            },
          },
        ],
      },
    } as TopLevelSpec,
  }];
}

function curves(s: Summary): Plot[] {
  const rows = s.curves.policies.flatMap((p) => p.rounds.map((r) => ({ policy: p.policy, ...r })));
  if (rows.length === 0) {
    return [{
      name: "curves",
      caption: "per-round curves",
      missing: "No run of the chosen cell finished.",
    }];
  }
  return [{
    name: "dirty-at-sync",
    caption:
      `frames found dirty at each round's sync, ${s.curves.workload} ${s.curves.setting}, seed ${s.curves.seed}`,
    spec: {
      width: 420,
      height: 260,
      data: { values: rows },
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "round", type: "quantitative", axis: { tickMinStep: 1 } },
        y: { field: "dirtyAtSync", type: "quantitative", title: "dirty at sync (frames)" },
        color: { field: "policy", type: "nominal" },
      },
    } as TopLevelSpec,
  }];
}

function profilingPlot(s: Summary): Plot[] {
  if (s.profiling.length === 0) {
    return [{
      name: "profiling",
      caption: "profiling by tracker",
      missing: "This study has no profiling part (spec key profiling).",
    }];
  }
  return [{
    name: "profiling",
    caption: "guest slowdown while profiling, by tracker (%; error bars are 95 % CIs)",
    spec: {
      width: 420,
      data: {
        values: s.profiling.map((r) => ({
          workload: r.workload,
          tracker: r.tracker,
          slowdown: r.slowdownPct.mean,
          lo: r.slowdownPct.ci ? r.slowdownPct.ci[0] : r.slowdownPct.mean,
          hi: r.slowdownPct.ci ? r.slowdownPct.ci[1] : r.slowdownPct.mean,
        })),
      },
      encoding: {
        y: { field: "workload", type: "nominal", sort: null },
        yOffset: { field: "tracker", type: "nominal" },
        color: { field: "tracker", type: "nominal" },
      },
      layer: [
        {
          mark: "bar",
          encoding: { x: { field: "slowdown", type: "quantitative", title: "slowdown %" } },
        },
        {
          mark: "rule",
          encoding: { x: { field: "lo", type: "quantitative" }, x2: { field: "hi" } },
        },
      ],
    } as TopLevelSpec,
  }];
}

function table(header: string[], rows: string[][]): string {
  return `<table><thead><tr>${
    header.map((h) => `<th>${esc(h)}</th>`).join("")
  }</tr></thead><tbody>${
    rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("\n")
  }</tbody></table>`;
}

function aggregatesHtml(s: Summary): string {
  const out: string[] = [];
  for (const g of s.groups) {
    const cols = (g.qemu
      ? ["rounds", "pagesSent", "totalTimeNs", "downtimeNs"]
      : ["downtimeNs", "pagesSent", "totalTimeNs", "rounds"])
      .filter((m) =>
        s.metrics.includes(m)
      );
    const base = combineRoles(
      s.cells.filter((c) => c.policy === s.baseline && (c.setting.regime ?? "all") === g.name)
        .map((c) => c.role),
    );
    const rows = [
      [`${roleLabel(s.baseline, base)} (baseline)`, ...cols.map(() => "0"), ""],
      ...s.aggregates.filter((a) => a.group === g.name)
        .sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role])
        .map((a) => [
          roleLabel(a.policy, a.role),
          ...cols.map((m) => {
            const x = a.metrics[m];
            if (!x?.ratio) return "n/a";
            const r = x.ratio;
            const f = (v: number) => `${v >= 1 ? "+" : ""}${((v - 1) * 100).toFixed(1)}%`;
            return `${x.diff === null ? "" : `${formatDelta(m, x.diff)} `}(${f(r.ratio)}${
              r.ci ? ` [${f(r.ci[0])}, ${f(r.ci[1])}]` : ""
            }) ${x.better}↓ ${x.worse}↑`;
          }),
          a.pareto ? "◆" : "",
        ]),
    ];
    out.push(
      `<h3>${esc(g.name === "all" ? "All settings" : `Regime ${g.name}`)}</h3><p>${
        esc(g.description)
      } — ${g.cells} cells</p>`,
      table(["policy", ...cols.map((m) => `Δ ${title(m)}`), "Pareto"], rows),
    );
  }
  return out.join("\n");
}

function claimsHtml(s: Summary): string {
  return `<ol>${
    s.claims.map((c) =>
      `<li><b>${esc(c.text)}</b> <small>(${esc(c.test)})</small><br>${
        c.measured
          ? `holds in ${c.holds.length}, fails in ${c.fails.length}, no significant difference in ${c.inconclusive.length}` +
            `<details><summary>cells</summary><p>holds: ${
              esc(c.holds.join("; ") || "none")
            }</p><p>fails: ${esc(c.fails.join("; ") || "none")}</p></details>`
          : `not measured: ${esc(c.reason ?? "")}`
      }</li>`
    ).join("\n")
  }</ol>`;
}

function profilingHtml(s: Summary): string {
  if (s.profiling.length === 0) return "";
  return table([...PROFILING_HEADER], s.profiling.map(profilingCells));
}

function boundsHtml(s: Summary): string {
  const b = s.bounds;
  const out: string[] = [];
  if (b.violations.length) {
    out.push(
      `<p class="error" data-violations="${b.violations.length}">ERROR: ${b.violations.length} run(s) beat a bound — a bug in the engine, a policy or a proof:</p><ul class="error">${
        b.violations.map((v) => `<li>${esc(v.message)}</li>`).join("\n")
      }</ul>`,
    );
  }
  const above = b.floors.filter((f) => (f.stopCopyPages?.mean ?? 0) > 0).length;
  out.push(
    `<p>The stop-copy floor of each cell bounds every policy's stop-and-copy pages and downtime from below (its row in the cells below); it is above 0 in ${above} of ${b.floors.length} cells. ${b.floorRuns} runs were checked against it${
      b.boundPairs
        ? `, and ${b.boundPairs} pairs of a declared bound's run and a contender's run`
        : ""
    }: ${b.violations.length ? `${b.violations.length} violations` : "none beats a bound"}.</p>`,
  );
  return out.join("\n");
}

function cellsHtml(s: Summary): string {
  const ms = s.metrics;
  const rows: string[][] = [];
  const keys = [...new Set(s.cells.map((c) => `${c.workload}\t${c.settingLabel}`))];
  for (const k of keys) {
    const cells = s.cells.filter((c) => `${c.workload}\t${c.settingLabel}` === k)
      .sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]);
    for (const c of cells) {
      rows.push([
        c.workload,
        c.settingLabel,
        roleLabel(c.policy, c.role),
        String(c.n),
        ...ms.flatMap((m) => {
          const v = c.vsBaseline?.[m];
          return [
            formatMetric(m, c.metrics[m].mean),
            v
              ? `${v.n ? formatDelta(m, v.diff.mean) : "n/a"}${
                v.pct ? ` (${v.pct.mean >= 0 ? "+" : ""}${v.pct.mean.toFixed(1)}%)` : ""
              }${v.significant ? (v.significant === "better" ? " ↓" : " ↑") : ""}`
              : "base",
          ];
        }),
      ]);
    }
    const f = s.bounds.floors.find((x) => `${x.workload}\t${x.settingLabel}` === k);
    if (f?.stopCopyPages && f.downtimeNs) {
      const at: Record<string, number> = {
        downtimeNs: f.downtimeNs.mean,
        stopCopyPages: f.stopCopyPages.mean,
      };
      rows.push([
        f.workload,
        f.settingLabel,
        `stop-copy floor [bound]: ≥ ${
          formatMetric("stopCopyPages", f.stopCopyPages.mean)
        } stop-copy pages`,
        String(f.stopCopyPages.n),
        ...ms.flatMap((m) => [at[m] === undefined ? "" : `≥ ${formatMetric(m, at[m])}`, ""]),
      ]);
    }
  }
  return table(
    ["workload", "setting", "policy", "n", ...ms.flatMap((m) => [title(m), `Δ ${title(m)}`])],
    rows,
  );
}

const STYLE = `body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
td:first-child,th:first-child{text-align:left}figure.plot{display:inline-block;margin:1em;vertical-align:top}
figcaption{font-size:13px;max-width:520px}.no-plot{color:#a40;font-style:italic}details{font-size:13px}
.error{color:#b00;font-weight:bold}`;

/**
 * Builds `report.html` from a summary.
 *
 * @param s the summary
 * @returns the HTML text
 *
 * @example Usage
 * ```ts ignore
 * writeFileAtomic(`${dir}/report.html`, await renderReport(summary));
 * ```
 */
export async function renderReport(s: Summary): Promise<string> {
  const chosen = s.cells.filter((c) =>
    c.workload === s.curves.workload && c.settingLabel === s.curves.setting
  );
  const plots = [
    ...pareto(s),
    ...heatmaps(s),
    ...metricVsAxis(s),
    ...distribution(s, chosen),
    ...curves(s),
    ...profilingPlot(s),
  ];
  const figures: string[] = [];
  for (const p of plots) {
    if (p.missing) {
      figures.push(
        `<p class="no-plot" data-plot-missing="${esc(p.name)}">${esc(p.caption)}: ${
          esc(p.missing)
        }</p>`,
      );
      continue;
    }
    const svg = await renderSvg(p.spec!);
    figures.push(
      `<figure class="plot" data-plot="${esc(p.name)}">${svg}<figcaption>${
        esc(p.caption)
      }</figcaption></figure>`,
    );
  }
  const spec = s.study.spec as { seeds: number[]; alpha: number; tieTolerance: number };
  // Vega numbers gradients and clips from a counter that lives as long as the process:
  // renumber them by first appearance, so a report does not depend on what ran before.
  const ids = new Map<string, string>();
  const body = figures.join("\n").replace(
    /\b(gradient|clip|pattern)_?(\d+)\b/g,
    (m, kind: string) => {
      let id = ids.get(m);
      if (!id) ids.set(m, id = `${kind}_${ids.size}`);
      return id;
    },
  );
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(`study ${s.study.name}`)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>${STYLE}</style></head>
<body>
<h1>Study ${esc(s.study.name)}</h1>
<p>${esc(s.study.description)}</p>
<p>Study ${esc(s.study.hash)}: ${s.runs.done} of ${s.runs.total} runs${
    s.runs.failed ? `, ${s.runs.failed} failed` : ""
  }; ${spec.seeds.length} replicates; baseline ${esc(s.baseline)}.
Δ is the mean over cells of the paired difference, with the geometric mean over cells of policy/baseline and its 95 % interval; k↓ k↑ count cells significantly better or worse (Wilcoxon signed-rank, p &lt; ${spec.alpha}; ties within ${
    spec.tieTolerance * 100
  } %). ◆ marks the Pareto front on downtime and pages.</p>
<h2>Against the baseline</h2>
${aggregatesHtml(s)}
<h2>Bounds</h2>
${boundsHtml(s)}
<h2>Claims</h2>
${claimsHtml(s)}
<h2>Plots</h2>
${body}
<h2>Profiling by tracker</h2>
${profilingHtml(s) || "<p>This study has no profiling part.</p>"}
<h2>Cells</h2>
<details><summary>every cell</summary>${cellsHtml(s)}</details>
<script type="application/json" id="summary">${
    JSON.stringify({ study: s.study.name, hash: s.study.hash }).replaceAll("<", "\\u003c")
  }</script>
</body></html>
`;
}
