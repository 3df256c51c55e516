/**
 * The pre-copy engine: warm-up with profiling, rounds of sends ordered by the policy,
 * syncs, the switchover decision, stop-and-copy, and the end-of-run verification. A run
 * is a pure function of (workload, config, policy, seed).
 *
 * Time is simulated in integer nanoseconds of the workload's clock. Pages leave one after
 * another at `bandwidth`; the send that starts at time s captures the content every access
 * with t < s produced. See `../shared/DESIGN.md` for the semantics pinned here.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { createFuture, writeRates } from "../workloads/future.ts";
import { UpdateHistory } from "../history.ts";
import {
  F_BATCH,
  F_MODIFIED,
  F_PENDING,
  F_SEEN,
  F_SENT,
  F_ZERO,
  FrameList,
  GuestMemory,
} from "../memory.ts";
import {
  type BatchView,
  type LoadedPolicy,
  type Params,
  type ParamValue,
  type Policy,
  type PolicyEnv,
  type RoundView,
} from "../policy/contract.ts";
import { policyError, resolveParams } from "../policy/loader.ts";
import {
  createTracker,
  DEFAULT_TRACKER_COSTS,
  type DirtyTracker,
  type TrackerCosts,
  type TrackerStats,
} from "../trackers/tracker.ts";
import {
  type AccessChunk,
  type AccessStream,
  OP_WRITE,
  type Workload,
} from "../workloads/workload.ts";

/** When a frame's dirty state is reset: at the sync, per N-frame chunk, or per send. */
export type ClearMode = "round" | "send" | `chunk:${number}`;

/** What ends a pre-copy round: drain every offered frame, or QEMU's re-sync at threshold. */
export type IterationRule = "drain" | "qemu";

/** Everything a migration run is configured with. */
export interface MigrationConfig {
  /** Guest frames. */
  pages: number;
  /** Bytes per frame (default 4096). */
  pageSize: number;
  /** Link rate, bytes per second (default 128 MiB/s, QEMU's max-bandwidth). */
  bandwidth: number;
  /** Wire bytes per page beside its content (default 8, QEMU's header). */
  pageHeader: number;
  /** Wire bytes for a zero page (default 9: QEMU's 8-byte header + 1 byte). */
  zeroMarker: number;
  /** Device state bytes sent during downtime (default 0). */
  deviceState: number;
  /** Switchover target in ns (default 300 ms, QEMU's downtime-limit). */
  downtimeLimitNs: number;
  /** Forced switchover after this many rounds (default 30, Xen's legacy limit). */
  maxRounds: number;
  /** Xen's rule: pause once fewer than this many frames are pending; 0 = off. */
  minPending: number;
  /** Forced switchover once sends reach this many times the guest's frames; 0 = off. */
  maxTransferFactor: number;
  /** When a frame's dirty state is reset (default `send`). */
  clear: ClearMode;
  /** When a round ends (default `drain`). */
  iteration: IterationRule;
  /**
   * `iteration=qemu` only: how much sending happens between two checks of the pending
   * bytes — QEMU's `ram_save_iterate` sends for up to MAX_WAIT = 50 ms before
   * `migration_iteration_run` looks again (default 50 ms; 0 = after every page).
   */
  qemuMaxWaitNs: number;
  /** When migration starts; the guest and the profiler run from 0 (default 1 s). */
  startNs: number;
  /** Pause and resume overhead added to downtime (default 0). */
  pauseResumeNs: number;
  /** Dirty-tracking mechanism (default `ept-ad`). */
  tracker: string;
  /** Frames per EPT leaf: 1 (4 KiB, default) or 512 (2 MiB). */
  eptLeafFrames: number;
  /** Whether clears of A/D bits are followed by INVEPT (default true). */
  flush: boolean;
  /** `error` (default): a mismatch at the end is an error; `count`: reported, not thrown. */
  verify: "error" | "count";
  /** QEMU's auto-converge: throttle the vCPUs while dirtying outpaces the link (off). */
  autoConverge: boolean;
  /** The tracker's cost parameters. */
  trackerCosts: TrackerCosts;
  /** Profiling interval in ns (default 100 ms). */
  profileIntervalNs: number;
  /** H: profiling intervals kept per frame, 1–32 (default 16). */
  historyLength: number;
  /** For `rate-oracle`: generators' mean rates span [0, start + this) (default 120 s). */
  oracleHorizonNs: number;
  /** Seed for generators and randomized policies (default 1). */
  seed: number;
}

/** Configuration overrides: any item of {@link MigrationConfig}, tracker costs in part. */
export type ConfigInput = Partial<Omit<MigrationConfig, "trackerCosts">> & {
  trackerCosts?: Partial<TrackerCosts>;
};

/** Defaults of {@link MigrationConfig} (1 GiB guest). */
export const DEFAULT_CONFIG: Readonly<MigrationConfig> = Object.freeze({
  pages: 262144,
  pageSize: 4096,
  bandwidth: 128 * 1024 * 1024,
  pageHeader: 8,
  zeroMarker: 9,
  deviceState: 0,
  downtimeLimitNs: 300e6,
  maxRounds: 30,
  minPending: 0,
  maxTransferFactor: 0,
  clear: "send",
  iteration: "drain",
  qemuMaxWaitNs: 50e6,
  startNs: 1e9,
  pauseResumeNs: 0,
  tracker: "ept-ad",
  eptLeafFrames: 1,
  flush: true,
  verify: "error",
  autoConverge: false,
  trackerCosts: DEFAULT_TRACKER_COSTS,
  profileIntervalNs: 100e6,
  historyLength: 16,
  oracleHorizonNs: 120e9,
  seed: 1,
});

/** Why the guest was paused. */
export type SwitchoverReason =
  | "downtime-limit"
  | "min-pending"
  | "max-rounds"
  | "max-transfer-factor";

/** One pre-copy round of a report. */
export interface RoundRow {
  /** Round number, from 1. */
  round: number;
  /** Start, ns after the migration began. */
  startNs: number;
  /** Sending time plus the closing sync, ns. */
  durationNs: number;
  /** Frames offered to the policy. */
  offered: number;
  /** Frames sent (zero markers included). */
  sent: number;
  /** Offered frames not sent in the round (deferred by the policy or carried over). */
  deferred: number;
  /** Frames the closing sync found dirty. */
  dirtyAtSync: number;
  /** Wire bytes sent in the round. */
  bytes: number;
}

/** The result of one run. Field meanings: README "What the numbers mean". */
export interface RunReport {
  /** The policy that ran. */
  policy: { name: string; file: string; params: Params; oracle: boolean };
  /** The workload and seed. */
  workload: { name: string; seed: number };
  /** The full configuration. */
  config: MigrationConfig;
  /** Migration start to guest resume, ns (QEMU total-time). */
  totalTimeNs: number;
  /** Guest paused, ns: final sync + last transfer + pause/resume (QEMU downtime). */
  downtimeNs: number;
  /** Pre-copy rounds (stop-and-copy not counted). */
  rounds: number;
  /** Dirty-log syncs: setup, one per round, final (QEMU dirty-sync-count). */
  syncs: number;
  /** What triggered the switchover. */
  switchover: SwitchoverReason;
  /** Every send, zero markers included. */
  pagesSent: number;
  /** Full pages sent (QEMU normal). */
  normalPagesSent: number;
  /** Zero-page markers sent (QEMU duplicate). */
  zeroPagesSent: number;
  /** Wire bytes, device state included (QEMU transferred). */
  bytesSent: number;
  /** Frames sent at least once. */
  uniquePagesSent: number;
  /** Sends of a frame already sent before. */
  resends: number;
  /** Resends of frames written after their previous send. */
  necessaryResends: number;
  /** Resends of frames not written since their previous send. */
  redundantResends: number;
  /** Frames sent while the guest was paused. */
  stopCopyPages: number;
  /** Sends whose content the guest overwrote before the end. */
  wastedSends: number;
  /** Guest writes between migration start and pause. */
  guestWrites: number;
  /** Guest reads between migration start and pause. */
  guestReads: number;
  /** Tracking costs during the migration (from its start to the guest's resume). */
  tracker: TrackerStats & { slowdownPct: number };
  /** Tracking costs while the profiler ran before migration (`startNs` long). */
  profiling: TrackerStats & { slowdownPct: number };
  /** Per pre-copy round. */
  perRound: RoundRow[];
  /** Writes the tracker never saw (clears without a flush; see `--no-flush`). */
  missedUpdates: number;
  /** Auto-converge: whether it was on, the final throttle (% of vCPU time taken), steps. */
  autoConverge: { enabled: boolean; throttlePct: number; steps: number };
  /** Frames whose destination copy differs from the source at the end. */
  mismatchedFrames: number;
  /**
   * Every frame's destination copy equals its source copy. A run that fails verification
   * throws, unless `verify: "count"` asked to report it here (then `false`).
   */
  verified: boolean;
}

/** Progress after each round, for long runs. */
export interface Progress {
  /** Round just finished. */
  round: number;
  /** Frames pending after its sync. */
  pending: number;
  /** Sends so far. */
  pagesSent: number;
  /** Simulated ns since migration start. */
  elapsedNs: number;
}

/** Inputs of {@link simulate}. */
export interface SimulationInput {
  /** The guest's accesses. */
  workload: Workload;
  /** The ordering policy. */
  policy: LoadedPolicy;
  /** Policy parameter overrides: texts (`"16"`) or typed values. */
  params?: Record<string, string | ParamValue>;
  /** Configuration overrides. */
  config?: ConfigInput;
  /** Called after every round. */
  onProgress?: (p: Progress) => void;
  /**
   * Replaces the tracker named by `config.tracker` — for experiments with tracking
   * mechanisms (and for tests that need a broken one).
   */
  createTracker?: (memory: GuestMemory, costs: TrackerCosts) => DirtyTracker;
  /**
   * Step through every send and access one at a time, never in batches. Reports are
   * identical either way (tests compare the two); batches are only faster.
   */
  exact?: boolean;
}

function cfgErr(msg: string): never {
  throw new PrecopyError("config", msg);
}

/**
 * Parses a clear mode: `round`, `send`, `chunk` (QEMU's 2^18 frames) or `chunk:N`.
 *
 * @param text the mode
 * @returns the mode and, for `chunk`, the chunk size in frames (0 otherwise)
 * @throws {PrecopyError} for anything else
 *
 * @example Usage
 * ```ts
 * import { parseClear } from "./engine.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseClear("chunk:64"), { mode: "chunk", chunk: 64 });
 * assert.deepEqual(parseClear("round"), { mode: "round", chunk: 0 });
 * ```
 */
export function parseClear(text: string): { mode: "round" | "send" | "chunk"; chunk: number } {
  if (text === "round" || text === "send") return { mode: text, chunk: 0 };
  const m = /^chunk(?::(\d+))?$/.exec(text);
  if (m) {
    const chunk = m[1] === undefined ? 1 << 18 : Number(m[1]);
    if (chunk >= 1 && Number.isSafeInteger(chunk)) return { mode: "chunk", chunk };
  }
  return cfgErr(`--clear: '${text}' is not round, send, chunk or chunk:N (N ≥ 1 frames)`);
}

/**
 * Fills in defaults and rejects impossible configurations.
 *
 * @param c overrides
 * @returns the full configuration
 * @throws {PrecopyError} naming the offending item
 *
 * @example Usage
 * ```ts
 * import { resolveConfig } from "./engine.ts";
 * import assert from "node:assert/strict";
 * assert.equal(resolveConfig({ pages: 16 }).maxRounds, 30);
 * assert.throws(() => resolveConfig({ bandwidth: 0 }), /bandwidth/);
 * ```
 */
export function resolveConfig(c: ConfigInput = {}): MigrationConfig {
  const cfg: MigrationConfig = {
    ...DEFAULT_CONFIG,
    ...c,
    trackerCosts: { ...DEFAULT_TRACKER_COSTS, ...c.trackerCosts },
  };
  const int = (v: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      cfgErr(`${name}: ${v} is not a whole number from ${min} to ${max}`);
    }
  };
  const nonNeg = (v: number, name: string) => {
    if (!(v >= 0) || !Number.isFinite(v)) cfgErr(`${name}: ${v} must be a finite number ≥ 0`);
  };
  int(cfg.pages, "pages (--memory / --pages)", 1, 1 << 28);
  int(cfg.pageSize, "pageSize", 64, 1 << 30);
  if (!(cfg.bandwidth > 0) || !Number.isFinite(cfg.bandwidth)) {
    cfgErr(`--bandwidth: ${cfg.bandwidth} must be greater than 0`);
  }
  int(cfg.pageHeader, "--page-header", 0);
  int(cfg.zeroMarker, "zeroMarker", 0);
  if (cfg.zeroMarker > cfg.pageSize + cfg.pageHeader) {
    cfgErr(`zeroMarker: ${cfg.zeroMarker} bytes is more than a full page on the wire`);
  }
  int(cfg.deviceState, "--device-state", 0);
  nonNeg(cfg.downtimeLimitNs, "--downtime-limit");
  int(cfg.maxRounds, "--max-rounds", 1, 1e6);
  int(cfg.minPending, "--min-pending", 0);
  nonNeg(cfg.maxTransferFactor, "--max-transfer-factor");
  parseClear(cfg.clear);
  if (cfg.iteration !== "drain" && cfg.iteration !== "qemu") {
    cfgErr(`--iteration: '${cfg.iteration}' is not drain or qemu`);
  }
  nonNeg(cfg.qemuMaxWaitNs, "--qemu-max-wait");
  if (cfg.eptLeafFrames !== 1 && cfg.eptLeafFrames !== 512) {
    cfgErr(`--ept-leaf: ${cfg.eptLeafFrames} frames is not 4KiB (1) or 2MiB (512)`);
  }
  if (typeof cfg.flush !== "boolean") cfgErr("flush must be true or false");
  if (cfg.verify !== "error" && cfg.verify !== "count") cfgErr("verify must be error or count");
  nonNeg(cfg.startNs, "--start");
  nonNeg(cfg.pauseResumeNs, "--pause-resume");
  if (!(cfg.profileIntervalNs >= 1)) cfgErr("--profile-interval: must be at least 1ns");
  int(cfg.historyLength, "--history", 1, 32);
  nonNeg(cfg.oracleHorizonNs, "oracleHorizonNs");
  int(cfg.seed, "--seed", 0, 0xffffffff);
  for (const [k, v] of Object.entries(cfg.trackerCosts)) nonNeg(v, `trackerCosts.${k}`);
  int(cfg.trackerCosts.vcpus, "--vcpus", 1, 4096);
  int(cfg.trackerCosts.ringEntries, "--ring-entries", 128, 1 << 24);
  return cfg;
}

const BATCH = 1024;
/** Flag bit positions, for branchless counting. */
const PENDING_BIT = 4, ZERO_BIT = 5, MODIFIED_BIT = 8, SENT_BIT = 9;
if (
  F_PENDING !== 1 << PENDING_BIT || F_ZERO !== 1 << ZERO_BIT ||
  F_MODIFIED !== 1 << MODIFIED_BIT || F_SENT !== 1 << SENT_BIT
) throw new Error("internal: flag bits");
/** Most sends in one batch (see Migration.sendBatch). */
const BATCH_SENDS = 64;
/** Sends covered by one prefetch of upcoming accesses. */
const PREFETCH_SENDS = 256;

// Indices of Migration.c, the run's counters.
const C_MARKED = 0; // times a frame was marked pending (pending = marked − sent)
const C_PENDING_ZERO = 1; // pending frames that are still zero pages
const C_WRITES = 2;
const C_READS = 3;
const C_WASTED = 4;
const C_SENT = 5; // every send, zero markers included
const C_SENT_ZERO = 6;
const C_UNIQUE = 7;
const C_NECESSARY = 8; // redundant resends = sent − unique − necessary
const C_COUNT = 9;

/** One migration; {@link simulate} is its only user. */
class Migration {
  readonly cfg: MigrationConfig;
  readonly input: SimulationInput;
  readonly pages: number;
  readonly mem: GuestMemory;
  readonly tracker: DirtyTracker;
  readonly history: UpdateHistory;
  readonly policy: Policy;
  readonly params: Params;
  readonly stream: AccessStream;
  /** The oracle's second opening of the workload, closed with the run. */
  future: { close(): void } | null = null;
  readonly clearMode: "round" | "send" | "chunk";
  readonly chunk: number;
  readonly chunkDirty: Uint8Array;
  readonly nsPerByte: number;
  readonly wirePage: number;
  /** One bit per frame: already in the order being checked (cleared per round). */
  readonly ordered: Uint32Array;
  /** Written since this round's sync; only kept for policies with a filter. */
  readonly roundDirty: Uint8Array | null;
  readonly roundDirtyList = new FrameList(1024);

  // the access stream
  chunkT: Float64Array = new Float64Array(0);
  chunkP: Uint32Array = new Uint32Array(0);
  chunkO: Uint8Array = new Uint8Array(0);
  chunkV: Uint16Array | null = null;
  chunkLen = 0;
  ci = 0;
  streamDone = false;
  accessIndex = 0;
  lastAccessNs = -Infinity;
  // The guest's clock: an access at trace time t happens at wall time
  // wallBase + (t − traceBase) / speed. Stalls move wallBase; throttling changes speed.
  // Times and byte counts start as −0, a float: they soon outgrow small integers, and a
  // number that changes kind mid-run sends the compiled hot loop back to slower code.
  wallBase = -0;
  traceBase = -0;
  speed = 1;
  /** The tracker's stall already applied to wallBase. */
  stallApplied = -0;
  /** Whether any frame started as a zero page (none can become one later). */
  readonly zeroPages: boolean;
  /** Whether runs of sends may go as batches (see {@link Migration.sendBatch}). */
  readonly batching: boolean;
  // Floats pass between the send loop, batches and the access loop through these fields,
  // not as arguments or results: a float crossing a call is boxed on the heap each time.
  /** The round's start; in and out of a batch: bytes sent so far, the next QEMU check. */
  batchNow = -0;
  batchBytes = -0;
  batchCheck = -0;
  /** Where {@link Migration.applyUntil} stops. */
  until = -0;
  /** Set by {@link Migration.nextDue}. */
  due = -0;
  /** The last batch met QEMU's rule: the round ends. */
  batchStop = false;
  /** After a declined batch: the first send worth another try. */
  batchRetry = 0;
  /** The next round's offer, when the last sync could list it (else it is collected). */
  nextOffered: Uint32Array | null = null;
  /** Send-time clears so far (their flushes are charged per 64). */
  sendClears = 0;
  /** Keeps the prefetch loads observable so the compiler cannot drop them. */
  prefetchSink = 0;
  nextScanNs = -0;
  scans = 0;

  /** Run counters, indexed by the `C_*` constants (a typed array keeps the hot loop lean). */
  readonly c = new Float64Array(C_COUNT);
  writesAtStart = 0;
  readsAtStart = 0;

  constructor(input: SimulationInput) {
    this.input = input;
    const cfg = this.cfg = resolveConfig(input.config);
    const pages = this.pages = cfg.pages;
    const w = input.workload;
    if (w.minPages > pages) {
      cfgErr(`workload '${w.name}' needs ${w.minPages} frames but the guest has only ${pages}`);
    }
    const clear = parseClear(cfg.clear);
    this.clearMode = clear.mode;
    this.chunk = clear.chunk;
    this.chunkDirty = new Uint8Array(clear.mode === "chunk" ? Math.ceil(pages / clear.chunk) : 0);
    this.nsPerByte = 1e9 / cfg.bandwidth;
    this.wirePage = cfg.pageSize + cfg.pageHeader;
    const zeroMap = w.zeroMap(pages, cfg.seed);
    this.mem = new GuestMemory(pages, zeroMap);
    this.zeroPages = zeroMap !== null && zeroMap.some((z) => z !== 0);
    this.tracker = input.createTracker
      ? input.createTracker(this.mem, cfg.trackerCosts)
      : createTracker(cfg.tracker, this.mem, cfg.trackerCosts, {
        leafFrames: cfg.eptLeafFrames,
        flush: cfg.flush,
      });
    this.history = new UpdateHistory(pages, cfg.historyLength, cfg.profileIntervalNs);
    this.stream = w.open(pages, cfg.seed);
    this.ordered = new Uint32Array(Math.ceil(pages / 32));
    this.nextScanNs = cfg.profileIntervalNs;

    const pol = input.policy;
    this.params = resolveParamsMixed(pol, input.params ?? {});
    const env: PolicyEnv = {
      frames: pages,
      pageSize: cfg.pageSize,
      bandwidth: cfg.bandwidth,
      seed: cfg.seed,
      history: this.history,
    };
    if (pol.definition.meta.oracle) {
      let rates: Float64Array | null = null;
      const future = this.future = createFuture(w, pages, cfg.seed);
      // Oracles ask in simulated time; the workload's clock lags it by the guest's stalls
      // and throttling, so spans are mapped onto the workload's clock here. That clock
      // never runs back: while stalls charged since the last question outlast the time
      // gone by, it stands where it stood.
      let stood = -Infinity;
      const view = {
        lastWrites: (from: number, to: number) => {
          const start = stood = Math.max(stood, this.workloadTime(from));
          return future.lastWrites(start, Math.max(start, this.workloadTime(to)));
        },
      };
      Object.defineProperties(env, {
        future: { value: view, enumerable: true },
        rates: {
          get: () => rates ??= writeRates(w, pages, cfg.seed, cfg.startNs + cfg.oracleHorizonNs),
          enumerable: true,
        },
      });
    }
    this.policy = this.guard("create()", () => pol.definition.create(this.params, env));
    if (!this.policy || typeof this.policy.order !== "function") {
      throw policyError(pol, "create() must return an object with an order(round) method");
    }
    // Shared memory: a sandboxed policy's filter reads it from its worker without a copy.
    this.roundDirty = typeof this.policy.filter === "function"
      ? new Uint8Array(new SharedArrayBuffer(pages))
      : null;
    this.batching = !input.exact && this.tracker.perFrame === true && this.clearMode !== "chunk";
  }

  guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof PrecopyError && e.kind !== "policy") throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw policyError(this.input.policy, `${what} threw: ${msg}`);
    }
  }

  loadChunk(): boolean {
    if (this.streamDone) return false;
    const c: AccessChunk | null = this.stream.next();
    if (c === null || c.length === 0) {
      this.streamDone = true;
      return false;
    }
    this.accessIndex += this.chunkLen;
    this.chunkT = c.t;
    this.chunkP = c.pfn;
    this.chunkO = c.op;
    this.chunkV = c.vcpu ?? null;
    this.chunkLen = c.length;
    this.ci = 0;
    return true;
  }

  /** Applies every access with t < limit, and every profiling scan due before it. */
  advance(limit: number): void {
    this.absorbStall();
    this.until = limit;
    this.applyUntil();
  }

  badAccess(i: number, msg: string): never {
    throw new PrecopyError(
      "workload",
      `workload '${this.input.workload.name}': access #${this.accessIndex + i}: ${msg}`,
    );
  }

  scan(): void {
    const nowNs = this.nextScanNs;
    const r = this.tracker.profile();
    this.history.record(r.written, r.accessed);
    this.scans++;
    this.nextScanNs += this.cfg.profileIntervalNs;
    if (this.policy.onScan) {
      const view = { index: this.scans, nowNs, written: r.written, accessed: r.accessed };
      this.guard("onScan()", () => this.policy.onScan!(view));
    }
  }

  /** Frames the hypervisor knows must be sent. */
  pending(): number {
    return this.c[C_MARKED] - this.c[C_SENT];
  }

  /**
   * Syncs the dirty log into the pending set; returns [frames logged, host ns]. `offer`:
   * list the next round's offer on the way (the setup sync's would be thrown away).
   */
  sync(offer = true): [number, number] {
    const r = this.tracker.sync();
    const fr = this.mem.frames, newly = r.newly, chunkMode = this.clearMode === "chunk";
    // With nothing left pending, the frames marked here are the next round's offer: listed
    // as they pass by (a dense sync's come ascending; a short list is sorted, cheaper than
    // collecting the offer from every frame).
    const list = offer && this.pending() === 0 ? new Uint32Array(newly.length) : null;
    const seen = chunkMode ? F_SEEN : 0;
    let ascending = true, marked = 0, zero = 0;
    for (let i = 0, last = -1; i < newly.length; i++) {
      const p = newly[i], f = fr[p];
      fr[p] = f | F_PENDING | seen;
      const fresh = ((f >>> PENDING_BIT) & 1) ^ 1; // newly pending (no branch: often half)
      marked += fresh;
      zero += fresh & (f >>> ZERO_BIT);
      if (list !== null) {
        list[i] = p;
        if (p < last) ascending = false;
        last = p;
      }
      if (chunkMode) this.chunkDirty[Math.floor(p / this.chunk)] = 1;
    }
    this.c[C_MARKED] += marked;
    this.c[C_PENDING_ZERO] += zero;
    if (list !== null && !ascending) list.sort();
    this.nextOffered = list;
    if (this.clearMode === "round") this.tracker.clearAll();
    const rd = this.roundDirty;
    if (rd !== null) {
      const l = this.roundDirtyList;
      for (let i = 0; i < l.length; i++) rd[l.buf[i]] = 0;
      l.reset();
    }
    return [r.logged, Math.round(r.costNs)];
  }

  /** clear=chunk: before the first send from a chunk, clears the frames seen at the sync. */
  clearChunkOf(p: number): void {
    const c = Math.floor(p / this.chunk);
    if (this.chunkDirty[c] === 0) return;
    this.chunkDirty[c] = 0;
    const fr = this.mem.frames;
    const hi = Math.min(this.pages, (c + 1) * this.chunk);
    for (let q = c * this.chunk; q < hi; q++) {
      if ((fr[q] & F_SEEN) !== 0) {
        fr[q] &= ~F_SEEN;
        this.tracker.clear(q);
      }
    }
    this.tracker.flush();
  }

  /** Sends one frame; returns its wire bytes. Counts only what cannot be derived. */
  send(p: number): number {
    const fr = this.mem.frames, c = this.c, f = fr[p];
    fr[p] = (f | F_SENT) & ~(F_PENDING | F_MODIFIED | F_BATCH);
    c[C_SENT]++;
    if ((f & F_SENT) === 0) c[C_UNIQUE]++;
    else if ((f & F_MODIFIED) !== 0) c[C_NECESSARY]++;
    if ((f & F_ZERO) === 0) return this.wirePage;
    c[C_SENT_ZERO]++;
    c[C_PENDING_ZERO]--;
    return this.cfg.zeroMarker;
  }

  /** Sends so far, zero markers included. */
  pagesSent(): number {
    return this.c[C_SENT];
  }

  /** Wire bytes of every send so far (device state not included). */
  bytesSent(): number {
    const z = this.c[C_SENT_ZERO];
    return (this.c[C_SENT] - z) * this.wirePage + z * this.cfg.zeroMarker;
  }

  pendingWireBytes(): number {
    const z = this.c[C_PENDING_ZERO];
    return (this.pending() - z) * this.wirePage + z * this.cfg.zeroMarker;
  }

  /** The frames pending, ascending: the round's offer. */
  collectPending(): Uint32Array {
    const n = this.pending(), listed = this.nextOffered;
    this.nextOffered = null;
    if (listed !== null && listed.length === n) return listed;
    const out = new Uint32Array(n + 1); // +1: the branchless loop writes one past the end
    const fr = this.mem.frames, pages = this.pages;
    let k = 0;
    // Branchless: pending frames are often half of all, so a branch would mispredict often.
    for (let p = 0; p < pages; p++) {
      out[k] = p;
      k += (fr[p] >>> PENDING_BIT) & 1;
    }
    if (k !== n) throw new Error(`internal: pending count ${n} != ${k}`);
    return out.subarray(0, n);
  }

  /** Runs the policy's order() and checks the result against the contract. */
  orderFor(view: RoundView): Uint32Array {
    const res = this.guard(`order() in round ${view.index}`, () => this.policy.order(view));
    const fail = (msg: string): never => {
      throw policyError(this.input.policy, `round ${view.index}: order() ${msg}`);
    };
    if (res === null || typeof res !== "object" || typeof res.length !== "number") {
      fail("must return an array of frame numbers (a Uint32Array or number[])");
    }
    const n = res.length;
    const typed = res instanceof Uint32Array; // whole and ≥ 0 by construction
    const out = typed ? res : new Uint32Array(n); // (a typed order is not written back)
    const fr = this.mem.frames, seen = this.ordered, pages = this.pages;
    // While the order ascends, no frame can repeat; the bitmap of frames seen is only
    // built (for those so far) once it stops ascending.
    let ascending = true, last = -1;
    for (let i = 0; i < n; i++) {
      const v = res[i];
      if (v >= pages || (!typed && (!Number.isInteger(v) || v < 0))) {
        fail(`returned ${String(v)} at position ${i}, which is not a frame number`);
      }
      if ((fr[v] & F_PENDING) === 0) fail(`returned frame ${v}, which was not offered`);
      if (ascending && v <= last) {
        ascending = false;
        seen.fill(0);
        for (let j = 0; j < i; j++) seen[res[j] >>> 5] |= 1 << (res[j] & 31);
      }
      last = v;
      if (!ascending) {
        const bit = 1 << (v & 31);
        if ((seen[v >>> 5] & bit) !== 0) fail(`returned frame ${v} twice`);
        seen[v >>> 5] |= bit;
      }
      if (!typed) out[i] = v;
    }
    return out;
  }

  /**
   * The send loop. Sends `order` one frame per slot from `now` (each send captures every
   * access before its slot); whenever an access or a profiling scan is due before the next
   * slot, {@link Migration.applyUntil} applies them in time order first. `qemuThreshold`
   * ≥ 0 ends the sending early under QEMU's rule; `filter` (policies with one) may defer
   * frames per batch. Returns the wire bytes sent and the last frame sent.
   */
  drive(
    order: Uint32Array,
    now: number,
    qemuThreshold: number,
    filter: ((from: number, nowNs: number) => Uint8Array) | null,
  ): { segBytes: number; lastSent: number } {
    const tracker = this.tracker;
    const nsPerByte = this.nsPerByte, pageSize = this.cfg.pageSize;
    const maxWait = this.cfg.qemuMaxWaitNs, prefetchNs = PREFETCH_SENDS * this.wirePage * nsPerByte;
    const clearMode = this.clearMode === "send" ? 1 : this.clearMode === "chunk" ? 2 : 0;
    const total = order.length;
    let segBytes = -0, lastSent = -1, nextCheck = now + maxWait, prefetchAt = 0;
    let keep: Uint8Array | null = null;
    this.nextDue();
    let stall = this.stallApplied, due = this.due;
    const batching = this.batching && filter === null;
    this.batchRetry = 0;
    this.batchNow = now;
    for (let k = 0; k < total; k++) {
      if (filter !== null && k % BATCH === 0) {
        keep = filter(k, now + Math.round(segBytes * nsPerByte));
        this.nextDue();
        stall = this.stallApplied, due = this.due;
      }
      if (keep !== null && keep[k % BATCH] === 0) continue;
      const slot = now + segBytes * nsPerByte; // the send's start, before rounding
      if (k >= prefetchAt && !batching) { // batches load the next batch's frames themselves
        prefetchAt = k + PREFETCH_SENDS;
        this.prefetch(slot + prefetchNs);
      }
      if (tracker.stallNs !== stall) { // clears and sends flush: the guest stalls
        this.absorbStall();
        this.nextDue();
        stall = this.stallApplied, due = this.due;
      }
      if (batching && k >= this.batchRetry) {
        this.batchBytes = segBytes, this.batchCheck = nextCheck;
        const m = this.sendBatch(order, k, qemuThreshold);
        if (m > k) {
          segBytes = this.batchBytes, nextCheck = this.batchCheck, lastSent = order[m - 1];
          this.nextDue();
          stall = this.stallApplied, due = this.due;
          if (this.batchStop) break;
          k = m - 1;
          continue;
        }
      }
      if (due < slot + 1) { // rounding moves the slot by at most half a nanosecond
        const limit = now + Math.round(segBytes * nsPerByte);
        if (due < limit) {
          this.until = limit;
          this.applyUntil();
          this.nextDue();
          stall = this.stallApplied, due = this.due;
        }
      }
      const p = order[k];
      if (clearMode === 1) {
        tracker.clear(p);
        // Clearing at each send is an idealisation; its invalidations are charged as
        // KVM_CLEAR_DIRTY_LOG would do them, once per 64-frame word.
        if ((++this.sendClears & 63) === 0) tracker.flush();
      } else if (clearMode === 2) this.clearChunkOf(p);
      segBytes += this.send(p);
      lastSent = p;
      if (qemuThreshold >= 0) {
        const sentUntil = now + Math.round(segBytes * nsPerByte);
        if (sentUntil >= nextCheck) {
          if (this.pending() * pageSize <= qemuThreshold) break;
          nextCheck = sentUntil + maxWait;
        }
      }
    }
    return { segBytes, lastSent };
  }

  /**
   * Sends `order[k..m)` as one batch when that provably gives the same results as sending
   * them one slot at a time: the tracker is per-frame (accesses and sends of different
   * frames commute), none of the frames is a zero page (whose size a write would change),
   * no access due before the last send touches one of them, and no profiling scan falls
   * inside (a send-time flush may only come with the last send). Then the accesses due
   * before the last slot are applied first, the sends after, and the frames of the next
   * batch's accesses are loaded ahead. Returns m, with the state of the send loop in
   * `batchBytes`, `batchCheck` and `batchStop`; or k when declined.
   */
  sendBatch(order: Uint32Array, k: number, qemuThreshold: number): number {
    const now = this.batchNow, segBytes = this.batchBytes, nextCheck = this.batchCheck;
    const fr = this.mem.frames, tracker = this.tracker, wire = this.wirePage;
    const npb = this.nsPerByte, nextScan = this.nextScanNs, pageSize = this.cfg.pageSize;
    const maxWait = this.cfg.qemuMaxWaitNs, clearSend = this.clearMode === "send";
    const zeroPages = this.zeroPages;
    let end = Math.min(order.length, k + BATCH_SENDS);
    if (clearSend) end = Math.min(end, k + 64 - (this.sendClears & 63)); // flush comes last
    // The sends: where the batch must end, and the span of frames it sends.
    let m = k, seg = segBytes, lastSeg = segBytes, check = nextCheck, stop = false;
    let pend = this.pending(), lo = this.pages, hi = 0; // (small integers keep the code fast)
    for (; m < end; m++) {
      const p = order[m];
      if (zeroPages && (fr[p] & F_ZERO) !== 0) break;
      // its slot must not pass the next scan (exact rounding only near it)
      if (now + seg * npb > nextScan - 1 && now + Math.round(seg * npb) > nextScan) break;
      if (p < lo) lo = p;
      if (p > hi) hi = p;
      lastSeg = seg;
      seg += wire;
      if (qemuThreshold >= 0) {
        pend--;
        const sentUntil = now + Math.round(seg * npb);
        if (sentUntil >= check) {
          if (pend * pageSize <= qemuThreshold) {
            stop = true;
            m++;
            break;
          }
          check = sentUntil + maxWait;
        }
      }
    }
    if (m - k < 2) {
      this.batchRetry = Math.max(m, k + 1);
      return k;
    }
    // The accesses due before the last send: none may touch a frame of the batch. Only
    // their frame numbers are compared here; the frames themselves were loaded ahead.
    const lastSlot = now + Math.round(lastSeg * npb);
    const t = this.chunkT, pf = this.chunkP, n = this.chunkLen, tb = this.traceBase;
    const wb = this.wallBase, inv = 1 / this.speed, span = hi - lo;
    let i = this.ci, near = 0, sink = 0;
    for (; i < n; i++) {
      const tt = t[i];
      const at = inv === 1 ? wb + tt - tb : Math.round(wb + (tt - tb) * inv);
      if (at >= lastSlot) break;
      const p = pf[i];
      near |= ((p - lo) >>> 0) <= span ? 1 : 0; // within the batch's span
    }
    // Touch the frames of the next batch's accesses too: their misses then overlap with
    // this batch's work instead of stalling the next batch's check.
    for (let j = i, e = Math.min(n, i + BATCH_SENDS); j < e; j++) sink ^= fr[pf[j]];
    this.prefetchSink ^= sink;
    let clash = i === n && !this.streamDone; // the window runs past this chunk: unseen
    if (near !== 0 && !clash) { // some access falls within the span: check frame by frame
      for (let q = k; q < m; q++) fr[order[q]] |= F_BATCH;
      for (let j = this.ci; j < i; j++) if ((fr[pf[j]] & F_BATCH) !== 0) clash = true;
      if (clash) { for (let q = k; q < m; q++) fr[order[q]] &= ~F_BATCH; }
    }
    if (clash) {
      this.batchRetry = m;
      return k;
    }
    if (i > this.ci) {
      this.until = lastSlot;
      this.applyUntil();
    }
    // The sends, one slot after another as in the send loop (no access falls between).
    for (let q = k; q < m; q++) {
      const p = order[q];
      if (clearSend) tracker.clear(p);
      this.send(p);
    }
    if (clearSend && ((this.sendClears += m - k) & 63) === 0) tracker.flush(); // the last
    this.batchBytes = seg, this.batchCheck = check, this.batchStop = stop;
    return m;
  }

  /** Sets `due`: when the next access or profiling scan is due, in simulated time. */
  nextDue(): void {
    if (this.ci >= this.chunkLen && !this.loadChunk()) {
      this.due = this.nextScanNs;
      return;
    }
    const tt = this.chunkT[this.ci];
    const at = this.speed === 1
      ? this.wallBase + tt - this.traceBase
      : Math.round(this.wallBase + (tt - this.traceBase) * (1 / this.speed));
    this.due = at < this.nextScanNs ? at : this.nextScanNs;
  }

  /**
   * Touches the frames of the accesses due before `horizon` in a tight loop of independent
   * loads, so their cache misses overlap; {@link Migration.applyUntil} then finds them in
   * cache when it interleaves them with the sends one by one.
   */
  prefetch(horizon: number): void {
    const t = this.chunkT, pf = this.chunkP, fr = this.mem.frames, n = this.chunkLen;
    const h = this.traceBase + (horizon - this.wallBase) * this.speed; // in trace time
    let sink = 0;
    for (let j = this.ci; j < n && t[j] < h; j++) sink ^= fr[pf[j]];
    this.prefetchSink ^= sink;
  }

  /**
   * The access loop: applies every access due before `until`, and every profiling scan
   * due before it, in time order. State lives in locals, written back around calls out.
   */
  applyUntil(): void {
    const limit = this.until;
    const fr = this.mem.frames, tracker = this.tracker, pages = this.pages;
    const rd = this.roundDirty, rdl = this.roundDirtyList;
    const c = this.c, vcpus = this.cfg.trackerCosts.vcpus;
    let t = this.chunkT, pf = this.chunkP, op = this.chunkO, n = this.chunkLen, i = this.ci;
    let vc = this.chunkV, base = this.accessIndex;
    let prev = this.lastAccessNs, nextScan = this.nextScanNs;
    let wb = this.wallBase, stall = this.stallApplied;
    const tb = this.traceBase, inv = 1 / this.speed;
    let writes = 0, reads = 0, wasted = 0; // counted here, added once at the end
    for (;;) {
      if (i >= n) {
        this.#save(i, prev, wb, stall);
        if (!this.loadChunk()) break;
        t = this.chunkT, pf = this.chunkP, op = this.chunkO, n = this.chunkLen, i = 0;
        vc = this.chunkV, base = this.accessIndex;
      }
      const tt = t[i];
      const at = inv === 1 ? wb + tt - tb : Math.round(wb + (tt - tb) * inv);
      if (at >= limit) break;
      if (at >= nextScan) {
        this.#save(i, prev, wb, stall);
        this.scan();
        nextScan = this.nextScanNs;
        // the scan's flush stalls the guest before this access happens
        wb = this.wallBase + tracker.stallNs - this.stallApplied, stall = tracker.stallNs;
        continue;
      }
      if (!(tt >= prev)) this.badAccess(i, `time ${tt} goes back before ${prev}`);
      prev = tt;
      const p = pf[i];
      if (p >= pages) this.badAccess(i, `frame ${p} is outside the guest's ${pages} frames`);
      // vCPU: the workload's own id, else spread round-robin
      const v = vcpus === 1 ? 0 : vc !== null ? vc[i] % vcpus : (base + i) % vcpus;
      if (op[i] === OP_WRITE) {
        let f = fr[p];
        wasted += (f >>> SENT_BIT) & ~(f >>> MODIFIED_BIT) & 1; // the sent copy went stale
        if ((f & F_ZERO) !== 0) {
          f &= ~F_ZERO;
          if ((f & F_PENDING) !== 0) c[C_PENDING_ZERO]--;
        }
        fr[p] = f | F_MODIFIED;
        writes++;
        if (rd !== null && rd[p] === 0) {
          rd[p] = 1;
          rdl.push(p);
        }
        tracker.onAccess(p, true, v);
      } else {
        tracker.onAccess(p, false, v);
        reads++;
      }
      i++;
      if (tracker.stallNs !== stall) { // an exit: the guest's clock stops
        wb += tracker.stallNs - stall;
        stall = tracker.stallNs;
      }
    }
    this.#save(i, prev, wb, stall);
    c[C_WRITES] += writes, c[C_READS] += reads, c[C_WASTED] += wasted;
    while (this.nextScanNs < limit) this.scan();
  }

  #save(i: number, prev: number, wallBase: number, stall: number): void {
    this.ci = i;
    this.lastAccessNs = prev;
    this.wallBase = wallBase;
    this.stallApplied = stall;
  }

  /** Stops the guest's clock for the stall the tracker caused outside the hot loop. */
  absorbStall(): void {
    const s = this.tracker.stallNs;
    this.wallBase += s - this.stallApplied;
    this.stallApplied = s;
  }

  /**
   * The workload's clock at simulated time `w` (from now on, barring new stalls). While
   * the guest is stalled its clock stands still at its last access.
   */
  workloadTime(w: number): number {
    return Math.max(this.traceBase + (w - this.wallBase) * this.speed, this.lastAccessNs);
  }

  /** Changes the guest's speed (auto-converge) from wall time `w` on. */
  setSpeed(speed: number, w: number): void {
    this.traceBase += (w - this.wallBase) * this.speed;
    this.wallBase = w;
    this.speed = speed;
  }

  run(): RunReport {
    const cfg = this.cfg, pages = this.pages, fr = this.mem.frames;
    const start = cfg.startNs;
    const threshold = cfg.bandwidth * cfg.downtimeLimitNs / 1e9;
    const qemu = cfg.iteration === "qemu";
    const policy = this.policy;

    // Warm-up: the guest runs and the profiler builds history until migration starts.
    this.advance(start);
    this.writesAtStart = this.c[C_WRITES];
    this.readsAtStart = this.c[C_READS];
    const warm = this.tracker.stats;
    // Setup: logging starts with a sync whose result is discarded; every frame is pending.
    const [, setupCost] = this.sync(false);
    this.absorbStall();
    this.tracker.clearAll();
    const all = new Uint32Array(pages);
    let marked = 0, zero = 0;
    for (let p = 0; p < pages; p++) {
      const f = fr[p];
      all[p] = p;
      if ((f & F_PENDING) !== 0) continue;
      fr[p] = f | F_PENDING;
      marked++;
      if ((f & F_ZERO) !== 0) zero++;
    }
    this.c[C_MARKED] += marked;
    this.c[C_PENDING_ZERO] += zero;
    this.nextOffered = all;
    if (this.clearMode === "chunk") {
      // KVM_DIRTY_LOG_INITIALLY_SET: every chunk is cleared before its first send.
      for (let p = 0; p < pages; p++) fr[p] |= F_SEEN;
      this.chunkDirty.fill(1);
    }
    let now = start + setupCost;
    let syncs = 1;
    // auto-converge (QEMU's): per ≥1 s period, bytes dirtied against bytes sent
    let periodStart = now, dirtyPeriod = 0, xferPeriod = 0, high = 0, throttle = 0, steps = 0;
    const rows: RoundRow[] = [];
    let switchover: SwitchoverReason | null = null;
    const keep = new Uint8Array(BATCH);
    const batch: { -readonly [K in keyof BatchView]: BatchView[K] } = {
      round: 0,
      nowNs: 0,
      frames: new Uint32Array(0),
      keep,
      dirtied: this.roundDirty ?? new Uint8Array(0),
    };

    for (let round = 1; switchover === null; round++) {
      const offered = this.collectPending();
      const roundStart = now;
      const sentBefore = this.pagesSent();
      const bytesBefore = this.bytesSent();
      const view: RoundView = {
        index: round,
        nowNs: now,
        offered,
        endEstimateNs: now + Math.round(this.pendingWireBytes() * this.nsPerByte),
      };
      const order = this.orderFor(view);
      const filter = this.roundDirty !== null
        ? (from: number, nowNs: number) => {
          batch.round = round;
          batch.nowNs = nowNs;
          this.advance(nowNs);
          batch.frames = order.subarray(from, from + BATCH);
          keep.fill(1);
          this.guard(`filter() in round ${round}`, () => policy.filter!(batch));
          return keep;
        }
        : null;
      const { segBytes, lastSent } = this.drive(order, now, qemu ? threshold : -1, filter);
      now += Math.round(segBytes * this.nsPerByte);
      this.advance(now);
      const [dirtyAtSync, syncCost] = this.sync();
      this.absorbStall();
      syncs++;
      const sent = this.pagesSent() - sentBefore;
      const sendEnd = now;
      now += syncCost;
      rows.push({
        round,
        startNs: roundStart - start,
        durationNs: now - roundStart,
        offered: offered.length,
        sent,
        deferred: offered.length - sent,
        dirtyAtSync,
        bytes: this.bytesSent() - bytesBefore,
      });
      if (policy.onRoundEnd) {
        const stats = {
          index: round,
          startNs: roundStart,
          endNs: sendEnd,
          offered: offered.length,
          sent,
          deferred: offered.length - sent,
          dirtyAtSync,
          lastSent,
        };
        this.guard("onRoundEnd()", () => policy.onRoundEnd!(stats));
      }
      if (cfg.autoConverge) {
        dirtyPeriod += dirtyAtSync * cfg.pageSize;
        xferPeriod += this.bytesSent() - bytesBefore;
        if (now - periodStart >= 1e9) {
          // two periods in a row dirtying more than half of what was sent: throttle
          // from 20 %, then 10 % more per step, up to 99 % (QEMU's defaults)
          if (dirtyPeriod > 0.5 * xferPeriod && ++high >= 2) {
            high = 0;
            throttle = throttle === 0 ? 20 : Math.min(99, throttle + 10);
            steps++;
            this.setSpeed(1 - throttle / 100, now);
          }
          periodStart = now;
          dirtyPeriod = xferPeriod = 0;
        }
      }
      const pendingBytes = qemu ? this.pending() * cfg.pageSize : this.pendingWireBytes();
      if (cfg.minPending > 0 && this.pending() < cfg.minPending) switchover = "min-pending";
      else if (qemu ? pendingBytes < threshold : pendingBytes <= threshold) {
        switchover = "downtime-limit";
      } else if (round >= cfg.maxRounds) switchover = "max-rounds";
      else if (
        cfg.maxTransferFactor > 0 &&
        this.pagesSent() >= cfg.maxTransferFactor * pages
      ) switchover = "max-transfer-factor";
      this.input.onProgress?.({
        round,
        pending: this.pending(),
        pagesSent: this.pagesSent(),
        elapsedNs: now - start,
      });
    }

    // Stop-and-copy: the guest pauses; a final sync; everything pending goes out.
    this.advance(now);
    const guestWrites = this.c[C_WRITES] - this.writesAtStart;
    const guestReads = this.c[C_READS] - this.readsAtStart;
    const [, finalCost] = this.sync();
    syncs++;
    const bytesBefore = this.bytesSent();
    const rest = this.collectPending(); // ascending, as QEMU's last pass
    for (let i = 0; i < rest.length; i++) this.send(rest[i]);
    const stopCopyPages = rest.length;
    const bytesSent = this.bytesSent() + cfg.deviceState;
    const transferNs = Math.round((bytesSent - bytesBefore) * this.nsPerByte);
    const downtimeNs = finalCost + transferNs + Math.round(cfg.pauseResumeNs);
    const mismatched = this.verify();

    const pagesSent = this.pagesSent();
    const def = this.input.policy.definition;
    return {
      policy: {
        name: def.meta.name,
        file: this.input.policy.file,
        params: this.params,
        oracle: def.meta.oracle === true,
      },
      workload: { name: this.input.workload.name, seed: cfg.seed },
      config: cfg,
      totalTimeNs: now + downtimeNs - start,
      downtimeNs,
      rounds: rows.length,
      syncs,
      switchover: switchover!,
      pagesSent,
      normalPagesSent: pagesSent - this.c[C_SENT_ZERO],
      zeroPagesSent: this.c[C_SENT_ZERO],
      bytesSent,
      uniquePagesSent: this.c[C_UNIQUE],
      resends: pagesSent - this.c[C_UNIQUE],
      necessaryResends: this.c[C_NECESSARY],
      redundantResends: pagesSent - this.c[C_UNIQUE] - this.c[C_NECESSARY],
      stopCopyPages,
      wastedSends: this.c[C_WASTED],
      guestWrites,
      guestReads,
      tracker: migrationPart(this.tracker.stats, warm, now + downtimeNs - start),
      profiling: profilingPart(warm, start),
      perRound: rows,
      missedUpdates: this.tracker.stats.missedUpdates,
      autoConverge: { enabled: cfg.autoConverge, throttlePct: throttle, steps },
      mismatchedFrames: mismatched,
      verified: mismatched === 0,
    };
  }

  /** Compares every frame's two copies; returns the mismatches (or throws, by default). */
  verify(): number {
    const fr = this.mem.frames;
    let bad = 0;
    const first: number[] = [];
    for (let p = 0; p < this.pages; p++) {
      if ((fr[p] & (F_SENT | F_MODIFIED)) !== F_SENT) {
        if (bad++ < 5) first.push(p);
      }
    }
    if (bad > 0 && this.cfg.verify === "error") {
      throw new PrecopyError(
        "verification",
        `verification failed: ${bad} frame(s) differ between source and destination ` +
          `(first: ${first.join(", ")}) — the tracker (${this.tracker.kind}) missed writes, ` +
          `so this run's numbers would be wrong`,
      );
    }
    return bad;
  }
}

/** Tracker costs from `warm` (the snapshot at migration start) to `end`. */
function migrationPart(
  end: TrackerStats,
  warm: TrackerStats,
  spanNs: number,
): TrackerStats & { slowdownPct: number } {
  const byCause: Record<string, number> = {};
  for (const [k, v] of Object.entries(end.exitsByCause)) {
    byCause[k] = v - (warm.exitsByCause[k] ?? 0);
  }
  const guest = end.guestOverheadNs - warm.guestOverheadNs;
  return {
    kind: end.kind,
    exits: end.exits - warm.exits,
    exitsByCause: byCause,
    guestOverheadNs: guest,
    hostCpuNs: end.hostCpuNs - warm.hostCpuNs,
    flushes: end.flushes - warm.flushes,
    scanEntries: end.scanEntries - warm.scanEntries,
    missedUpdates: end.missedUpdates - warm.missedUpdates,
    slowdownPct: spanNs > 0 ? 100 * guest / spanNs : 0,
  };
}

/** Tracker costs of the profiling period before migration. */
function profilingPart(warm: TrackerStats, spanNs: number): TrackerStats & { slowdownPct: number } {
  return { ...warm, slowdownPct: spanNs > 0 ? 100 * warm.guestOverheadNs / spanNs : 0 };
}

function resolveParamsMixed(
  policy: LoadedPolicy,
  given: Record<string, string | ParamValue>,
): Params {
  return resolveParams(policy, given); // checked against the policy's parameter schema
}

/**
 * Runs one pre-copy migration and returns its report.
 *
 * @param input workload, policy, parameters and configuration
 * @returns the report (only when the end-of-run verification passed)
 * @throws {PrecopyError} for a bad configuration, a malformed workload, a policy that
 * breaks the contract, or a failed verification
 *
 * @example Usage
 * ```ts
 * import { simulate } from "./engine.ts";
 * import { loadPolicy } from "../policy/loader.ts";
 * import { parseWorkload } from "../workloads/spec.ts";
 * import assert from "node:assert/strict";
 * const r = simulate({
 *   workload: parseWorkload("idle"),
 *   policy: await loadPolicy("sequential"),
 *   config: { pages: 1024 },
 * });
 * assert.equal(r.rounds, 1);
 * assert.equal(r.pagesSent, 1024);
 * assert.equal(r.resends, 0);
 * ```
 */
export function simulate(input: SimulationInput): RunReport {
  const m = new Migration(input);
  try {
    return m.run();
  } finally {
    m.stream.close?.();
    m.future?.close();
  }
}
