/**
 * `deno task trace`: convert and inspect trace files.
 *
 * @module
 */

import { type CliIo, parseFlags, reportError, runMain, stdio } from "./kit.ts";
import { PrecopyError } from "../errors.ts";
import { checkInputFile, sameFile, withAtomicFile } from "../io.ts";
import {
  exportTrace,
  importTrace,
  openTrace,
  readTraceHeader,
  splitTraceSpec,
  TRACE_COMPRESSED,
  TRACE_READS,
  TRACE_VCPU,
} from "../trace/trace.ts";
import { formatBytes, formatDuration } from "../units.ts";
import { OP_WRITE } from "../workloads/workload.ts";

/** The `--help` text of `deno task trace`. */
export const TRACE_HELP: string = `precopy-lab trace — convert and inspect trace files

usage:
  deno task trace import IN.csv|IN.jsonl OUT.pctrace [--no-compress]
  deno task trace export IN.pctrace|IN.csv|IN.jsonl OUT.csv|OUT.jsonl
  deno task trace info TRACE

The binary format (version 2; version 1 files still read) is specified in
fixtures/TRACE_FORMAT.md. The simulator reads all three forms, with options
after the path (docs/workloads.md):
deno task sim --workload path/to/trace.pctrace[:offset=1GiB][:spread[=10ms]][:loop]
export and info take the options too (export writes spread times; a looped
trace never ends, so neither takes :loop).
`;

/**
 * Runs `trace` with the given arguments.
 *
 * @param args command-line arguments
 * @param io output sinks
 * @returns the exit status (0 ok, 2 bad input, 1 internal error)
 *
 * @example Usage
 * ```ts
 * import { runTrace } from "./trace.ts";
 * import assert from "node:assert/strict";
 * let out = "";
 * const io = { out: (t: string) => { out += t; }, err: () => {}, interactive: false };
 * assert.equal(await runTrace(["--help"], io), 0);
 * assert.match(out, /deno task trace import/);
 * ```
 */
export function runTrace(args: string[], io: CliIo = stdio): Promise<number> {
  try {
    const { values: v, positionals: [cmd, ...rest] } = parseFlags({
      args,
      allowPositionals: true,
      options: { "no-compress": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
    if (v.help || cmd === undefined) {
      io.out(TRACE_HELP);
      return Promise.resolve(cmd === undefined && !v.help ? 2 : 0);
    }
    const need = (n: number) => {
      if (rest.length !== n) {
        throw new PrecopyError("config", `trace ${cmd}: expected ${n} path(s) (see --help)`);
      }
      // export and info take trace options after the path (import reads the file as is).
      const { path, options } = cmd === "import"
        ? { path: rest[0], options: {} }
        : splitTraceSpec(rest[0]);
      if (Object.hasOwn(options, "loop")) {
        throw new PrecopyError(
          "config",
          `trace ${cmd}: '${rest[0]}' never ends (a looped trace); ${cmd} it without :loop`,
        );
      }
      checkInputFile(path);
      // The output replaces its file only once complete, and never the input it reads.
      if (n === 2 && sameFile(path, rest[1])) {
        throw new PrecopyError(
          "config",
          `trace ${cmd}: '${rest[1]}' is the input file itself; write to another file`,
        );
      }
    };
    if (cmd === "import") {
      need(2);
      if (!rest[1].endsWith(".pctrace")) {
        throw new PrecopyError("config", `trace import: '${rest[1]}' must end in .pctrace`);
      }
      const n = withAtomicFile(
        rest[1],
        (tmp) => importTrace(rest[0], tmp, { compress: !v["no-compress"] }),
      );
      io.out(
        `${n.toLocaleString("en-US")} accesses written to ${rest[1]} (${
          formatBytes(Deno.statSync(rest[1]).size)
        })\n`,
      );
    } else if (cmd === "export") {
      need(2);
      const n = withAtomicFile(rest[1], (tmp) => exportTrace(rest[0], tmp));
      io.out(`${n.toLocaleString("en-US")} accesses written to ${rest[1]}\n`);
    } else if (cmd === "info") {
      need(1);
      const w = openTrace(rest[0]);
      if (!Number.isFinite(w.endNs)) {
        throw new PrecopyError(
          "config",
          `trace info: '${rest[0]}' never ends (a looped trace); describe it without :loop`,
        );
      }
      const frames = w.minPages;
      const written = new Uint8Array(frames);
      let events = 0, writes = 0, touched = 0;
      const s = w.open(frames, 0);
      for (let c = s.next(); c; c = s.next()) {
        for (let i = 0; i < c.length; i++) {
          events++;
          if (c.op[i] === OP_WRITE) {
            writes++;
            if (!written[c.pfn[i]]) touched++, written[c.pfn[i]] = 1;
          }
        }
      }
      const zero = w.zeroMap(frames, 0)?.reduce((a, b) => a + b, 0) ?? 0;
      const lines = [`trace      ${rest[0]}`];
      const file = splitTraceSpec(rest[0]).path;
      if (file.endsWith(".pctrace")) {
        const h = readTraceHeader(file);
        const flags = [
          h.flags & TRACE_READS ? "reads" : "",
          h.flags & TRACE_VCPU ? "vcpu ids" : "",
          h.flags & TRACE_COMPRESSED ? "compressed" : "",
        ].filter(Boolean);
        lines.push(
          `format     v${h.version}, page ${h.pageSize} B, time unit ${h.timeUnitNs} ns${
            flags.length ? `, ${flags.join(", ")}` : ""
          }`,
        );
      }
      lines.push(
        `frames     ${frames.toLocaleString("en-US")} (${
          zero.toLocaleString("en-US")
        } zero at the start)`,
        `accesses   ${events.toLocaleString("en-US")} (${
          writes.toLocaleString("en-US")
        } writes) over ${formatDuration(w.endNs)}`,
        `written    ${touched.toLocaleString("en-US")} distinct frames`,
      );
      io.out(lines.join("\n") + "\n");
    } else {
      throw new PrecopyError(
        "config",
        `trace: unknown command '${cmd}'; use import, export or info`,
      );
    }
    return Promise.resolve(0);
  } catch (e) {
    return Promise.resolve(reportError(e, io));
  }
}

if (import.meta.main) await runMain(runTrace);
