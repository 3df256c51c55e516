/**
 * The guest's memory and its EPT leaves, as one flat typed array of per-frame flags.
 * Nothing here allocates per frame or per access.
 *
 * @module
 */

/** EPT accessed bit (bit 8 of a leaf): set by any access through the entry. */
export const F_A = 1;
/** EPT dirty bit (bit 9 of a leaf): set by any write through the entry. */
export const F_D = 2;
/** The tracker's software dirty log: folded from D (or set by a trap) until cleared. */
export const F_LOG = 4;
/** Reported dirty at the last sync and not cleared since (QEMU's clear_bmap view). */
export const F_SEEN = 8;
/** The hypervisor knows the frame must be sent (QEMU's migration bitmap). */
export const F_PENDING = 16;
/** The frame holds only zeros (never written since the start of the run). */
export const F_ZERO = 32;
/** Tracker scratch: written during the current profiling interval (already listed). */
export const F_IV_W = 64;
/** Tracker scratch: accessed during the current profiling interval (already listed). */
export const F_IV_A = 128;

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
    if (this.length === this.buf.length) {
      const b = new Uint32Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.length++] = p;
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

/** Written since the frame was last sent (or never sent): its two copies differ. */
export const F_MODIFIED = 256;
/** Sent at least once: the destination holds some version of it. */
export const F_SENT = 512;

/**
 * Guest memory: `pages` frames with 16 bits of flags each ({@link F_A} …). Content
 * versions are kept in the two bits that every reported number needs: a frame's
 * destination copy equals its source copy exactly when it is {@link F_SENT} and not
 * {@link F_MODIFIED} since — the same as comparing a per-frame write counter with the
 * counter captured at its last send, at one memory access per write instead of two.
 * `touched` lists frames whose A bit went 0→1 since the last EPT scan, so a scan costs
 * the frames it finds, not the whole table (its modelled cost is still a walk of every
 * leaf).
 *
 * @example Usage
 * ```ts
 * import { F_SENT, F_ZERO, GuestMemory } from "./memory.ts";
 * import assert from "node:assert/strict";
 * const m = new GuestMemory(4, Uint8Array.of(0, 1, 0, 0));
 * assert.equal(m.flags[1] & F_ZERO, F_ZERO);
 * assert.equal(m.flags[0] & F_SENT, 0); // never received
 * ```
 */
export class GuestMemory {
  /** Frame count. */
  readonly pages: number;
  /** Per-frame flags. */
  readonly flags: Uint16Array;
  /** Frames whose A bit went 0→1 since the last scan. */
  readonly touched: FrameList = new FrameList(4096);

  /**
   * Creates a guest whose frames all hold data, except those in `zeroMap`.
   * @param pages frame count
   * @param zeroMap 1 for frames that hold only zeros at the start, or null
   */
  constructor(pages: number, zeroMap: Uint8Array | null) {
    this.pages = pages;
    this.flags = new Uint16Array(pages);
    if (zeroMap) {
      for (let p = 0; p < pages; p++) if (zeroMap[p]) this.flags[p] = F_ZERO;
    }
  }
}
