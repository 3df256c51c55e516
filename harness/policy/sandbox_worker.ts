/**
 * The policy side of the sandbox (see `sandbox.ts`): this module runs inside the worker
 * that hosts one policy file. It is evaluated before the policy module (the worker's
 * entry imports it first), locks the realm, then serves the host's calls: a create
 * arrives as a message, hook calls through shared memory (`Atomics`), so the host can
 * wait for them synchronously.
 *
 * Everything a policy sees is its own copy; nothing it does here reaches the host except
 * the numbers it returns, which the host checks.
 *
 * @module
 */

import { UpdateHistory } from "../history.ts";
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
  K_ARRAY,
  K_FLOAT,
  K_NOT_ARRAY,
  K_UINT32,
  N_A,
  N_B,
  N_C,
  N_D,
  N_E,
  N_F,
  N_G,
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

// Captured before the policy can touch anything.
const g = globalThis as unknown as Record<string, unknown>;
const listen = (g.addEventListener as (t: string, f: (e: Event) => void) => void).bind(globalThis);
const enc = new TextEncoder();
const waitAsync = Atomics.waitAsync;
const later = (g.setTimeout as (f: () => void, ms: number) => number).bind(globalThis);

let ctrl: Int32Array<ArrayBufferLike> = new Int32Array(0);
let num: Float64Array<ArrayBufferLike> = new Float64Array(0);
let data = new SharedArrayBuffer(0);
/** A round's offer in, its order out (Uint32); the host reads the order without a copy. */
let orderBuf = new SharedArrayBuffer(0);
let dirtied: Uint8Array = new Uint8Array(0);
/** Set by the Deno.exit stand-in; a hook that called it fails even if it caught the throw. */
let exitCalled: number | null = null;
/** An unhandled rejection or error seen between calls: reported at the next call. */
let stray: string | null = null;

interface Definition {
  meta: unknown;
  create(params: unknown, env: unknown): Record<string, unknown>;
}
let definition: Definition | null = null;
let instance: Record<string, unknown> | null = null;
let history: UpdateHistory | null = null;
let keep = new Uint8Array(1024);
let frames = new Uint32Array(1024);
let lastSeq = 0;

function describe(e: unknown): string {
  let text: string;
  try {
    text = e instanceof Error
      ? `${e.name === "Error" ? "" : e.name + ": "}${e.message}`
      : String(e);
  } catch {
    return "a value that cannot be printed";
  }
  // One line, of a readable length: nested errors can carry stacks and source text.
  text = text.split("\n")[0].replace(/^(\w*Error: )+/, (m) => m.slice(0, m.indexOf(":") + 2));
  if (/read only property|object is not extensible/.test(text)) {
    text += " (a policy's realm is locked: its built-ins cannot be changed, so Node's " +
      "built-in modules, which patch them as they load, are not available)";
  }
  return text.length > 400 ? text.slice(0, 400) + "…" : text;
}

class PolicyExit extends Error {}

/** Locks the realm before the policy module is evaluated. */
function lockdown(): void {
  const D = Deno as unknown as Record<string, unknown>;
  const safe: Record<string, unknown> = {};
  for (const k of Object.getOwnPropertyNames(D)) {
    try {
      safe[k] = D[k];
    } catch { /* an accessor that needs a permission: leave it out */ }
  }
  safe.exit = (code?: number) => {
    exitCalled = typeof code === "number" ? code : 0;
    throw new PolicyExit(`Deno.exit(${exitCalled}) is not available to a policy`);
  };
  Object.defineProperty(globalThis, "Deno", {
    value: Object.freeze(safe),
    writable: false,
    configurable: false,
  });
  const blocked = (name: string) => () => {
    throw new TypeError(`${name} is not available to a policy`);
  };
  for (
    const k of [
      "close",
      "postMessage",
      "setTimeout",
      "setInterval",
      "onmessage",
      "onerror",
      "onunhandledrejection",
    ]
  ) {
    Object.defineProperty(globalThis, k, {
      value: k.startsWith("on") ? null : blocked(k),
      writable: false,
      configurable: false,
    });
  }
  const TA = Object.getPrototypeOf(Uint8Array) as { prototype: object };
  const roots: unknown[] = [
    Object,
    Array,
    Function,
    TA,
    Uint8Array,
    Uint8ClampedArray,
    Int8Array,
    Uint16Array,
    Int16Array,
    Uint32Array,
    Int32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
    ArrayBuffer,
    SharedArrayBuffer,
    DataView,
    Number,
    String,
    Boolean,
    Symbol,
    BigInt,
    Promise,
    Map,
    Set,
    WeakMap,
    WeakSet,
    Error,
    TypeError,
    RangeError,
    RegExp,
    Date,
    TextEncoder,
  ];
  for (const r of roots) {
    Object.freeze((r as { prototype: object }).prototype);
    Object.freeze(r);
  }
  for (const o of [Math, JSON, Reflect, Atomics, globalThis.Float16Array]) if (o) Object.freeze(o);
}

function reply(status: number): void {
  Atomics.store(ctrl, C_REPLY, status);
  Atomics.notify(ctrl, C_REPLY);
}

function replyError(msg: string): void {
  const bytes = new Uint8Array(data);
  const r = enc.encodeInto(msg.slice(0, 2000), bytes);
  ctrl[C_LEN] = r.written;
  reply(R_ERROR);
}

/** Asks the host for something during a hook (the oracle's future); waits for it. */
function callback(op: number): void {
  Atomics.store(ctrl, C_CB, 0);
  ctrl[C_OP] = op;
  reply(R_CALLBACK);
  Atomics.wait(ctrl, C_CB, 0);
}

function makeEnv(e: Record<string, number | boolean>, init: {
  written?: Uint32Array;
  accessed?: Uint32Array;
}): Record<string, unknown> {
  const frames = e.frames as number;
  const h = history = new UpdateHistory(frames, e.historyLength as number, e.intervalNs as number);
  const intervals = e.intervals as number;
  if (intervals > 0 && init.written && init.accessed) {
    // Rebuilt from the registers: the lists they imply, oldest first, in the right slots.
    const held = Math.min(intervals, h.length);
    h.intervals = intervals - held;
    for (let age = held - 1; age >= 0; age--) {
      const bit = (1 << age) >>> 0;
      const w: number[] = [], a: number[] = [];
      for (let p = 0; p < frames; p++) {
        if ((init.written[p] & bit) !== 0) w.push(p);
        if ((init.accessed[p] & bit) !== 0) a.push(p);
      }
      h.record(Uint32Array.from(w), Uint32Array.from(a));
    }
  }
  const env: Record<string, unknown> = {
    frames,
    pageSize: e.pageSize,
    bandwidth: e.bandwidth,
    seed: e.seed,
    history: h,
  };
  if (e.future) {
    env.future = Object.freeze({
      lastWrites(fromNs: number, toNs: number): Float64Array {
        num[N_A] = fromNs;
        num[N_B] = toNs;
        callback(CB_LAST_WRITES);
        return new Float64Array(data, 0, ctrl[C_LEN]).slice();
      },
    });
  }
  if (e.rates) {
    let rates: Float64Array | null = null;
    Object.defineProperty(env, "rates", {
      get() {
        if (rates) return rates;
        callback(CB_RATES);
        return rates = new Float64Array(data, 0, ctrl[C_LEN]).slice();
      },
      enumerable: true,
    });
  }
  return Object.freeze(env);
}

function orderCall(): void {
  const n = ctrl[C_LEN];
  // The policy's own view of the offer, in the shared order area (no copy): whatever it
  // does to it reaches only its own answer. Returned as is (reordered or not), it already
  // is the answer in place.
  const offered = new Uint32Array(orderBuf, 0, n);
  const view = Object.freeze({
    index: num[N_A],
    nowNs: num[N_B],
    offered,
    carried: new Uint32Array(data, 0, num[N_D]).slice(),
    endEstimateNs: num[N_C],
  });
  const res = (instance!.order as (r: unknown) => unknown).call(instance, view) as
    | ArrayLike<unknown>
    | null;
  if (res === offered) {
    ctrl[C_KIND] = K_UINT32;
    ctrl[C_LEN] = n;
    return;
  }
  if (res === null || typeof res !== "object" || typeof res.length !== "number") {
    ctrl[C_KIND] = K_NOT_ARRAY;
    return;
  }
  const m = res.length;
  if (!(m <= orderBuf.byteLength >>> 2)) {
    throw new ContractBreach(`returned ${m} entries, more than the ${n} frames offered`);
  }
  if (res instanceof Uint32Array) {
    new Uint32Array(orderBuf, 0, m).set(res);
    ctrl[C_KIND] = K_UINT32;
  } else {
    const out = new Float64Array(data, 0, m);
    for (let i = 0; i < m; i++) {
      const v = res[i];
      if (typeof v !== "number") {
        throw new ContractBreach(
          `returned ${describe(v)} at position ${i}, which is not a frame number`,
        );
      }
      out[i] = v;
    }
    ctrl[C_KIND] = Array.isArray(res) ? K_ARRAY : K_FLOAT;
  }
  ctrl[C_LEN] = m;
}

function filterCall(): void {
  const n = ctrl[C_LEN], keepLen = ctrl[C_LEN2];
  if (keep.length !== keepLen) keep = new Uint8Array(keepLen);
  if (frames.length < n) frames = new Uint32Array(n);
  frames.set(new Uint32Array(data, 0, n));
  keep.fill(1);
  const batch = { round: num[N_A], nowNs: num[N_B], frames: frames.subarray(0, n), keep, dirtied };
  (instance!.filter as (b: unknown) => void).call(instance, batch);
  new Uint8Array(data, 0, keepLen).set(keep);
}

/** Takes in the scans packed into this call, in order: history first, then onScan. */
function takeScans(): void {
  const k = ctrl[C_SCANS];
  let at = SCAN_BASE >>> 2;
  for (let i = 0; i < k; i++) {
    const m = SCAN_META + i * SCAN_STRIDE;
    const nw = num[m], na = num[m + 1], flags = num[m + 5];
    const written = new Uint32Array(data, at * 4, nw).slice();
    const accessed = new Uint32Array(data, (at + nw) * 4, na).slice();
    at += nw + na;
    const h = history!;
    h.intervals += num[m + 4]; // scans the host dropped (older than the history holds)
    if ((flags & 1) !== 0) h.record(written, accessed);
    if ((flags & 2) !== 0 && typeof instance!.onScan === "function") {
      const index = num[m + 2];
      try {
        (instance!.onScan as (s: unknown) => void).call(
          instance,
          Object.freeze({ index, nowNs: num[m + 3], written, accessed }),
        );
      } catch (e) {
        throw new Error(`onScan() of scan ${index}: ${describe(e)}`);
      }
    }
  }
}

function roundEndCall(): void {
  (instance!.onRoundEnd as (s: unknown) => void).call(
    instance,
    Object.freeze({
      index: num[N_A],
      startNs: num[N_B],
      endNs: num[N_C],
      offered: num[N_D],
      sent: num[N_E],
      deferred: num[N_F],
      dirtyAtSync: num[N_G],
      lastSent: num[N_G + 1],
    }),
  );
}

function serve(): void {
  const op = ctrl[C_OP];
  try {
    if (stray !== null) throw new Error(stray);
    if (instance === null) throw new Error("no instance (create() was not called)");
    exitCalled = null;
    takeScans();
    if (op === OP_ORDER) orderCall();
    else if (op === OP_FILTER) filterCall();
    else if (op === OP_ROUND_END) roundEndCall();
    else if (op !== OP_SCANS) throw new Error(`unknown call ${op}`);
    if (exitCalled !== null) throw new PolicyExit(`called Deno.exit(${exitCalled})`);
    reply(R_DONE);
  } catch (e) {
    replyError(
      exitCalled !== null
        ? `called Deno.exit(${exitCalled})`
        : e instanceof ContractBreach
        ? CONTRACT_MARK + e.message
        : describe(e),
    );
  }
}

function waitForCall(): void {
  const w = waitAsync(ctrl, C_REQ, lastSeq);
  const go = () => {
    lastSeq = Atomics.load(ctrl, C_REQ);
    serve();
    waitForCall();
  };
  if (w.async) w.value.then(go);
  // The next call is already waiting: serve it after a turn of the event loop, so an
  // unhandled rejection the last hook left behind is seen (and reported) first.
  else later(go, 0);
}

function onMessage(ev: Event): void {
  const m = (ev as MessageEvent).data as Record<string, unknown>;
  try {
    if (m.op === "init") {
      ctrl = new Int32Array(m.ctrl as SharedArrayBuffer);
      num = new Float64Array(m.num as SharedArrayBuffer);
      data = m.data as SharedArrayBuffer;
      settleLoad();
      return;
    }
    if (m.op === "data") {
      data = m.data as SharedArrayBuffer;
      orderBuf = m.order as SharedArrayBuffer;
      reply(R_DONE);
    } else if (m.op === "dirtied") {
      dirtied = m.dirtied as Uint8Array;
      reply(R_DONE);
    } else if (m.op === "create") {
      if (stray !== null) throw new Error(stray);
      if (definition === null) throw new Error("the policy module did not load");
      instance = null;
      exitCalled = null;
      const env = makeEnv(m.env as Record<string, number>, m.init as Record<string, Uint32Array>);
      const inst = definition.create.call(definition, m.params, env);
      if (exitCalled !== null) throw new PolicyExit(`called Deno.exit(${exitCalled})`);
      if (!inst || typeof inst !== "object" || typeof inst.order !== "function") {
        ctrl[C_KIND] = -1;
      } else {
        instance = inst;
        ctrl[C_KIND] = (typeof inst.filter === "function" ? 1 : 0) |
          (typeof inst.onScan === "function" ? 2 : 0) |
          (typeof inst.onRoundEnd === "function" ? 4 : 0);
      }
      reply(R_DONE);
    }
  } catch (e) {
    replyError(exitCalled !== null ? `called Deno.exit(${exitCalled})` : describe(e));
  }
}

/** What the load came to: the definition's shape as JSON, or why it failed. */
let loadResult: { ok: boolean; text: string } | null = null;
let loadSettled = false;

/** Tells the host how the load went, once both the load and the host's init are in. */
function settleLoad(): void {
  if (loadSettled || loadResult === null || ctrl.length === 0) return;
  loadSettled = true;
  if (!loadResult.ok) {
    replyError(loadResult.text);
    return;
  }
  const bytes = new Uint8Array(data);
  const r = enc.encodeInto(loadResult.text, bytes);
  if (r.read < loadResult.text.length) {
    replyError("meta is too large");
    return;
  }
  ctrl[C_LEN] = r.written;
  reply(R_DONE);
  waitForCall();
}

function failLoad(reason: string): void {
  loadResult ??= { ok: false, text: reason };
  settleLoad();
}

function plainMeta(meta: unknown): unknown {
  // A structured clone drops functions and getters' laziness; a throwing getter fails here.
  return structuredClone(meta);
}

/**
 * Called by the worker's entry module with the imported policy module: checks nothing
 * (the host does), sends the host a plain copy of the definition's shape.
 *
 * @param mod the policy module's namespace
 *
 * @example Usage
 * ```ts ignore
 * import { deliver } from "./sandbox_worker.ts";
 * import * as mod from "./my-policy.ts";
 * deliver(mod);
 * ```
 */
export function deliver(mod: Record<string, unknown>): void {
  if (delivered) return;
  delivered = true;
  try {
    if (stray !== null) throw new Error(stray);
    const def = mod.default as Definition | undefined;
    if (!def || typeof def !== "object") {
      loadResult = { ok: true, text: JSON.stringify({ hasDefault: false }) };
    } else {
      const meta = plainMeta(def.meta);
      const createIsFunction = typeof def.create === "function";
      if (createIsFunction) definition = def;
      loadResult = {
        ok: true,
        // NaN and ±Infinity become null, which the host rejects as a parameter value.
        text: JSON.stringify({ hasDefault: true, meta, createIsFunction }),
      };
    }
  } catch (e) {
    loadResult = { ok: false, text: describe(e) };
  }
  settleLoad();
}
let delivered = false;

listen("message", onMessage);
listen("unhandledrejection", (e) => {
  e.preventDefault();
  const why = describe((e as PromiseRejectionEvent).reason);
  // While loading, a module's own failure arrives as a rejection: that is the reason.
  if (!delivered) failLoad(why);
  stray ??= `unhandled promise rejection: ${why}`;
});
listen("error", (e) => {
  e.preventDefault();
  const why = describe((e as ErrorEvent).error ?? (e as ErrorEvent).message);
  if (!delivered) failLoad(why);
  stray ??= `uncaught error: ${why}`;
});
listen("unload", () => {
  if (ctrl.length > 0) reply(R_DEAD);
});
lockdown();
