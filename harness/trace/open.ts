/**
 * Opening a trace file by its ending: the registry of trace kinds, and the `:offset=`
 * placement. Adding a trace format means adding a reader file and one entry here.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { parseSize } from "../units.ts";
import { BinaryTrace } from "./binary.ts";
import type { TraceWorkload } from "./format.ts";
import { TextTrace, writeTextTrace } from "./text.ts";
import type { Workload } from "../workloads/workload.ts";
import { writeBinaryTrace } from "./writer.ts";

/** One kind of trace file, known by its ending. */
export interface TraceKind {
  /** One line for help texts. */
  readonly description: string;
  /**
   * Opens a file of this kind.
   * @param path the file
   * @param offset the frame at which the trace's frame 0 sits in the guest
   * @param name the workload's name (the spec)
   */
  open(path: string, offset: number, name: string): TraceWorkload;
  /**
   * Writes a workload's accesses in this form (export, and the conformance suite's
   * fixtures).
   * @param src the workload
   * @param frames guest frames to open it with
   * @param output the path
   * @returns the number of events written
   */
  write(src: Workload, frames: number, output: string): number;
}

/**
 * The trace kinds, by file ending. A new format is a reader file and one entry here; the
 * workload conformance suite then covers it with no test written.
 *
 * @example Usage
 * ```ts
 * import { TRACE_KINDS } from "./open.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(Object.keys(TRACE_KINDS), ["pctrace", "csv", "jsonl"]);
 * ```
 */
export const TRACE_KINDS: Readonly<Record<string, TraceKind>> = Object.freeze({
  pctrace: {
    description: "binary, block-compressed (fixtures/TRACE_FORMAT.md)",
    open: (path, offset, name) => new BinaryTrace(path, offset, name),
    write: (src, frames, output) => writeBinaryTrace(src, frames, output),
  },
  csv: {
    description: "one access per line: t_ns,frame,op[,vcpu]",
    open: (path, offset, name) => new TextTrace(path, offset, name),
    write: (src, frames, output) => writeTextTrace(src, frames, output, false),
  },
  jsonl: {
    description: 'one object per line: {"t_ns":0,"frame":12,"op":"w"}',
    open: (path, offset, name) => new TextTrace(path, offset, name),
    write: (src, frames, output) => writeTextTrace(src, frames, output, true),
  },
});

/** The kind a path's ending names, or undefined. */
function kindOf(path: string): TraceKind | undefined {
  const dot = path.lastIndexOf(".");
  const ext = dot < 0 ? "" : path.slice(dot + 1);
  return Object.hasOwn(TRACE_KINDS, ext) ? TRACE_KINDS[ext] : undefined;
}

function kindList(): string {
  const exts = Object.keys(TRACE_KINDS).map((k) => `.${k}`);
  return exts.length > 1 ? `${exts.slice(0, -1).join(", ")} or ${exts[exts.length - 1]}` : exts[0];
}

/**
 * Whether a workload spec names a trace file: it has a `/` or ends (before an optional
 * `:offset=…`) in `.pctrace`, `.csv` or `.jsonl`.
 *
 * @param spec the `--workload` value
 * @returns true for a trace path
 *
 * @example Usage
 * ```ts
 * import { isTraceSpec } from "./trace.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isTraceSpec("fixtures/sort.pctrace:offset=1GiB"));
 * assert.ok(!isTraceSpec("uniform:rate=5k"));
 * ```
 */
export function isTraceSpec(spec: string): boolean {
  const path = spec.replace(/:offset=[^:]*$/, "");
  return path.includes("/") || kindOf(path) !== undefined;
}

/**
 * Opens a trace file as a workload: `.pctrace` (binary v1), `.csv` or `.jsonl`. A suffix
 * `:offset=N` (frames) or `:offset=SIZE` (`1GiB`, page-aligned) places the trace's frames
 * at that offset in the guest; the rest of memory is idle.
 *
 * @param spec the path, with an optional `:offset=…`
 * @param pageSize bytes per frame, for a size offset (default 4096)
 * @returns the workload
 * @throws {PrecopyError} naming the file and the byte offset or line that is wrong
 *
 * @example Usage
 * ```ts
 * import { openTrace } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const path = Deno.makeTempFileSync({ suffix: ".csv" });
 * Deno.writeTextFileSync(path, "t_ns,frame,op\n0,1,w\n5,2,w\n");
 * const w = openTrace(`${path}:offset=100`);
 * assert.equal(w.minPages, 103);
 * assert.deepEqual([...w.open(200, 1).next()!.pfn.subarray(0, 2)], [101, 102]);
 * Deno.removeSync(path);
 * ```
 */
export function openTrace(spec: string, pageSize = 4096): TraceWorkload {
  const m = /^(.*):offset=([^:]*)$/.exec(spec);
  const path = m ? m[1] : spec;
  let offset = 0;
  if (m) {
    const text = m[2].trim();
    if (/^\d+$/.test(text)) offset = Number(text);
    else {
      const bytes = parseSize(text, `workload '${spec}' offset`);
      if (bytes % pageSize !== 0) {
        throw new PrecopyError(
          "workload",
          `workload '${spec}': offset ${text} is not a multiple of the ${pageSize}-byte page`,
        );
      }
      offset = bytes / pageSize;
    }
  }
  const kind = kindOf(path);
  if (kind) return kind.open(path, offset, spec);
  throw new PrecopyError("workload", `workload '${spec}': a trace must end in ${kindList()}`);
}
