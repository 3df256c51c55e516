/**
 * `deno task record -- PROGRAM ARGS…`: record the memory writes of a real program.
 *
 * @module
 */

import { type CliIo, parseFlags, reportError, runMain, stdio } from "./kit.ts";
import { PrecopyError } from "../errors.ts";
import { record } from "../record/record.ts";
import { formatDuration, parseCount, parseDuration } from "../units.ts";

/** The `--help` text of `deno task record`. */
export const RECORD_HELP: string = `precopy-lab record — record the memory writes of a real program

usage: deno task record [options] -- PROGRAM ARGS…

  --method wp|lackey   wp: sampled at native speed with userfaultfd write-protection and
                       PAGEMAP_SCAN (Linux 6.7+, anonymous memory); lackey: every load and
                       store under valgrind, exact but thousands of times slower   [wp]
  --out FILE.pctrace   where the trace goes; FILE.pctrace.provenance.json beside it
                                                                        [record.pctrace]
  --interval T         wp: sampling interval                                       [10ms]
  --ips N              lackey: instructions per second, to turn counts into time    [1G]
  --resolution T       lackey: accesses are grouped into buckets this long           [1us]
  --quiet              hide the program's output

The trace format is specified in fixtures/TRACE_FORMAT.md.
`;

/**
 * Runs `record` with the given arguments.
 *
 * @param args command-line arguments: options, `--`, the program and its arguments
 * @param io output sinks
 * @returns the exit status (0 ok, 2 bad input or missing prerequisite, 1 internal error)
 */
export async function runRecord(args: string[], io: CliIo = stdio): Promise<number> {
  try {
    const dash = args.indexOf("--");
    const own = dash < 0 ? args : args.slice(0, dash);
    const command = dash < 0 ? [] : args.slice(dash + 1);
    const { values: v, positionals } = parseFlags({
      args: own,
      allowPositionals: true,
      options: {
        method: { type: "string" },
        out: { type: "string" },
        interval: { type: "string" },
        ips: { type: "string" },
        resolution: { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (v.help) {
      io.out(RECORD_HELP);
      return 0;
    }
    if (positionals.length) {
      throw new PrecopyError(
        "config",
        `record: put the program after '--': deno task record -- ${positionals.join(" ")}`,
      );
    }
    const method = v.method ?? "wp";
    if (method !== "wp" && method !== "lackey") {
      throw new PrecopyError("config", `--method: '${method}' is not wp or lackey`);
    }
    const p = await record({
      method,
      command,
      out: v.out ?? "record.pctrace",
      intervalNs: v.interval === undefined ? undefined : parseDuration(v.interval, "--interval"),
      ips: v.ips === undefined ? undefined : parseCount(v.ips, "--ips"),
      resolutionNs: v.resolution === undefined
        ? undefined
        : parseDuration(v.resolution, "--resolution"),
      passOutput: !v.quiet,
    });
    io.err(
      `recorded ${p.events.toLocaleString("en-US")} writes to ${
        p.pagesTouched.toLocaleString("en-US")
      } pages over ${formatDuration(p.durationNs)} (${p.method}); exit code ${p.exitCode}\n`,
    );
    return 0;
  } catch (e) {
    return reportError(e, io);
  }
}

if (import.meta.main) await runMain(runRecord);
