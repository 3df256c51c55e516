/**
 * What oracle policies know: the workload's future, read from a second, independent
 * opening of the same workload (same memory size and seed, hence the same accesses).
 * Used only for policies with `meta.oracle: true`; reports mark them as bounds.
 *
 * @module
 */

import type { FutureView } from "../policy/contract.ts";
import { type AccessStream, OP_WRITE, type Workload } from "./workload.ts";

interface Held {
  t: Float64Array;
  pfn: Uint32Array;
  op: Uint8Array;
}

/**
 * A forward-moving view of the future. Spans asked for must not start before an earlier
 * span's start (rounds only move forward); the events between are buffered.
 *
 * @param workload the workload being run
 * @param pages guest frames
 * @param seed the run's seed
 * @returns the view
 *
 * @example Usage
 * ```ts
 * import { createFuture } from "./future.ts";
 * import { parseWorkload } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const f = createFuture(parseWorkload("sequential:rate=1k"), 4, 1);
 * // writes at 0, 1, 2, 3 ms to frames 0, 1, 2, 3, then 4 ms to frame 0 again
 * assert.deepEqual([...f.lastWrites(1_000_000, 4_500_000)], [4_000_000, 1_000_000, 2_000_000, 3_000_000]);
 * ```
 */
export function createFuture(
  workload: Workload,
  pages: number,
  seed: number,
): FutureView & { close(): void } {
  let stream: AccessStream | null = workload.open(pages, seed);
  const held: Held[] = [];
  let lastFrom = -Infinity;
  const out = new Float64Array(pages);
  return {
    close(): void {
      stream?.close?.();
      stream = null;
    },
    lastWrites(fromNs: number, toNs: number): Float64Array {
      if (fromNs < lastFrom) {
        throw new Error(`future spans must move forward (${fromNs} < ${lastFrom})`);
      }
      lastFrom = fromNs;
      while (held.length > 0) {
        const h = held[0];
        if (h.t.length === 0 || h.t[h.t.length - 1] < fromNs) held.shift();
        else break;
      }
      for (;;) {
        const tail = held[held.length - 1];
        if (tail && tail.t[tail.t.length - 1] >= toNs) break;
        const c = stream?.next() ?? null;
        if (!c) {
          stream = null;
          break;
        }
        held.push({
          t: c.t.slice(0, c.length),
          pfn: c.pfn.slice(0, c.length),
          op: c.op.slice(0, c.length),
        });
      }
      out.fill(-1);
      for (const h of held) {
        for (let i = 0; i < h.t.length; i++) {
          const t = h.t[i];
          if (t >= toNs) break;
          if (t >= fromNs && h.op[i] === OP_WRITE) out[h.pfn[i]] = t;
        }
      }
      return out;
    },
  };
}

/**
 * Each frame's mean writes per second over `[0, untilNs)` (a trace: its whole length).
 *
 * @param workload the workload
 * @param pages guest frames
 * @param seed the run's seed
 * @param untilNs end of the span for generators (traces use their own end)
 * @returns writes per second, per frame
 *
 * @example Usage
 * ```ts
 * import { writeRates } from "./future.ts";
 * import { parseWorkload } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const r = writeRates(parseWorkload("sequential:rate=4k"), 4, 1, 1e9);
 * assert.deepEqual([...r], [1000, 1000, 1000, 1000]);
 * ```
 */
export function writeRates(
  workload: Workload,
  pages: number,
  seed: number,
  untilNs: number,
): Float64Array {
  const end = Number.isFinite(workload.endNs) ? workload.endNs + 1 : untilNs;
  const counts = new Float64Array(pages);
  const s = workload.open(pages, seed);
  try {
    for (let c = s.next(); c; c = s.next()) {
      let i = 0;
      for (; i < c.length; i++) {
        if (c.t[i] >= end) break;
        if (c.op[i] === OP_WRITE) counts[c.pfn[i]]++;
      }
      if (i < c.length) break;
    }
  } finally {
    s.close?.();
  }
  const secs = end / 1e9;
  for (let p = 0; p < pages; p++) counts[p] /= secs;
  return counts;
}
