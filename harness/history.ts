/**
 * Per-frame update history: for each frame, a ring of the last H profiling intervals
 * (H ≤ 32), one bit per interval for "written" and one for "accessed". Bit 0 is the most
 * recent completed interval.
 *
 * The store keeps the frame lists of the last H intervals and builds per-frame registers
 * only when a policy asks (once per interval at most). A scan therefore costs nothing
 * beyond the frames it found, and a policy that never reads history costs nothing at all.
 *
 * @module
 */

/**
 * What policies see of the history. Arrays returned are owned by the history and cached
 * per interval: treat them as read-only; they are valid until the next scan.
 */
export interface HistoryView {
  /** H: how many intervals each register holds (1–32). */
  readonly length: number;
  /** Nanoseconds per profiling interval. */
  readonly intervalNs: number;
  /** How many profiling intervals have completed so far. */
  readonly intervals: number;
  /** Per-frame written bits, bit 0 = the most recent completed interval. */
  written(): Uint32Array;
  /** Per-frame accessed (read or written) bits, bit 0 = the most recent interval. */
  accessed(): Uint32Array;
  /**
   * Per frame, in how many of the last `window` intervals it was written.
   * @param window 1…H (clamped)
   */
  writeCounts(window?: number): Uint8Array;
  /**
   * Per frame, how many intervals ago it was last written (0 = the most recent interval),
   * or 255 if not within the history.
   */
  lastWrite(): Uint8Array;
}

/**
 * The harness's history store. The engine calls {@link UpdateHistory.record} after each
 * profiling scan; policies read it through {@link HistoryView}.
 *
 * @example Usage
 * ```ts
 * import { UpdateHistory } from "./history.ts";
 * import assert from "node:assert/strict";
 * const h = new UpdateHistory(4, 8, 100_000_000);
 * h.record(Uint32Array.of(1), Uint32Array.of(1, 2)); // interval 1: frame 1 written
 * h.record(new Uint32Array(0), Uint32Array.of(2));   // interval 2: frame 2 read
 * assert.deepEqual([...h.written()], [0, 0b10, 0, 0]);
 * assert.deepEqual([...h.accessed()], [0, 0b10, 0b11, 0]);
 * assert.deepEqual([...h.writeCounts(8)], [0, 1, 0, 0]);
 * assert.deepEqual([...h.lastWrite()], [255, 1, 255, 255]);
 * ```
 */
export class UpdateHistory implements HistoryView {
  readonly length: number;
  readonly intervalNs: number;
  intervals = 0;
  readonly #frames: number;
  /** Ring of the last H intervals' lists; slot (intervals - 1) % H is the newest. */
  readonly #w: Uint32Array[] = [];
  readonly #a: Uint32Array[] = [];
  #cacheAt = -1;
  #written: Uint32Array | null = null;
  #accessed: Uint32Array | null = null;
  #counts = new Map<number, Uint8Array>();
  #last: Uint8Array | null = null;

  /**
   * Creates an empty history.
   * @param frames guest frames
   * @param length H, 1…32
   * @param intervalNs profiling interval
   */
  constructor(frames: number, length: number, intervalNs: number) {
    this.#frames = frames;
    this.length = length;
    this.intervalNs = intervalNs;
  }

  /**
   * Closes one interval. The arrays are kept (not copied): do not modify them afterwards.
   * @param written frames written during it
   * @param accessed frames accessed during it (the written included)
   */
  record(written: Uint32Array, accessed: Uint32Array): void {
    const slot = this.intervals % this.length;
    this.#w[slot] = written;
    this.#a[slot] = accessed;
    this.intervals++;
  }

  #fresh(): void {
    if (this.#cacheAt === this.intervals) return;
    this.#cacheAt = this.intervals;
    this.#written = this.#accessed = this.#last = null;
    this.#counts.clear();
  }

  #build(ring: Uint32Array[]): Uint32Array {
    const out = new Uint32Array(this.#frames);
    const held = Math.min(this.intervals, this.length);
    for (let age = 0; age < held; age++) {
      const list = ring[(this.intervals - 1 - age) % this.length];
      const bit = (1 << age) >>> 0;
      for (let i = 0; i < list.length; i++) out[list[i]] |= bit;
    }
    return out;
  }

  written(): Uint32Array {
    this.#fresh();
    return this.#written ??= this.#build(this.#w);
  }

  accessed(): Uint32Array {
    this.#fresh();
    return this.#accessed ??= this.#build(this.#a);
  }

  writeCounts(window: number = this.length): Uint8Array {
    const win = Math.max(1, Math.min(this.length, Math.floor(window)));
    this.#fresh();
    let out = this.#counts.get(win);
    if (out) return out;
    out = new Uint8Array(this.#frames);
    const held = Math.min(this.intervals, win);
    for (let age = 0; age < held; age++) {
      const list = this.#w[(this.intervals - 1 - age) % this.length];
      for (let i = 0; i < list.length; i++) out[list[i]]++;
    }
    this.#counts.set(win, out);
    return out;
  }

  lastWrite(): Uint8Array {
    this.#fresh();
    if (this.#last) return this.#last;
    const out = new Uint8Array(this.#frames).fill(255);
    const held = Math.min(this.intervals, this.length);
    for (let age = held - 1; age >= 0; age--) {
      const list = this.#w[(this.intervals - 1 - age) % this.length];
      for (let i = 0; i < list.length; i++) out[list[i]] = age;
    }
    return this.#last = out;
  }
}
