/**
 * `lru-write` — least recently written first: frames are ordered by the profiling
 * interval of their last observed write, oldest (or never written) first. Unlike the
 * bounded history rings it remembers a frame's last write however long ago, from the
 * scans it is shown (`onScan`).
 *
 * @module
 */
import { definePolicy, orderByKey } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "lru-write",
    description: "Least recently written frames first (last write seen by the profiler).",
    defaults: {},
    params: {},
  },
  create(_params, env) {
    const lastWrite = new Float64Array(env.frames); // interval index; 0 = never
    return {
      order: (round) => orderByKey(round.offered, lastWrite),
      onScan(scan) {
        const w = scan.written;
        for (let i = 0; i < w.length; i++) lastWrite[w[i]] = scan.index;
      },
    };
  },
});
