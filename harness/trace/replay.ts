/**
 * Ways of replaying a trace that change its timing, not its writes: spreading each
 * recorded burst over its sampling interval (`:spread`), and looping the trace back to
 * back for ever (`:loop`). Both wrap an opened trace and reuse their buffers: nothing is
 * allocated per event or per chunk once the buffers have grown to the largest chunk.
 *
 * @module
 */

import type { AccessChunk, AccessStream } from "../workloads/workload.ts";
import { RECORD_INTERVAL_NS, TraceChunk, type TraceWorkload } from "./format.ts";

/** An output chunk whose arrays may be the wrapped stream's own (only times are rewritten). */
class ShiftedChunk implements AccessChunk {
  t: Float64Array = new Float64Array(0);
  pfn: Uint32Array = new Uint32Array(0);
  op: Uint8Array = new Uint8Array(0);
  vcpu: Uint16Array | undefined = undefined;
  length = 0;
}

/**
 * A trace replayed back to back for ever: pass k is the trace with every time shifted by
 * k × {@link LoopedTrace.passNs}. The period is the trace's last access plus one
 * recording interval, so the last burst of a pass and the first burst of the next never
 * share a time stamp (which would merge two sampling intervals into one) and the gap
 * between passes is at most one interval longer than the recording's own start-up gap.
 * An empty trace stays empty (it has nothing to repeat).
 *
 * @example Usage
 * ```ts
 * import { LoopedTrace, openTrace } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const path = Deno.makeTempFileSync({ suffix: ".csv" });
 * Deno.writeTextFileSync(path, "t_ns,frame,op\n10,1,w\n20,2,w\n");
 * const w = new LoopedTrace(openTrace(path), "demo", 5);
 * const c = w.open(4, 1).next()!; // the first pass
 * assert.deepEqual([...c.t.subarray(0, c.length)], [10, 20]);
 * assert.equal(w.passNs, 25); // the second pass: 35, 45
 * Deno.removeSync(path);
 * ```
 */
export class LoopedTrace implements TraceWorkload {
  readonly kind = "trace" as const;
  readonly name: string;
  readonly minPages: number;
  /** A looped trace never ends. */
  readonly endNs = Infinity;
  /** Accesses in one pass. */
  readonly events: number;
  /** Time between the starts of two passes, ns. */
  readonly passNs: number;
  /** The trace one pass replays. */
  readonly inner: TraceWorkload;

  /**
   * @param inner the trace to repeat (finite)
   * @param name the workload's name (the spec)
   * @param gapNs added to the trace's last access to make the period (one recording interval)
   */
  constructor(inner: TraceWorkload, name: string, gapNs = RECORD_INTERVAL_NS) {
    this.inner = inner;
    this.name = name;
    this.minPages = inner.minPages;
    this.events = inner.events;
    this.passNs = inner.endNs + gapNs;
  }

  zeroMap(pages: number, seed: number): Uint8Array | null {
    return this.inner.zeroMap(pages, seed);
  }

  open(pages: number, seed: number): AccessStream {
    const inner = this.inner, period = this.passNs, empty = this.events === 0;
    let src: AccessStream | null = inner.open(pages, seed);
    let shift = 0;
    const out = new ShiftedChunk();
    return {
      close(): void {
        src?.close?.();
        src = null;
      },
      next(): AccessChunk | null {
        while (src !== null) {
          const c = src.next();
          if (c === null) {
            // The pass ended (its stream holds nothing open now): start the next one.
            if (empty) return (src = null);
            shift += period;
            src = inner.open(pages, seed);
            continue;
          }
          if (shift === 0) return c;
          const n = c.length;
          if (out.t.length < n) out.t = new Float64Array(c.t.length);
          const t = out.t, ct = c.t;
          for (let i = 0; i < n; i++) t[i] = ct[i] + shift;
          out.pfn = c.pfn as Uint32Array;
          out.op = c.op as Uint8Array;
          out.vcpu = c.vcpu;
          out.length = n;
          return out;
        }
        return null;
      },
    };
  }
}

/**
 * A trace whose bursts are spread over their sampling intervals. A sampling recorder knows
 * only that a write happened since its previous scan, and stamps the whole batch with the
 * scan's time. Here the accesses that share a time stamp t (a burst of n) are moved to
 * `lo + ⌈(j + 1) × (t − lo) / n⌉` for j = 0 … n−1, where lo is the later of `t − interval`
 * and the previous burst's time: evenly over the interval, the last one still at t, so
 * the frames, their order, the intervals they fall in and the end time are unchanged, and
 * time never runs back. Times within a burst are distinct when the interval has at least n
 * nanoseconds.
 *
 * @example Usage
 * ```ts
 * import { openTrace, SpreadTrace } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const path = Deno.makeTempFileSync({ suffix: ".csv" });
 * Deno.writeTextFileSync(path, "t_ns,frame,op\n100,1,w\n100,2,w\n100,3,w\n100,0,w\n");
 * const c = new SpreadTrace(openTrace(path), "demo", 40).open(4, 1).next()!;
 * assert.deepEqual([...c.t.subarray(0, c.length)], [70, 80, 90, 100]);
 * Deno.removeSync(path);
 * ```
 */
export class SpreadTrace implements TraceWorkload {
  readonly kind = "trace" as const;
  readonly name: string;
  readonly minPages: number;
  readonly endNs: number;
  readonly events: number;
  /** The sampling interval a burst is spread over, ns. */
  readonly intervalNs: number;
  /** The trace whose bursts are spread. */
  readonly inner: TraceWorkload;

  /**
   * @param inner the trace
   * @param name the workload's name (the spec)
   * @param intervalNs the recorder's sampling interval
   */
  constructor(inner: TraceWorkload, name: string, intervalNs = RECORD_INTERVAL_NS) {
    this.inner = inner;
    this.name = name;
    this.minPages = inner.minPages;
    this.endNs = inner.endNs;
    this.events = inner.events;
    this.intervalNs = intervalNs;
  }

  zeroMap(pages: number, seed: number): Uint8Array | null {
    return this.inner.zeroMap(pages, seed);
  }

  open(pages: number, seed: number): AccessStream {
    const interval = this.intervalNs;
    let src: AccessStream | null = this.inner.open(pages, seed);
    // Events read but not yet given out: the last burst seen may continue in the next
    // chunk, so it is held back until a later time (or the end) closes it. Chunks carry
    // vCPU ids (zeros when the source has none), as the trace readers' do.
    let held = new TraceChunk(0);
    let heldN = 0;
    let out = new TraceChunk(0);
    /** The previous burst's time (−∞ before the first). */
    let prevT = -Infinity;
    /** Spreads the bursts in `out[0, n)` (whole bursts) in place. */
    const spread = (n: number): void => {
      const t = out.t;
      let i = 0;
      while (i < n) {
        const at = t[i];
        let j = i + 1;
        while (j < n && t[j] === at) j++;
        const lo = Math.max(at - interval, prevT, 0), width = at - lo, count = j - i;
        if (width > 0) {
          for (let k = 0; k < count; k++) t[i + k] = lo + Math.ceil(((k + 1) * width) / count);
        }
        prevT = at;
        i = j;
      }
    };
    const grow = (c: TraceChunk, size: number, keep: number): TraceChunk => {
      if (c.t.length >= size) return c;
      const g = new TraceChunk(Math.max(size, 2 * c.t.length));
      g.t.set(c.t.subarray(0, keep));
      g.pfn.set(c.pfn.subarray(0, keep));
      g.op.set(c.op.subarray(0, keep));
      g.vcpu.set(c.vcpu.subarray(0, keep));
      return g;
    };
    return {
      close(): void {
        src?.close?.();
        src = null;
        heldN = 0;
      },
      next(): AccessChunk | null {
        for (;;) {
          if (src === null) return null;
          const c = src.next();
          if (c === null) {
            src = null;
            if (heldN === 0) return null;
            out = grow(out, heldN, 0);
            copy(held, 0, heldN, out, 0);
            spread(heldN);
            out.length = heldN;
            heldN = 0;
            return out;
          }
          const n = c.length, last = c.t[n - 1];
          // Where the chunk's last burst starts: it is held back.
          let cut = n;
          while (cut > 0 && c.t[cut - 1] === last) cut--;
          if (cut === 0 && heldN > 0 && held.t[0] !== last) {
            // A new burst fills the whole chunk: the held one is complete.
            out = grow(out, heldN, 0);
            copy(held, 0, heldN, out, 0);
            const done = heldN;
            heldN = 0;
            held = grow(held, n, 0);
            copyFrom(c, 0, n, held, 0);
            heldN = n;
            spread(done);
            out.length = done;
            return out;
          }
          if (cut === 0) {
            held = grow(held, heldN + n, heldN);
            copyFrom(c, 0, n, held, heldN);
            heldN += n;
            continue;
          }
          const total = heldN + cut;
          out = grow(out, total, 0);
          copy(held, 0, heldN, out, 0);
          copyFrom(c, 0, cut, out, heldN);
          held = grow(held, n - cut, 0);
          copyFrom(c, cut, n, held, 0);
          heldN = n - cut;
          spread(total);
          out.length = total;
          return out;
        }
      },
    };
  }
}

function copy(from: TraceChunk, a: number, b: number, to: TraceChunk, at: number): void {
  to.t.set(from.t.subarray(a, b), at);
  to.pfn.set(from.pfn.subarray(a, b), at);
  to.op.set(from.op.subarray(a, b), at);
  to.vcpu.set(from.vcpu.subarray(a, b), at);
}

function copyFrom(from: AccessChunk, a: number, b: number, to: TraceChunk, at: number): void {
  to.t.set(from.t.subarray(a, b), at);
  to.pfn.set(from.pfn.subarray(a, b), at);
  to.op.set(from.op.subarray(a, b), at);
  if (from.vcpu) to.vcpu.set(from.vcpu.subarray(a, b), at);
  else to.vcpu.fill(0, at, at + b - a);
}
