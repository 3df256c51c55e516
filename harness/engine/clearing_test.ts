import assert from "node:assert/strict";
import { F_SEEN, GuestMemory } from "../memory.ts";
import { createTracker, type DirtyTracker } from "../trackers/tracker.ts";
import { ClearPlan } from "./clearing.ts";

/** A tracker that records what it is asked to clear and flush. */
function recording(mem: GuestMemory): { tracker: DirtyTracker; log: string[] } {
  const log: string[] = [];
  const t = createTracker("ept-ad", mem);
  return {
    log,
    tracker: Object.assign(Object.create(t), {
      clear: (p: number) => void log.push(`clear ${p}`),
      flush: () => void log.push("flush"),
      clearAll: () => void log.push("clearAll"),
    }),
  };
}

Deno.test("a clear mode is parsed once into exactly one of three plans", () => {
  const mem = new GuestMemory(10, null);
  const t = createTracker("ept-ad", mem);
  const flags = (m: string) => {
    const p = new ClearPlan(m, mem.frames, t);
    return [p.atSync, p.atSend, p.byChunk, p.chunk, p.chunkDirty.length];
  };
  assert.deepEqual(flags("round"), [true, false, false, 0, 0]);
  assert.deepEqual(flags("send"), [false, true, false, 0, 0]);
  assert.deepEqual(flags("chunk:4"), [false, false, true, 4, 3]);
  assert.deepEqual(flags("chunk"), [false, false, true, 1 << 18, 1]);
  assert.throws(() => new ClearPlan("chunk:0", mem.frames, t), /--clear: 'chunk:0'/);
});

Deno.test("round clears everything after the sync; the other plans leave it to the sends", () => {
  const mem = new GuestMemory(8, null);
  for (const [mode, expect] of [["round", ["clearAll"]], ["send", []], ["chunk:4", []]] as const) {
    const { tracker, log } = recording(mem);
    new ClearPlan(mode, mem.frames, tracker).afterSync();
    assert.deepEqual(log, expect, mode);
  }
});

Deno.test("chunk: the first send from a chunk clears the frames seen in it, once, then flushes", () => {
  const mem = new GuestMemory(10, null);
  const { tracker, log } = recording(mem);
  const plan = new ClearPlan("chunk:4", mem.frames, tracker);
  plan.setup(); // initially set: every frame of every chunk waits to be cleared
  assert.ok(mem.frames.every((f) => (f & F_SEEN) !== 0));
  plan.clearChunkOf(9); // the last chunk is short: frames 8 and 9
  assert.deepEqual(log.splice(0), ["clear 8", "clear 9", "flush"]);
  plan.clearChunkOf(8); // already cleared
  assert.deepEqual(log, []);
  mem.frames[5] &= ~F_SEEN; // not seen at the last sync: left alone
  plan.clearChunkOf(6);
  assert.deepEqual(log.splice(0), ["clear 4", "clear 6", "clear 7", "flush"]);
  assert.equal(mem.frames[4] & F_SEEN, 0);
  assert.deepEqual([...plan.chunkDirty], [1, 0, 0]);
});
