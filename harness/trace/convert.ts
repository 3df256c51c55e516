/**
 * Converting traces: text to binary (`importTrace`) and any form to text (`exportTrace`).
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import type { TraceChunk } from "./format.ts";
import { openTrace, TRACE_KINDS } from "./open.ts";
import { TextTrace } from "./text.ts";
import { TraceWriter } from "./writer.ts";

/**
 * Converts a CSV or JSONL trace into a binary v1 trace.
 *
 * @param input `.csv` or `.jsonl` path
 * @param output `.pctrace` path
 * @param options `compress` (default true)
 * @returns the number of events written
 * @throws {PrecopyError} for a malformed input
 *
 * @example Usage
 * ```ts
 * import { importTrace, openTrace } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/a.jsonl`, '{"t_ns":0,"frame":2,"op":"r","vcpu":1}\n');
 * assert.equal(importTrace(`${dir}/a.jsonl`, `${dir}/a.pctrace`), 1);
 * assert.equal(openTrace(`${dir}/a.pctrace`).minPages, 3);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function importTrace(
  input: string,
  output: string,
  options: { compress?: boolean } = {},
): number {
  const src = new TextTrace(input, 0, input);
  const w = new TraceWriter(output, {
    frames: src.frames,
    reads: src.hasReads,
    vcpu: src.hasVcpu,
    compress: options.compress ?? true,
    zero: src.zeroMap(src.frames),
  });
  const s = src.open(src.frames);
  for (let c = s.next() as TraceChunk | null; c; c = s.next() as TraceChunk | null) {
    for (let i = 0; i < c.length; i++) w.append(c.t[i], c.pfn[i], c.op[i], c.vcpu[i]);
  }
  w.close();
  return src.events;
}

/**
 * Writes any trace as CSV (`t_ns,frame,op,vcpu`) or JSONL, chosen by the output's ending.
 * The input may carry trace options: `:spread` writes the spread times, `:offset=` the
 * placed frames; a looped trace never ends and is refused.
 *
 * @param input a `.pctrace`, `.csv` or `.jsonl` trace, with its options
 * @param output a `.csv` or `.jsonl` path
 * @returns the number of events written
 * @throws {PrecopyError} for a malformed input, a looped one or an unknown output form
 *
 * @example Usage
 * ```ts
 * import { exportTrace, TraceWriter } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const w = new TraceWriter(`${dir}/a.pctrace`, { frames: 4, vcpu: true });
 * w.append(7, 3, 1, 2);
 * w.close();
 * exportTrace(`${dir}/a.pctrace`, `${dir}/a.csv`);
 * assert.match(Deno.readTextFileSync(`${dir}/a.csv`), /^# frames=4\nt_ns,frame,op,vcpu\n7,3,w,2\n$/);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function exportTrace(input: string, output: string): number {
  const json = output.endsWith(".jsonl");
  if (!json && !output.endsWith(".csv")) {
    throw new PrecopyError("config", `export: '${output}' must end in .csv or .jsonl`);
  }
  const src = openTrace(input);
  if (!Number.isFinite(src.endNs)) {
    throw new PrecopyError(
      "config",
      `export: '${input}' never ends (a looped trace); export it without :loop`,
    );
  }
  return TRACE_KINDS[json ? "jsonl" : "csv"].write(src, src.minPages, output);
}
