/**
 * Views of run reports: the human table of one run, a flat row per run for CSV and
 * comparison tables, and a small text-table helper. The JSON report is the source; these
 * only format it.
 *
 * @module
 */

import type { RunReport } from "../engine/run_report.ts";
import { formatBytes, formatDuration } from "../units.ts";

/**
 * Lays out rows as an aligned text table: text columns left, numbers right.
 *
 * @param header column titles
 * @param rows cells
 * @returns the table, one line per row, with a rule under the header
 *
 * @example Usage
 * ```ts
 * import { formatTable } from "./report.ts";
 * import assert from "node:assert/strict";
 * const t = formatTable(["policy", "pages"], [["sequential", "12"], ["random", "7"]]);
 * assert.equal(t.split("\n")[2], "sequential     12");
 * ```
 */
export function formatTable(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) =>
    rows.length > 0 &&
    rows.every((r) => /^[-+0-9.,% a-zµ]*$/i.test(r[i] ?? "") && /[0-9]/.test(r[i] ?? ""))
  );
  const line = (r: string[]) =>
    r.map((c, i) => (numeric[i] ? c.padStart(width[i]) : c.padEnd(width[i]))).join("  ")
      .trimEnd();
  return [line(header), width.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Columns of {@link reportRow}, in CSV order. */
export const REPORT_COLUMNS: readonly string[] = [
  "policy",
  "oracle",
  "role",
  "workload",
  "seed",
  "clear",
  "iteration",
  "maxRounds",
  "minPending",
  "downtimeLimitNs",
  "switchover",
  "rounds",
  "downtimeNs",
  "totalTimeNs",
  "pagesSent",
  "normalPagesSent",
  "zeroPagesSent",
  "bytesSent",
  "uniquePagesSent",
  "resends",
  "necessaryResends",
  "redundantResends",
  "stopCopyPages",
  "wastedSends",
  "guestWrites",
  "tracker",
  "exits",
  "guestOverheadNs",
  "hostCpuNs",
  "slowdownPct",
  "profilingExits",
  "profilingSlowdownPct",
];

/**
 * Flattens a report to one record (no per-round rows), keyed by {@link REPORT_COLUMNS}.
 *
 * @param r the report
 * @returns column → value
 *
 * @example Usage
 * ```ts
 * import { reportRow, simulate, loadPolicy, parseWorkload } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const r = simulate({ workload: parseWorkload("idle"), policy: await loadPolicy("sequential"), config: { pages: 8 } });
 * assert.equal(reportRow(r).pagesSent, 8);
 * ```
 */
export function reportRow(r: RunReport): Record<string, string | number | boolean> {
  return {
    policy: r.policy.name,
    oracle: r.policy.oracle,
    role: r.policy.role,
    workload: r.workload.name,
    seed: r.workload.seed,
    clear: r.config.clear,
    iteration: r.config.iteration,
    maxRounds: r.config.maxRounds,
    minPending: r.config.minPending,
    downtimeLimitNs: r.config.downtimeLimitNs,
    switchover: r.switchover,
    rounds: r.rounds,
    downtimeNs: r.downtimeNs,
    totalTimeNs: r.totalTimeNs,
    pagesSent: r.pagesSent,
    normalPagesSent: r.normalPagesSent,
    zeroPagesSent: r.zeroPagesSent,
    bytesSent: r.bytesSent,
    uniquePagesSent: r.uniquePagesSent,
    resends: r.resends,
    necessaryResends: r.necessaryResends,
    redundantResends: r.redundantResends,
    stopCopyPages: r.stopCopyPages,
    wastedSends: r.wastedSends,
    guestWrites: r.guestWrites,
    tracker: r.config.tracker,
    exits: r.tracker.exits,
    guestOverheadNs: r.tracker.guestOverheadNs,
    hostCpuNs: r.tracker.hostCpuNs,
    slowdownPct: r.tracker.slowdownPct,
    profilingExits: r.profiling.exits,
    profilingSlowdownPct: r.profiling.slowdownPct,
  };
}

function csvCell(v: string | number | boolean): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * Records as CSV: a header line of `columns`, then one line per record.
 *
 * @param columns column names, in order
 * @param records column → value
 * @returns CSV text ending in a newline
 *
 * @example Usage
 * ```ts
 * import { toCsv } from "./report.ts";
 * import assert from "node:assert/strict";
 * assert.equal(toCsv(["a", "b"], [{ a: 1, b: "x,y" }]), 'a,b\n1,"x,y"\n');
 * ```
 */
export function toCsv(
  columns: readonly string[],
  records: Record<string, string | number | boolean>[],
): string {
  const lines = [columns.join(",")];
  for (const r of records) lines.push(columns.map((c) => csvCell(r[c] ?? "")).join(","));
  return lines.join("\n") + "\n";
}

/**
 * Reports as CSV, one line per report, columns {@link REPORT_COLUMNS}.
 *
 * @param reports the reports
 * @returns CSV text ending in a newline
 *
 * @example Usage
 * ```ts
 * import { reportCsv } from "./report.ts";
 * import assert from "node:assert/strict";
 * assert.match(reportCsv([]), /^policy,oracle,role,workload/);
 * ```
 */
export function reportCsv(reports: RunReport[]): string {
  return toCsv(REPORT_COLUMNS, reports.map(reportRow));
}

const n = (v: number) => v.toLocaleString("en-US");

function trackerLine(label: string, t: RunReport["tracker"], over: string): string {
  const causes = Object.entries(t.exitsByCause).filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${n(v)}`).join(", ");
  return `${label} ${n(t.exits)} exits${causes ? ` (${causes})` : ""}, ${
    formatDuration(t.guestOverheadNs)
  } guest overhead (${t.slowdownPct.toFixed(2)}% slowdown over the ${over}), ${
    formatDuration(t.hostCpuNs)
  } host CPU, ${n(t.flushes)} flushes`;
}

/**
 * The human view of one run: a summary and the per-round table.
 *
 * @param r the report
 * @returns text for a terminal
 *
 * @example Usage
 * ```ts
 * import { formatReport, simulate, loadPolicy, parseWorkload } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const r = simulate({ workload: parseWorkload("idle"), policy: await loadPolicy("sequential"), config: { pages: 8 } });
 * assert.match(formatReport(r), /downtime/);
 * ```
 */
export function formatReport(r: RunReport): string {
  const c = r.config;
  const params = Object.entries(r.policy.params).map(([k, v]) => `${k}=${v}`).join(",");
  const head = [
    `policy     ${r.policy.name}${params ? ` (${params})` : ""}${
      r.policy.role === "contender" ? "" : `  [${r.policy.role}]`
    }`,
    `workload   ${r.workload.name}  seed ${r.workload.seed}`,
    `guest      ${formatBytes(c.pages * c.pageSize)} (${n(c.pages)} frames)  link ${
      formatBytes(c.bandwidth)
    }/s  limit ${
      formatDuration(c.downtimeLimitNs)
    }  clear=${c.clear}  iteration=${c.iteration}  tracker=${c.tracker}`,
    "",
    `downtime   ${formatDuration(r.downtimeNs)}   (switchover: ${r.switchover})`,
    `total time ${formatDuration(r.totalTimeNs)}   rounds ${r.rounds}   syncs ${r.syncs}`,
    `pages sent ${n(r.pagesSent)}  (normal ${n(r.normalPagesSent)}, zero ${
      n(r.zeroPagesSent)
    })  bytes ${formatBytes(r.bytesSent)}`,
    `resends    ${n(r.resends)}  (necessary ${n(r.necessaryResends)}, redundant ${
      n(r.redundantResends)
    })  wasted sends ${n(r.wastedSends)}`,
    `stop-copy  ${n(r.stopCopyPages)} pages${
      r.autoConverge.enabled
        ? `   auto-converge: throttle ${r.autoConverge.throttlePct}% after ${r.autoConverge.steps} step(s)`
        : ""
    }`,
    ...(r.missedUpdates || !r.verified
      ? [
        `MISSED     ${n(r.missedUpdates)} writes the tracker never saw; ${
          n(r.mismatchedFrames)
        } frames differ at the destination (verification failed; counted as asked)`,
      ]
      : []),
    `guest      ${n(r.guestWrites)} writes during migration`,
    trackerLine("tracking  ", r.tracker, "migration"),
    trackerLine("profiling ", r.profiling, `${formatDuration(r.config.startNs)} before it`),
    ...r.warnings.map((w) => `WARNING    ${w}`),
    "",
  ];
  const rows = r.perRound.map((x) => [
    String(x.round),
    formatDuration(x.startNs),
    formatDuration(x.durationNs),
    n(x.offered),
    n(x.sent),
    n(x.deferred),
    n(x.dirtyAtSync),
  ]);
  return head.join("\n") +
    formatTable(["round", "start", "duration", "offered", "sent", "deferred", "dirty@sync"], rows) +
    (r.warnings ?? []).map((w) => `\nwarning: ${w}`).join("");
}
