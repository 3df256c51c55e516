/**
 * When a frame's dirty state is reset, decided once per run: the clear mode of the
 * configuration becomes a {@link ClearPlan} that the setup, the sync and the send loop
 * consult through plain booleans (no mode text in the hot paths).
 *
 * - `round`: the sync clears every frame it logged (KVM without manual protect).
 * - `send`: each frame is cleared just before it is sent — an idealisation whose
 *   invalidations are charged as `KVM_CLEAR_DIRTY_LOG` would do them, one per 64 frames.
 * - `chunk:N`: before the first send from an N-frame chunk, the frames the last sync saw
 *   in it are cleared (QEMU's `KVM_CLEAR_DIRTY_LOG` per 2^18 frames, with
 *   `KVM_DIRTY_LOG_INITIALLY_SET`: every chunk starts out to be cleared).
 *
 * @module
 */

import { parseClear } from "../config.ts";
import { F_SEEN } from "../memory.ts";
import type { DirtyTracker } from "../trackers/tracker.ts";

/**
 * A parsed clear mode, bound to one run's frames and tracker.
 *
 * @example Usage
 * ```ts
 * import { ClearPlan } from "./clearing.ts";
 * import { GuestMemory } from "../memory.ts";
 * import { createTracker } from "../trackers/tracker.ts";
 * import assert from "node:assert/strict";
 * const mem = new GuestMemory(16, null);
 * const plan = new ClearPlan("chunk:4", mem.frames, createTracker("ept-ad", mem));
 * assert.equal(plan.byChunk, true);
 * assert.equal(plan.chunk, 4);
 * assert.equal(plan.chunkDirty.length, 4);
 * ```
 */
export class ClearPlan {
  /** `round`: the sync clears what it logged. */
  readonly atSync: boolean;
  /** `send`: each frame is cleared just before its send. */
  readonly atSend: boolean;
  /** `chunk:N`: a chunk's frames are cleared before the first send from it. */
  readonly byChunk: boolean;
  /** Frames per chunk (`chunk:N` only, else 0). */
  readonly chunk: number;
  /** One byte per chunk: frames seen at the last sync wait to be cleared. */
  readonly chunkDirty: Uint8Array;
  readonly #frames: Uint16Array;
  readonly #tracker: DirtyTracker;

  /**
   * @param mode the configured clear mode (`round`, `send`, `chunk` or `chunk:N`)
   * @param frames the guest's frame flags
   * @param tracker the run's tracker, which does the clearing
   */
  constructor(mode: string, frames: Uint16Array, tracker: DirtyTracker) {
    const c = parseClear(mode);
    this.atSync = c.mode === "round";
    this.atSend = c.mode === "send";
    this.byChunk = c.mode === "chunk";
    this.chunk = c.chunk;
    this.chunkDirty = new Uint8Array(this.byChunk ? Math.ceil(frames.length / c.chunk) : 0);
    this.#frames = frames;
    this.#tracker = tracker;
  }

  /** Setup: with `chunk:N`, every chunk is cleared before its first send (initially set). */
  setup(): void {
    if (!this.byChunk) return;
    const fr = this.#frames;
    for (let p = 0; p < fr.length; p++) fr[p] |= F_SEEN;
    this.chunkDirty.fill(1);
  }

  /** After a sync has marked what it logged: with `round`, everything is cleared now. */
  afterSync(): void {
    if (this.atSync) this.#tracker.clearAll();
  }

  /** `chunk:N`: before the first send from a chunk, clears the frames seen at the sync. */
  clearChunkOf(p: number): void {
    const c = Math.floor(p / this.chunk);
    if (this.chunkDirty[c] === 0) return;
    this.chunkDirty[c] = 0;
    const fr = this.#frames, tracker = this.#tracker;
    const hi = Math.min(fr.length, (c + 1) * this.chunk);
    for (let q = c * this.chunk; q < hi; q++) {
      if ((fr[q] & F_SEEN) !== 0) {
        fr[q] &= ~F_SEEN;
        tracker.clear(q);
      }
    }
    tracker.flush();
  }
}
