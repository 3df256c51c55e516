/**
 * The guest's memory as one flat typed array of per-frame state. Nothing here allocates
 * per frame or per access.
 *
 * @module
 */

/** EPT dirty bit of the frame's leaf, where a tracker models it (`pml`). */
export const F_DBIT = 2;
/** The frame is write-protected: its next write traps (`wp`, `dirty-ring`). */
export const F_WP = 1024;
/** The tracker's dirty log: the hypervisor knows the frame was written since its clear. */
export const F_LOG = 4;
/** Reported dirty at the last sync and not cleared since (QEMU's clear_bmap view). */
export const F_SEEN = 8;
/** The hypervisor knows the frame must be sent (QEMU's migration bitmap). */
export const F_PENDING = 16;
/** The frame holds only zeros (never written since the start of the run). */
export const F_ZERO = 32;
/** Profiler: listed as written in the current profiling interval. */
export const F_IV_W = 64;
/** Profiler: listed as accessed in the current profiling interval. */
export const F_IV_A = 128;
/** Written since the frame was last sent (or never sent): its two copies differ. */
export const F_MODIFIED = 256;
/** Sent at least once: the destination holds some version of it. */
export const F_SENT = 512;
/** Tracker: logged since the last sync (listed for it, unless the list overflowed). */
export const F_NEW = 2048;
/** Engine: in the batch of sends being prepared (cleared by the send). */
export const F_BATCH = 4096;
/**
 * Tracker: the translation of the frame (of its EPT leaf, on the leaf's first frame) was
 * walked since the last flush, so the guest's next access to it costs no walk.
 */
export const F_TLB = 8192;

/**
 * A growable list of frame numbers backed by a `Uint32Array`.
 *
 * @example Usage
 * ```ts
 * import { FrameList } from "./memory.ts";
 * import assert from "node:assert/strict";
 * const l = new FrameList(1);
 * l.push(5); l.push(7);
 * assert.deepEqual([...l.view()], [5, 7]);
 * l.reset();
 * assert.equal(l.length, 0);
 * ```
 */
export class FrameList {
  /** Backing store; entries past `length` are garbage. */
  buf: Uint32Array;
  /** Number of valid entries. */
  length = 0;
  /**
   * Creates an empty list.
   * @param capacity initial capacity
   */
  constructor(capacity = 1024) {
    this.buf = new Uint32Array(Math.max(1, capacity));
  }
  /** Appends a frame. @param p frame number */
  push(p: number): void {
    if (this.length === this.buf.length) this.#grow();
    this.buf[this.length++] = p;
  }
  // Kept out of push() so that push stays small enough to inline in hot loops.
  #grow(): void {
    const b = new Uint32Array(this.buf.length * 2);
    b.set(this.buf);
    this.buf = b;
  }
  /**
   * Makes room for `n` entries (contents kept) and returns the backing store, for loops
   * that fill it directly and then set `length`.
   * @param n entries needed
   * @returns the backing store
   */
  reserve(n: number): Uint32Array {
    if (this.buf.length < n) {
      const b = new Uint32Array(n);
      b.set(this.buf.subarray(0, this.length));
      this.buf = b;
    }
    return this.buf;
  }
  /** The valid entries (a view, valid until the next push or reset). @returns the view */
  view(): Uint32Array {
    return this.buf.subarray(0, this.length);
  }
  /** Empties the list. */
  reset(): void {
    this.length = 0;
  }
}

/**
 * Guest memory: `pages` frames, one 16-bit word of flags each ({@link F_LOG} …). Two bytes
 * per frame keep a 64 GiB guest's state at 32 MiB, so the random accesses of guest writes
 * mostly hit the processor's last-level cache and its page-table walks stay short.
 *
 * Content versions are kept in the two bits every reported number needs: a frame's
 * destination copy equals its source copy exactly when it is {@link F_SENT} and not
 * {@link F_MODIFIED} since — the same as comparing a per-frame write counter with the
 * counter captured at its last send, at one memory access per write instead of two.
 *
 * @example Usage
 * ```ts
 * import { F_SENT, F_ZERO, GuestMemory } from "./memory.ts";
 * import assert from "node:assert/strict";
 * const m = new GuestMemory(4, Uint8Array.of(0, 1, 0, 0));
 * assert.equal(m.frames[1] & F_ZERO, F_ZERO);
 * assert.equal(m.frames[0] & F_SENT, 0); // never received
 * ```
 */
export class GuestMemory {
  /** Frame count. */
  readonly pages: number;
  /** Per frame, its flags. */
  readonly frames: Uint16Array;

  /**
   * Creates a guest whose frames all hold data, except those in `zeroMap`.
   * @param pages frame count
   * @param zeroMap 1 for frames that hold only zeros at the start, or null
   */
  constructor(pages: number, zeroMap: Uint8Array | null) {
    this.pages = pages;
    this.frames = new Uint16Array(pages);
    if (zeroMap) {
      for (let p = 0; p < pages; p++) if (zeroMap[p]) this.frames[p] = F_ZERO;
    }
  }
}
