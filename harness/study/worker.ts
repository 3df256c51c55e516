/**
 * A study pool worker: takes jobs, loads their policies through the loader (once per
 * worker, so the policy sandbox applies here as everywhere), runs them and posts the
 * reports back.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { type Job, PolicyCache, runJob, type WorkerReply } from "./job.ts";

const cache = new PolicyCache();
const self = globalThis as unknown as {
  onmessage: (e: MessageEvent<Job>) => void;
  postMessage(m: WorkerReply): void;
};

self.onmessage = async (e: MessageEvent<Job>) => {
  const job = e.data;
  try {
    const report = await runJob(job, cache);
    self.postMessage({ type: "done", index: job.index, report: JSON.stringify(report) });
  } catch (err) {
    self.postMessage({
      type: "fail",
      index: job.index,
      message: err instanceof Error ? err.message : String(err),
      user: err instanceof PrecopyError,
    });
  }
};
