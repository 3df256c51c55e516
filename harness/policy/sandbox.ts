/**
 * The policy sandbox, host side. Each policy file runs in its own Web Worker with no
 * permissions (`deno: { permissions: "none" }`); the host never imports it. A run's
 * engine calls a proxy {@link Policy} whose hooks are synchronous: the host writes the
 * call's inputs into shared memory, wakes the worker with `Atomics.notify`, and waits
 * with `Atomics.wait` and a time budget. While it waits it also answers the calls an
 * oracle makes into the host (`env.future.lastWrites`, `env.rates`).
 *
 * A policy therefore cannot read or write files, the environment, the network, run
 * programs, load FFI or read system information; cannot patch the host's built-ins (its
 * realm is its own, and locked); cannot exit the process; cannot hang a task (a call past
 * the budget ends the worker and the run); and sees only copies of what it is given. See
 * `docs/sandbox.md`.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { formatDuration } from "../units.ts";
import type { BatchView, Policy, PolicyEnv, RoundStats, RoundView, ScanView } from "./contract.ts";
import {
  C_CB,
  C_KIND,
  C_LEN,
  C_LEN2,
  C_OP,
  C_REPLY,
  C_REQ,
  C_SCANS,
  CB_LAST_WRITES,
  CB_RATES,
  CTRL_SLOTS,
  K_ARRAY,
  K_FLOAT,
  K_NOT_ARRAY,
  MAX_PACKED_SCANS,
  N_A,
  N_B,
  N_C,
  N_D,
  N_E,
  N_F,
  N_G,
  NUM_SLOTS,
  OP_FILTER,
  OP_ORDER,
  OP_ROUND_END,
  OP_SCANS,
  R_CALLBACK,
  R_DEAD,
  R_DONE,
  R_ERROR,
  SCAN_BASE,
  SCAN_META,
  SCAN_STRIDE,
} from "./sandbox_protocol.ts";
import { CONTRACT_MARK, ContractBreach } from "./sandbox_protocol.ts";

/**
 * The default time budget of one policy call (and of loading a policy file), in ms:
 * generous, so the `oracle` on a 64 GiB guest (a comparison sort of 16 M frames per round)
 * fits with room to spare on a slow, shared machine.
 */
export const DEFAULT_POLICY_TIMEOUT_MS = 300_000;

/** Options of the sandbox. */
export interface SandboxOptions {
  /** Time budget of one hook call and of loading, in ms (default {@link DEFAULT_POLICY_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/** What the worker reported after importing the policy file. */
export interface LoadedShape {
  /** Whether the module has a default export object. */
  hasDefault: boolean;
  /** A plain copy of `meta` (functions and non-finite numbers dropped). */
  meta?: unknown;
  /** Whether `create` is a function. */
  createIsFunction?: boolean;
}

const WORKER_URL = new URL("./sandbox_worker.ts", import.meta.url).href;
const dec = new TextDecoder();
const MIN_DATA = 1 << 16;
const LOAD_MIN_MS = 60_000;

function entrySource(policyUrl: string): string {
  // The harness module is evaluated first: it locks the realm before the policy runs.
  // (A dynamic import of the policy would keep Deno from printing its own report of a
  // file that does not parse, but it would load the policy's Node built-ins after the
  // lock, which they do not survive.)
  return `import { deliver } from ${JSON.stringify(WORKER_URL)};\n` +
    `import * as policy from ${JSON.stringify(policyUrl)};\n` +
    `deliver(policy);\n`;
}

/**
 * The first line of a worker's error, with where it happened (a code frame's
 * `at file:line:col`) kept on that line: Deno's message carries the frame and a stack.
 */
function oneLine(message: string): string {
  const first = message.split("\n")[0].replace(/^Uncaught \(in promise\) /, "")
    .replace(/^Uncaught /, "");
  const at = /\n\s+at (file:\S+:\d+:\d+)\s*$/m.exec(message);
  return at && !first.includes(at[1]) ? `${first} (at ${at[1]})` : first;
}

/** Why a worker cannot be made, in words a user can act on. */
function spawnError(e: unknown): PrecopyError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/unstable-worker-options|Worker\.deno\.permissions/.test(msg)) {
    return new PrecopyError(
      "config",
      "policies run in a worker without permissions, which needs Deno's " +
        '--unstable-worker-options flag (or "unstable": ["worker-options"] in deno.json)',
    );
  }
  return new PrecopyError("policy", `cannot start a policy worker: ${msg}`);
}

/**
 * One policy file in its worker. It hosts at most one policy instance at a time: each
 * {@link Sandbox.create} replaces the previous one (a run creates one instance and uses
 * it to the end). A worker that timed out or exited is started again by the next create.
 */
export class Sandbox {
  /** The policy file as shown in messages. */
  readonly file: string;
  /** Time budget of one call, in ms. */
  timeoutMs: number;
  readonly #url: string;
  #worker: Worker | null = null;
  #ctrl: Int32Array<SharedArrayBuffer> = new Int32Array(new SharedArrayBuffer(0));
  #num: Float64Array<SharedArrayBuffer> = new Float64Array(new SharedArrayBuffer(0));
  #data = new SharedArrayBuffer(0);
  #order = new SharedArrayBuffer(0);
  #dirtied: Uint8Array | null = null;
  #copiedDirtied: Uint8Array | null = null;
  /** The latest instance; older proxies refuse to run. */
  #generation = 0;
  /** Set when the worker's module failed at load: what went wrong. */
  #loadError: string | null = null;
  /** The policy's name, for messages (set once loaded). */
  name = "";
  /** The round of the latest order() call, for messages about hooks that carry none. */
  #round = 0;
  /** The live instance's env, for callbacks. */
  #env: PolicyEnv | null = null;

  /**
   * Prepares a sandbox (nothing starts until {@link Sandbox.load}).
   * @param url the policy file
   * @param file its name for messages
   * @param options budget
   */
  constructor(url: URL, file: string, options: SandboxOptions = {}) {
    this.#url = url.href;
    this.file = file;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_POLICY_TIMEOUT_MS;
  }

  #spawn(): void {
    this.#kill();
    let worker: Worker;
    try {
      worker = new Worker(
        "data:application/javascript," + encodeURIComponent(entrySource(this.#url)),
        { type: "module", name: this.file, deno: { permissions: "none" } } as WorkerOptions,
      );
    } catch (e) {
      throw spawnError(e);
    }
    this.#worker = worker;
    this.#ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SLOTS * 4));
    this.#num = new Float64Array(new SharedArrayBuffer(NUM_SLOTS * 8));
    this.#data = new SharedArrayBuffer(MIN_DATA);
    this.#order = new SharedArrayBuffer(0);
    this.#dirtied = this.#copiedDirtied = null;
    this.#loadError = null;
    const ctrl = this.#ctrl;
    worker.onerror = (e) => {
      // A module that fails to load or evaluate ends here; never the host's process.
      e.preventDefault();
      this.#loadError ??= oneLine(e.message ?? "the worker failed");
      Atomics.store(ctrl, C_REPLY, R_DEAD);
      Atomics.notify(ctrl, C_REPLY);
    };
    worker.onmessageerror = () => {};
    worker.postMessage({ op: "init", ctrl: ctrl.buffer, num: this.#num.buffer, data: this.#data });
  }

  #kill(): void {
    this.#worker?.terminate();
    this.#worker = null;
    this.#generation++;
  }

  /** Ends the worker (a later create starts a new one). */
  close(): void {
    this.#kill();
  }

  #reason(status: number): string {
    if (status === R_ERROR) {
      return dec.decode(new Uint8Array(this.#data, 0, this.#ctrl[C_LEN]).slice());
    }
    return this.#loadError ?? "the policy's worker ended (Deno.exit, process.exit or close())";
  }

  #loaded(status: number): LoadedShape {
    if (status !== R_DONE) {
      const why = this.#reason(status);
      this.#kill();
      throw new PrecopyError("policy", `policy file ${this.file}: cannot be loaded: ${why}`);
    }
    const text = dec.decode(new Uint8Array(this.#data, 0, this.#ctrl[C_LEN]).slice());
    return JSON.parse(text) as LoadedShape;
  }

  /** Loading has at least a minute: the first load of a file may compile (and type-check). */
  get #loadBudget(): number {
    return Math.max(this.timeoutMs, LOAD_MIN_MS);
  }

  #loadTimeout(): PrecopyError {
    this.#kill();
    return new PrecopyError(
      "policy",
      `policy file ${this.file}: cannot be loaded: it did not finish loading within ${
        formatDuration(this.#loadBudget * 1e6)
      }`,
    );
  }

  /**
   * Starts the worker and imports the policy file in it.
   * @returns the module's shape, for the loader's checks
   * @throws {PrecopyError} naming the file when it does not load
   */
  async load(): Promise<LoadedShape> {
    this.#spawn();
    const ctrl = this.#ctrl, worker = this.#worker!;
    // A timer keeps the event loop alive while the worker loads; the worker's error
    // handler (a file that does not parse) also ends the wait.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("timed-out"), this.#loadBudget);
      const onError = worker.onerror;
      worker.onerror = (e) => {
        onError?.call(worker, e);
        resolve("error");
      };
      const w = Atomics.waitAsync(ctrl, C_REPLY, 0);
      if (w.async) w.value.then(resolve);
      else resolve(w.value);
    });
    clearTimeout(timer);
    if (r === "timed-out") throw this.#loadTimeout();
    return this.#loaded(Atomics.load(ctrl, C_REPLY));
  }

  #loadSync(): void {
    this.#spawn();
    if (Atomics.wait(this.#ctrl, C_REPLY, 0, this.#loadBudget) === "timed-out") {
      throw this.#loadTimeout();
    }
    this.#loaded(Atomics.load(this.#ctrl, C_REPLY));
  }

  /** Waits for the worker's reply; serves callbacks; enforces the budget. */
  #wait(hook: string, round: number): number {
    const ctrl = this.#ctrl;
    let budget = this.timeoutMs;
    for (;;) {
      const t0 = performance.now();
      Atomics.wait(ctrl, C_REPLY, 0, budget);
      budget -= performance.now() - t0;
      const st = Atomics.load(ctrl, C_REPLY);
      if (st === R_CALLBACK) {
        Atomics.store(ctrl, C_REPLY, 0);
        this.#serveCallback(ctrl[C_OP]);
        Atomics.store(ctrl, C_CB, 1);
        Atomics.notify(ctrl, C_CB);
        continue;
      }
      if (st !== 0) return st;
      if (budget <= 0) {
        this.#kill();
        // create() (and its buffers' set-up) comes before any round.
        const where = hook === "create()" ? "" : ` in round ${round}`;
        throw new Error(
          `timed out: ${hook} gave no answer within ${
            formatDuration(this.timeoutMs * 1e6)
          }${where} (the --policy-timeout budget); the policy's worker was stopped`,
        );
      }
    }
  }

  #serveCallback(op: number): void {
    const env = this.#env;
    let values: Float64Array | undefined;
    if (op === CB_LAST_WRITES && env?.future) {
      values = env.future.lastWrites(this.#num[N_A], this.#num[N_B]);
    } else if (op === CB_RATES && env?.rates) values = env.rates;
    const n = values ? Math.min(values.length, this.#data.byteLength >>> 3) : 0;
    if (values) new Float64Array(this.#data, 0, n).set(values.subarray(0, n));
    this.#ctrl[C_LEN] = n;
  }

  /** One call: inputs are already in place. Returns on success; throws otherwise. */
  #call(op: number, hook: string, round: number, generation: number): void {
    if (generation !== this.#generation) {
      throw new Error(
        `${hook}: this instance was replaced by a newer create() of the same loaded policy ` +
          "(load the policy again to run two instances at once)",
      );
    }
    const ctrl = this.#ctrl;
    Atomics.store(ctrl, C_REPLY, 0);
    ctrl[C_OP] = op;
    Atomics.add(ctrl, C_REQ, 1);
    Atomics.notify(ctrl, C_REQ);
    const st = this.#wait(hook, round);
    if (st === R_DONE) return;
    const why = this.#reason(st);
    if (st === R_DEAD) this.#kill();
    if (st === R_ERROR && why.startsWith(CONTRACT_MARK)) {
      throw new ContractBreach(`round ${round}: ${hook} ${why.slice(CONTRACT_MARK.length)}`);
    }
    throw new Error(st === R_DEAD ? `${why} (in ${hook}, round ${round})` : why);
  }

  #ensureData(frames: number): void {
    const want = Math.max(MIN_DATA, SCAN_BASE + frames * 8 + 64);
    if (this.#data.byteLength >= want && this.#order.byteLength >= frames * 4) return;
    this.#data = new SharedArrayBuffer(want);
    this.#order = new SharedArrayBuffer(Math.max(64, frames * 4));
    this.#message({ op: "data", data: this.#data, order: this.#order }, "create()");
  }

  #message(m: Record<string, unknown>, hook: string): void {
    const ctrl = this.#ctrl;
    Atomics.store(ctrl, C_REPLY, 0);
    this.#worker!.postMessage(m);
    const st = this.#wait(hook, this.#round);
    if (st !== R_DONE) {
      const why = this.#reason(st);
      if (st === R_DEAD) this.#kill();
      throw new Error(why);
    }
  }

  /**
   * Makes a policy instance in the worker and returns its proxy.
   * @param params resolved parameters
   * @param env the run's environment (its history is copied, not shared)
   * @returns a {@link Policy} whose hooks call into the worker
   */
  create(params: Record<string, unknown>, env: PolicyEnv): Policy {
    if (this.#worker === null) this.#loadSync();
    this.#generation++;
    this.#env = null;
    this.#round = 0;
    const frames = env.frames;
    this.#ensureData(frames);
    const h = env.history;
    const init = h.intervals > 0 ? { written: h.written(), accessed: h.accessed() } : {};
    this.#env = env;
    const oracle = "future" in env || "rates" in env;
    this.#message({
      op: "create",
      params,
      env: {
        frames,
        pageSize: env.pageSize,
        bandwidth: env.bandwidth,
        seed: env.seed,
        historyLength: h.length,
        intervalNs: h.intervalNs,
        intervals: h.intervals,
        future: oracle && "future" in env,
        rates: oracle && "rates" in env,
      },
      init,
    }, "create()");
    const flags = this.#ctrl[C_KIND];
    if (flags < 0) return null as unknown as Policy; // the engine reports the missing order()
    return this.#proxy(env, flags, this.#generation);
  }

  #proxy(env: PolicyEnv, flags: number, gen: number): Policy {
    const ctrl = this.#ctrl, num = this.#num;
    const hasScan = (flags & 2) !== 0;
    const historyLength = env.history.length;
    let shipped = env.history.intervals;
    // Scans the worker has not seen yet (only those that closed a history interval).
    // Scans wait for the next call and go with it (a policy runs only inside its hooks, so
    // it cannot tell): one round trip per call, not per scan. An oracle's onScan might ask
    // the future, whose answer depends on when it is asked: its scans go at once.
    const queue: { scan: ScanView; flags: number; dropped: number }[] = [];
    const immediate = hasScan && ("future" in env || "rates" in env);
    let dropped = 0;
    /** Packs queued scans into `num` and `data`; returns how many went. */
    const pack = (): number => {
      const room = this.#data.byteLength >>> 2;
      let at = SCAN_BASE >>> 2, k = 0;
      while (k < queue.length && k < MAX_PACKED_SCANS) {
        const { scan, flags, dropped } = queue[k];
        const nw = scan.written.length, na = scan.accessed.length;
        if (at + nw + na > room) {
          if (k > 0) break;
          throw new Error("a profiling scan larger than the guest");
        }
        const u = new Uint32Array(this.#data);
        u.set(scan.written, at);
        u.set(scan.accessed, at + nw);
        at += nw + na;
        const m = SCAN_META + k * SCAN_STRIDE;
        num[m] = nw;
        num[m + 1] = na;
        num[m + 2] = scan.index;
        num[m + 3] = scan.nowNs;
        num[m + 4] = dropped;
        num[m + 5] = flags;
        k++;
      }
      queue.splice(0, k);
      ctrl[C_SCANS] = k;
      return k;
    };
    /** Packs what the next call can carry; sends the rest ahead in calls of their own. */
    const flush = () => {
      pack();
      while (queue.length > 0) {
        this.#call(OP_SCANS, "onScan()", this.#round, gen);
        pack();
      }
    };
    const policy: Policy = {
      order: (round: RoundView) => {
        flush();
        this.#round = round.index;
        const o = round.offered, n = o.length;
        if (n > this.#order.byteLength >>> 2) {
          throw new Error("order(): more frames than the guest");
        }
        new Uint32Array(this.#order, 0, n).set(o);
        ctrl[C_LEN] = n;
        num[N_A] = round.index;
        num[N_B] = round.nowNs;
        num[N_C] = round.endEstimateNs;
        // QEMU's carried tail goes in the data area; the worker copies it out before the
        // policy runs, since the answer may come back through the same area.
        const carried = round.carried;
        new Uint32Array(this.#data, 0, carried.length).set(carried);
        num[N_D] = carried.length;
        this.#call(OP_ORDER, "order()", round.index, gen);
        const kind = ctrl[C_KIND], m = ctrl[C_LEN];
        if (kind === K_NOT_ARRAY) return null as unknown as ArrayLike<number>;
        if (kind === K_ARRAY || kind === K_FLOAT) {
          const f = new Float64Array(this.#data, 0, m).slice();
          return kind === K_ARRAY ? Array.from(f) : f;
        }
        // The order stays in shared memory until the next order(): no copy back.
        return new Uint32Array(this.#order, 0, m);
      },
      onScan: (scan: ScanView) => {
        const recorded = env.history.intervals > shipped;
        if (recorded) shipped = env.history.intervals;
        if (!recorded && !hasScan) return;
        queue.push({ scan, flags: (recorded ? 1 : 0) | (hasScan ? 2 : 0), dropped });
        dropped = 0;
        if (!hasScan && queue.length > historyLength) {
          // Only the last H scans matter to a history of H intervals.
          dropped += 1 + queue.shift()!.dropped;
          queue[0].dropped += dropped;
          dropped = 0;
        }
        if (immediate || queue.length >= MAX_PACKED_SCANS) {
          flush();
          this.#call(OP_SCANS, "onScan()", this.#round, gen);
        }
      },
    };
    if ((flags & 1) !== 0) {
      policy.filter = (batch: BatchView) => {
        flush();
        this.#shareDirtied(batch.dirtied);
        const n = batch.frames.length, keep = batch.keep;
        if (n > 2048 || keep.length > 2048) {
          throw new Error("filter(): a batch of more than 2048 frames");
        }
        new Uint32Array(this.#data, 0, n).set(batch.frames);
        ctrl[C_LEN] = n;
        ctrl[C_LEN2] = keep.length;
        num[N_A] = batch.round;
        num[N_B] = batch.nowNs;
        this.#call(OP_FILTER, "filter()", batch.round, gen);
        keep.set(new Uint8Array(this.#data, 0, keep.length));
      };
    }
    if ((flags & 4) !== 0) {
      policy.onRoundEnd = (s: RoundStats) => {
        flush();
        num[N_A] = s.index;
        num[N_B] = s.startNs;
        num[N_C] = s.endNs;
        num[N_D] = s.offered;
        num[N_E] = s.sent;
        num[N_F] = s.deferred;
        num[N_G] = s.dirtyAtSync;
        num[N_G + 1] = s.lastSent;
        this.#call(OP_ROUND_END, "onRoundEnd()", s.index, gen);
      };
    }
    return policy;
  }

  /**
   * The batch's `dirtied` map: shared with the worker when it lives in shared memory (the
   * engine's does), else copied into a shared copy before each batch.
   */
  #shareDirtied(d: Uint8Array): void {
    if (d.buffer instanceof SharedArrayBuffer) {
      if (this.#dirtied !== d) {
        this.#dirtied = d;
        this.#message({ op: "dirtied", dirtied: d }, "filter()");
      }
      return;
    }
    let copy = this.#copiedDirtied;
    if (copy === null || copy.length !== d.length) {
      copy = this.#copiedDirtied = new Uint8Array(new SharedArrayBuffer(d.length));
      this.#dirtied = null;
    }
    copy.set(d);
    if (this.#dirtied !== copy) {
      this.#dirtied = copy;
      this.#message({ op: "dirtied", dirtied: copy }, "filter()");
    }
  }
}
