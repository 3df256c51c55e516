/**
 * The policy contract: one file per policy, a default export made with
 * {@link definePolicy}. The engine knows nothing about any particular policy; everything
 * crossing the contract is typed arrays and plain numbers.
 *
 * @module
 */

import type { HistoryView } from "../history.ts";

/** A policy parameter value. */
export type ParamValue = number | string | boolean;
/** A policy's parameters, typed by its defaults. */
export type Params = Record<string, ParamValue>;

/**
 * How one parameter is checked: its type and its range or choices. `--param`, study grids
 * and library callers are held to it; NaN and ±Infinity are never a value.
 */
export type ParamSpec =
  | {
    /** A whole number in [min, max]. */
    readonly type: "integer";
    /** Smallest accepted value. */
    readonly min: number;
    /** Largest accepted value. */
    readonly max: number;
  }
  | {
    /** A finite real number in [min, max]. */
    readonly type: "number";
    /** Smallest accepted value. */
    readonly min: number;
    /** Largest accepted value. */
    readonly max: number;
  }
  | {
    /** `true` or `false`. */
    readonly type: "boolean";
  }
  | {
    /** One of a list of words. */
    readonly type: "choice";
    /** The accepted words. */
    readonly choices: readonly string[];
  };

/** What a policy says about itself. */
export interface PolicyMeta<P extends Params = Params> {
  /** Short kebab-case name; `--policy NAME` finds the policy by it. */
  name: string;
  /** One line: what the policy does. */
  description: string;
  /** Every parameter with its default; `--param k=v` overrides and is typed by it. */
  defaults: P;
  /**
   * Each parameter's type and range or choices (e.g. `stages: { type: "integer", min: 1,
   * max: 255 }`). Required by the conformance suite; without it a parameter is checked
   * against its default's type only (any finite number, any word).
   */
  params?: { readonly [K in keyof P]: ParamSpec };
  /**
   * `true` if the policy reads the future (`env.future`, `env.rates`): a capability the
   * engine wires, not a claim. Such a policy is reported as a bound only where its
   * {@link PolicyMeta.bound} holds, and as a future-informed heuristic everywhere else.
   */
  oracle?: boolean;
  /** What the policy bounds and where (proved by the exhaustive test); absent: no claim. */
  bound?: BoundDeclaration;
}

/** A report quantity a bound bounds from below (lower is better for each). */
export type BoundQuantity = "downtimeNs" | "stopCopyPages" | "pagesSent";

/**
 * Where a bound holds: every item given must match the run. `freeTracking`: every tracker
 * cost is zero and auto-converge is off, so syncs take no time and the guest never stalls.
 * `noZeroPages`: no frame starts as a zero page (their shorter markers move the slots).
 */
export interface BoundRegime {
  /** The iteration rule. */
  readonly iteration?: "drain" | "qemu";
  /** The clear mode, as configured (`send`, `round`, `chunk:N`). */
  readonly clear?: string;
  /** The round limit. */
  readonly maxRounds?: number;
  /** Tracking costs nothing and the guest is never stalled or throttled. */
  readonly freeTracking?: boolean;
  /** No frame starts as a zero page. */
  readonly noZeroPages?: boolean;
}

/** A bound's claim: no policy of `against` does better on `quantity` in `regimes`. */
export interface BoundDeclaration {
  /** The quantity bounded from below. */
  readonly quantity: BoundQuantity;
  /** Policies compared: those that send every offered frame, or any policy at all. */
  readonly against: "permutations" | "any";
  /** The regimes in which the claim is proved (any one suffices). */
  readonly regimes: readonly BoundRegime[];
  /** Where the argument is written down. */
  readonly proof: string;
}

/** What an oracle may know about the future of the workload. */
export interface FutureView {
  /**
   * For every frame, the time of its last write in `[fromNs, toNs)`, or -1 if none.
   * Times are on the simulation's clock; the harness maps them to the workload's own
   * clock, which runs slower while the guest is stalled or throttled.
   * @param fromNs start of the span
   * @param toNs end of the span, exclusive
   */
  lastWrites(fromNs: number, toNs: number): Float64Array;
}

/** What a policy can see when it is created. */
export interface PolicyEnv {
  /** Guest frames. */
  readonly frames: number;
  /** Bytes per frame. */
  readonly pageSize: number;
  /** Link rate in bytes per second. */
  readonly bandwidth: number;
  /** The run's seed: randomized policies must draw from it only. */
  readonly seed: number;
  /** The per-frame update history (read-only). */
  readonly history: HistoryView;
  /** Oracle policies only: the workload's future. */
  readonly future?: FutureView;
  /** Oracle policies only: each frame's mean writes per second over the whole workload. */
  readonly rates?: Float64Array;
}

/** One pre-copy round, as handed to {@link Policy.order}. */
export interface RoundView {
  /** Round number, from 1. */
  readonly index: number;
  /** When the round starts, in ns of simulated time. */
  readonly nowNs: number;
  /**
   * Frames the policy may send, ascending. Read-only; returning it unchanged from
   * {@link Policy.order} sends all of them in address order without a copy. Valid during
   * the call: keep a copy (`slice()`), not the array, to use it in a later round.
   */
  readonly offered: Uint32Array;
  /**
   * The offered frames that were offered last round too and left unsent — deferred by the
   * policy, or, under `iteration=qemu`, the tail still pending when the round re-synced.
   * Ascending, a subset of `offered`; empty in round 1. Read-only, valid during `order()`.
   */
  readonly carried: Uint32Array;
  /** When the round would end if every offered frame were sent now, in ns. */
  readonly endEstimateNs: number;
}

/** A batch of the returned order, about to be sent (see {@link Policy.filter}). */
export interface BatchView {
  /** Round number. */
  readonly round: number;
  /** Now, in ns of simulated time. */
  readonly nowNs: number;
  /** The next frames of the order (at most 1024, Xen's batch size). */
  readonly frames: Uint32Array;
  /** Per entry of `frames`: set 0 to leave that frame for a later round. All 1 on entry. */
  readonly keep: Uint8Array;
  /**
   * Per guest frame: 1 if written since this round's sync — what a peek at the dirty log
   * shows without clearing it (Xen's `to_skip`). Read-only.
   */
  readonly dirtied: Uint8Array;
}

/** What a profiling scan saw, as handed to {@link Policy.onScan}. */
export interface ScanView {
  /** Interval number, from 1. */
  readonly index: number;
  /** When the scan ran, in ns of simulated time. */
  readonly nowNs: number;
  /** Frames written during the interval. */
  readonly written: Uint32Array;
  /** Frames accessed during the interval (the written included). */
  readonly accessed: Uint32Array;
}

/** A finished round, as handed to {@link Policy.onRoundEnd}. */
export interface RoundStats {
  /** Round number. */
  readonly index: number;
  /** When the round started, in ns of simulated time. */
  readonly startNs: number;
  /** When the round's sending ended (before its sync), in ns of simulated time. */
  readonly endNs: number;
  /** Frames offered / sent / left pending. */
  readonly offered: number;
  /** Frames sent. */
  readonly sent: number;
  /** Offered frames not sent in the round. */
  readonly deferred: number;
  /** Frames the sync found dirty. */
  readonly dirtyAtSync: number;
  /** The last frame sent in the round, or -1. */
  readonly lastSent: number;
}

/** A policy instance, made by {@link PolicyDefinition.create} for one run. */
export interface Policy {
  /**
   * The frames to send now, in order: a duplicate-free subset of `round.offered`. Frames
   * left out stay pending for the next round (or stop-and-copy).
   */
  order(round: RoundView): ArrayLike<number>;
  /** Optional: called before each batch is sent; may defer frames by clearing `keep`. */
  filter?(batch: BatchView): void;
  /** Optional: called after every profiling scan. */
  onScan?(scan: ScanView): void;
  /** Optional: called after every round's sync. */
  onRoundEnd?(stats: RoundStats): void;
}

/** A policy module's default export. */
export interface PolicyDefinition<P extends Params = Params> {
  /** Name, description, defaults, oracle capability, bound declaration. */
  meta: PolicyMeta<P>;
  /** Makes an instance for one run. */
  create(params: P, env: PolicyEnv): Policy;
}

/** A policy with the file it came from. */
export interface LoadedPolicy {
  /** The module's default export. */
  readonly definition: PolicyDefinition;
  /** Where it was loaded from (a path relative to the working directory when possible). */
  readonly file: string;
  /**
   * Set when the policy runs in a sandbox worker (the loader's default): its time budget
   * per call, and `close()` to end the worker.
   */
  readonly sandbox?: PolicySandbox;
}

/** The worker a sandboxed policy runs in. */
export interface PolicySandbox {
  /** Time budget of each call, in ms; may be changed between runs. */
  timeoutMs: number;
  /** Ends the worker; a later `create()` starts a new one. */
  close(): void;
}

/**
 * Declares a policy. Identity at run time; it exists so a policy file gets its types.
 *
 * @typeParam P the parameter record, inferred from `meta.defaults`
 * @param definition meta and create
 * @returns the same definition
 *
 * @example Usage
 * ```ts
 * import { definePolicy } from "./contract.ts";
 * import assert from "node:assert/strict";
 * const p = definePolicy({
 *   meta: { name: "reverse", description: "Highest frame first.", defaults: {} },
 *   create: () => ({ order: (round) => round.offered.slice().reverse() }),
 * });
 * assert.equal(p.meta.name, "reverse");
 * ```
 */
export function definePolicy<P extends Params>(
  definition: PolicyDefinition<P>,
): PolicyDefinition<P> {
  return definition;
}

/**
 * Sorts frames by a per-frame key, ties in address order. Keys that are small non-negative
 * integers use a packed native sort (fast on millions of frames); others fall back to a
 * comparison sort. Handy for policy authors.
 *
 * @param frames the frames to order (not modified)
 * @param key per guest frame, the sort key (lower first)
 * @returns a new array
 *
 * @example Usage
 * ```ts
 * import { orderByKey } from "./contract.ts";
 * import assert from "node:assert/strict";
 * const key = Float64Array.of(5, 1, 5, 0);
 * assert.deepEqual([...orderByKey(Uint32Array.of(0, 1, 2, 3), key)], [3, 1, 0, 2]);
 * ```
 */
export function orderByKey(frames: Uint32Array, key: ArrayLike<number>): Uint32Array {
  const n = frames.length;
  let packable = true;
  for (let i = 0; i < n; i++) {
    const k = key[frames[i]];
    if (!(k >= 0 && k < 2097152 && Number.isInteger(k))) {
      packable = false;
      break;
    }
  }
  const out = new Uint32Array(n);
  if (packable) {
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) packed[i] = key[frames[i]] * 4294967296 + frames[i];
    packed.sort();
    for (let i = 0; i < n; i++) out[i] = packed[i] % 4294967296;
    return out;
  }
  out.set(frames);
  const arr = Array.from(out);
  arr.sort((a, b) => (key[a] - key[b]) || (a - b));
  out.set(arr);
  return out;
}
