/**
 * Opening a trace file by its ending: the registry of trace kinds, and the registry of
 * the options a trace spec can carry after its path (`:offset=`, `:spread`, `:loop`).
 * Adding a trace format means adding a reader file and one entry here; the spec grammar
 * lives here only.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { parseDuration, parseSize } from "../units.ts";
import { BinaryTrace } from "./binary.ts";
import { quote, RECORD_INTERVAL_NS, type TraceWorkload } from "./format.ts";
import { LoopedTrace, SpreadTrace } from "./replay.ts";
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

/** One option a trace spec can carry after its path: `:name` or `:name=value`. */
export interface TraceOption {
  /** One line for help texts and the manual. */
  readonly description: string;
  /** Whether it takes a value. */
  readonly value: "required" | "optional" | "none";
  /** How the workload conformance suite spells it on its fixtures. */
  readonly example: string;
  /** Whether a trace with this option never ends. */
  readonly endless: boolean;
}

/**
 * The options a trace spec can carry after its path, as `PATH:name[=value]…`, in any
 * order, each at most once. Whatever order they are written in, the frames are placed
 * first (`offset`), then each pass's bursts are spread (`spread`), then the passes are
 * repeated (`loop`). The workload conformance suite applies every option here to a
 * fixture of every trace kind, so a new option is covered with no test written.
 *
 * @example Usage
 * ```ts
 * import { TRACE_OPTIONS } from "./open.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(Object.keys(TRACE_OPTIONS), ["offset", "spread", "loop"]);
 * assert.ok(TRACE_OPTIONS.loop.endless);
 * ```
 */
export const TRACE_OPTIONS: Readonly<Record<"offset" | "spread" | "loop", TraceOption>> = Object
  .freeze({
    offset: {
      description: "offset=N|SIZE: the trace's frame 0 sits at guest frame N (or SIZE / page)",
      value: "required",
      example: "offset=7",
      endless: false,
    },
    spread: {
      description: "spread[=T]: each burst of accesses sharing a time stamp is spread evenly " +
        "over the sampling interval T before it (default 10ms, the recorder's)",
      value: "optional",
      example: "spread",
      endless: false,
    },
    loop: {
      description: "loop: replay the trace back to back for ever, each pass starting one " +
        "sampling interval after the previous pass's last access",
      value: "none",
      example: "loop",
      endless: true,
    },
  });

/** A trace spec taken apart: the path and the options written after it. */
export interface TraceSpec {
  /** The file. */
  path: string;
  /** Options by name: the value, or `""` for an option written without one. */
  options: Partial<Record<keyof typeof TRACE_OPTIONS, string>>;
}

const TRAILING = /:([A-Za-z]+)(?:=([^:]*))?$/;

/**
 * Takes a trace spec apart: options are peeled off the end while they name an option of
 * {@link TRACE_OPTIONS}; what is left is the path. Never throws: a repeated option or a
 * wrong value is reported by {@link openTrace}.
 *
 * @param spec the `--workload` value
 * @returns the path and the options
 *
 * @example Usage
 * ```ts
 * import { splitTraceSpec } from "./open.ts";
 * import assert from "node:assert/strict";
 * const s = splitTraceSpec("fixtures/traces/sort.pctrace:offset=1GiB:loop");
 * assert.equal(s.path, "fixtures/traces/sort.pctrace");
 * assert.deepEqual(s.options, { loop: "", offset: "1GiB" });
 * ```
 */
export function splitTraceSpec(spec: string): TraceSpec {
  return split(spec).spec;
}

function split(spec: string): { spec: TraceSpec; repeated: string | null } {
  const options: Record<string, string> = {};
  let path = spec, repeated: string | null = null;
  for (;;) {
    const m = TRAILING.exec(path);
    if (!m || !Object.hasOwn(TRACE_OPTIONS, m[1])) break;
    if (Object.hasOwn(options, m[1])) repeated ??= m[1];
    else options[m[1]] = m[2] ?? "";
    path = path.slice(0, m.index);
  }
  return { spec: { path, options }, repeated };
}

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
 * Whether a workload spec names a trace file: it has a `/` or ends (before its options,
 * see {@link TRACE_OPTIONS}) in `.pctrace`, `.csv` or `.jsonl`.
 *
 * @param spec the `--workload` value
 * @returns true for a trace path
 *
 * @example Usage
 * ```ts
 * import { isTraceSpec } from "./trace.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isTraceSpec("fixtures/sort.pctrace:offset=1GiB"));
 * assert.ok(isTraceSpec("sort.pctrace:spread:loop"));
 * assert.ok(!isTraceSpec("uniform:rate=5k"));
 * ```
 */
export function isTraceSpec(spec: string): boolean {
  const path = splitTraceSpec(spec).path;
  return path.includes("/") || kindOf(path) !== undefined;
}

/**
 * Opens a trace file as a workload: `.pctrace` (binary), `.csv` or `.jsonl`, with the
 * options of {@link TRACE_OPTIONS} after the path. `:offset=N` (frames) or `:offset=SIZE`
 * (`1GiB`, page-aligned) places the trace's frames at that offset in the guest; the rest
 * of memory is idle. `:spread[=T]` spreads each burst over its sampling interval
 * ({@link SpreadTrace}); `:loop` repeats the trace for ever ({@link LoopedTrace}), with a
 * gap of one sampling interval (10 ms, or the `spread=T` given) between passes.
 *
 * @param spec the path, with its options
 * @param pageSize bytes per frame, for a size offset (default 4096)
 * @returns the workload
 * @throws {PrecopyError} naming the file and the byte offset or line that is wrong, or
 *   the option
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
 * const looped = openTrace(`${path}:loop`);
 * assert.equal(looped.endNs, Infinity);
 * assert.equal(looped.passNs, 5 + 10_000_000); // the last access plus one interval
 * Deno.removeSync(path);
 * ```
 */
export function openTrace(spec: string, pageSize = 4096): TraceWorkload {
  const { spec: { path, options }, repeated } = split(spec);
  const bad = (msg: string): never => {
    throw new PrecopyError("workload", `workload ${quote(spec, 200)}: ${msg}`);
  };
  if (repeated !== null) bad(`the trace option '${repeated}' is given twice`);
  for (const [name, value] of Object.entries(options)) {
    const o = TRACE_OPTIONS[name as keyof typeof TRACE_OPTIONS];
    if (o.value === "required" && value === "") bad(`the trace option '${name}' needs a value`);
    if (o.value === "none" && value !== "") bad(`the trace option '${name}' takes no value`);
  }
  let offset = 0;
  if (options.offset !== undefined) {
    const text = options.offset.trim();
    if (/^\d+$/.test(text)) offset = Number(text);
    else {
      const bytes = parseSize(text, `workload '${spec}' offset`);
      if (bytes % pageSize !== 0) {
        bad(`offset ${text} is not a multiple of the ${pageSize}-byte page`);
      }
      offset = bytes / pageSize;
    }
  }
  let interval = RECORD_INTERVAL_NS;
  if (options.spread) {
    interval = parseDuration(options.spread, `workload '${spec}' spread`);
    if (!(interval >= 1)) bad(`spread=${options.spread}: the interval must be at least 1ns`);
  }
  const kind = kindOf(path);
  if (!kind) {
    const m = TRAILING.exec(path);
    if (m && kindOf(path.slice(0, m.index))) {
      bad(
        `${quote(m[1])} is not a trace option (${Object.keys(TRACE_OPTIONS).join(", ")})`,
      );
    }
    bad(`a trace must end in ${kindList()}`);
  }
  let w = kind!.open(path, offset, spec);
  if (options.spread !== undefined) w = new SpreadTrace(w, spec, interval);
  if (options.loop !== undefined) w = new LoopedTrace(w, spec, interval);
  return w;
}
