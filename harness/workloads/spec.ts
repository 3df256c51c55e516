/**
 * Workload specs: the one module that knows every kind of workload — generators
 * (`workload.ts`), trace files (`../trace/`) and fitted models (`fit.ts`) — and picks
 * the reader for a spec. The readers do not import it back, so the layers have no loop.
 *
 * @module
 */

import { parseFit } from "./fit.ts";
import { isTraceSpec, openTrace } from "../trace/trace.ts";
import { parseGenerator, type Workload } from "./workload.ts";

/**
 * Parses a workload spec: a generator (`uniform:rate=200k`, `hotcold:hot=5%,hotShare=90%`,
 * `mix:uniform(rate=2k)+hotcold(rate=20k)`) or a trace file (`.pctrace`, `.csv` or
 * `.jsonl`, or anything with a `/`), with its options (`:offset=N|SIZE`, `:spread[=T]`,
 * `:loop`; see `TRACE_OPTIONS` in `../trace/open.ts`).
 *
 * @param spec the spec
 * @param pageSize bytes per frame, for `footprint` sizes (default 4096)
 * @returns the workload
 * @throws {PrecopyError} naming the spec and what is wrong with it
 *
 * @example Usage
 * ```ts
 * import { parseWorkload } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const w = parseWorkload("uniform:rate=1k");
 * const chunk = w.open(1024, 1).next()!;
 * assert.equal(chunk.t[1] - chunk.t[0], 1_000_000); // 1k writes/s: one per ms
 * assert.ok(chunk.pfn[0] < 1024);
 * ```
 */
export function parseWorkload(spec: string, pageSize = 4096): Workload {
  const s = spec.trim();
  if (s.startsWith("fit:")) return parseFit(s.slice(4), pageSize);
  if (isTraceSpec(s)) return openTrace(s, pageSize);
  return parseGenerator(s, pageSize);
}
