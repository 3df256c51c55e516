import assert from "node:assert/strict";
import { UpdateHistory } from "./history.ts";

Deno.test("UpdateHistory keeps only the last H intervals", () => {
  const h = new UpdateHistory(3, 2, 1);
  h.record(Uint32Array.of(0), Uint32Array.of(0));
  h.record(Uint32Array.of(1), Uint32Array.of(1));
  h.record(Uint32Array.of(2), Uint32Array.of(2));
  assert.deepEqual([...h.written()], [0, 0b10, 0b01]); // frame 0's interval fell out
  assert.deepEqual([...h.writeCounts(1)], [0, 0, 1]);
  assert.deepEqual([...h.writeCounts(2)], [0, 1, 1]);
  assert.deepEqual([...h.lastWrite()], [255, 1, 0]);
  assert.equal(h.intervals, 3);
});

Deno.test("UpdateHistory caches views per interval and refreshes after a scan", () => {
  const h = new UpdateHistory(2, 8, 1);
  h.record(Uint32Array.of(0), Uint32Array.of(0, 1));
  const a = h.writeCounts(4);
  assert.equal(h.writeCounts(4), a);
  h.record(Uint32Array.of(0), Uint32Array.of(0));
  assert.notEqual(h.writeCounts(4), a);
  assert.deepEqual([...h.writeCounts(4)], [2, 0]);
  assert.deepEqual([...h.accessed()], [0b11, 0b10]);
});

Deno.test("UpdateHistory handles the full 32-interval register", () => {
  const h = new UpdateHistory(1, 32, 1);
  for (let i = 0; i < 40; i++) h.record(Uint32Array.of(0), Uint32Array.of(0));
  assert.equal(h.written()[0], 0xffffffff);
  assert.equal(h.writeCounts(32)[0], 32);
});
