/**
 * The pre-copy engine: warm-up with profiling, rounds of sends ordered by the policy,
 * syncs, the switchover decision, stop-and-copy, and the end-of-run verification. A run
 * is a pure function of (workload, config, policy, seed).
 *
 * Time is simulated in integer nanoseconds of the workload's clock. Pages leave one after
 * another at `bandwidth`; the send that starts at time s captures the content every access
 * with t < s produced. `docs/model.md` describes the semantics pinned here.
 *
 * @module
 */

import { type ConfigInput, type MigrationConfig, resolveConfig } from "../config.ts";
import { PrecopyError } from "../errors.ts";
import { formatDuration } from "../units.ts";
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
  type RoundView,
} from "../policy/contract.ts";
import { policyError, resolveParams } from "../policy/loader.ts";
import { ContractBreach } from "../policy/sandbox_protocol.ts";
import {
  createTracker,
  type DirtyTracker,
  type TrackerCosts,
  type TrackerOptions,
  type TrackerStats,
} from "../trackers/tracker.ts";
import {
  type AccessChunk,
  type AccessStream,
  OP_WRITE,
  type Workload,
} from "../workloads/workload.ts";
import { checkAccounting } from "./accounting.ts";
import {
  checkFeasible,
  checkMaxEvents,
  DEFAULT_MAX_EVENTS,
  FIXED_EVENTS,
  overBudget,
} from "./budget.ts";
import { ClearPlan } from "./clearing.ts";
import { policyEnv } from "./policy_env.ts";
import { assembleReport, type RoundRow, type RunReport } from "./run_report.ts";
import {
  decideSwitchover,
  startAutoConverge,
  stepAutoConverge,
  type SwitchoverReason,
  switchoverRule,
  thresholdBytes,
} from "./switchover.ts";

// The engine's public names stay importable from here.
export type { ClearMode, ConfigInput, IterationRule, MigrationConfig } from "../config.ts";
export { DEFAULT_CONFIG, parseClear, resolveConfig } from "../config.ts";
export type { RoundRow, RunReport } from "./run_report.ts";
export type { SwitchoverReason } from "./switchover.ts";
export { DEFAULT_MAX_EVENTS, FIXED_EVENTS } from "./budget.ts";

/**
 * Progress of a long run: after each round, and at least once a second of wall time
 * within the warm-up and within rounds (when {@link SimulationInput.onProgress} is set).
 */
export interface Progress {
  /** `warm-up` (round 0), in a `round`, or at a `round-end` (after its sync). */
  phase: "warm-up" | "round" | "round-end";
  /** The round in progress or just finished (0 in the warm-up). */
  round: number;
  /** Frames pending (after the sync at a round's end). */
  pending: number;
  /** Sends so far. */
  pagesSent: number;
  /** Simulated ns since migration start (negative in the warm-up). */
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
  /** Called after every round, and at least once a second of wall time in between. */
  onProgress?: (p: Progress) => void;
  /**
   * The run's budget of events — accesses, sends and offered frames, plus
   * {@link FIXED_EVENTS} per profiling scan and per round — past which it ends with an
   * error (default {@link DEFAULT_MAX_EVENTS}; `Infinity`: none). It keeps a workload, link
   * or interval that would make a run astronomically long from running for hours.
   */
  maxEvents?: number;
  /**
   * Replaces the tracker named by `config.tracker` — for experiments with tracking
   * mechanisms (and for tests that need a broken one).
   */
  createTracker?: (
    memory: GuestMemory,
    costs: TrackerCosts,
    options: Required<TrackerOptions>,
  ) => DirtyTracker;
  /**
   * Step through every send and access one at a time, never in batches. Reports are
   * identical either way (tests compare the two); batches are only faster.
   */
  exact?: boolean;
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

/** A {@link BatchView} the engine refills for each batch. */
type MutableBatchView = { -readonly [K in keyof BatchView]: BatchView[K] };

/** What stop-and-copy did. */
interface StopAndCopy {
  /** Guest writes between migration start and pause. */
  guestWrites: number;
  /** Guest reads between migration start and pause. */
  guestReads: number;
  /** Frames sent while the guest was paused. */
  pages: number;
  /** Wire bytes of the whole run, device state included. */
  bytesSent: number;
  /** Final sync + last transfer + pause/resume, ns. */
  downtimeNs: number;
}

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
  /** When dirty state is reset, parsed once. */
  readonly clear: ClearPlan;
  readonly nsPerByte: number;
  readonly wirePage: number;
  /** One bit per frame: already in the order being checked (cleared per round). */
  readonly ordered: Uint32Array;
  /** Written since this round's sync; only kept for policies with a filter. */
  readonly roundDirty: Uint8Array | null;
  readonly roundDirtyList = new FrameList(1024);
  /** Offered frames the last round did not send, ascending: the next round's `carried`. */
  readonly carried = new FrameList(1024);

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
  /** Where the last round ended (set by {@link Migration.playRound}). */
  roundEndNs = -0;
  /** QEMU's iteration: the pending bytes that end a round early; −1 for `drain`. */
  readonly qemuThreshold: number;
  /** The next round's offer, when the last sync could list it (else it is collected). */
  nextOffered: Uint32Array | null = null;
  /** Send-time clears so far (their flushes are charged per 64). */
  sendClears = 0;
  /** Keeps the prefetch loads observable so the compiler cannot drop them. */
  prefetchSink = 0;
  nextScanNs = -0;
  scans = 0;
  /** Profiling scans whose host time exceeded the interval, and the longest scan's. */
  longScans = 0;
  longestScanNs = 0;
  /** The report's warnings, in the order first noticed (see {@link Migration.warn}). */
  readonly warnings: string[] = [];

  /** The run's budget of events (see {@link SimulationInput.maxEvents}). */
  readonly maxEvents: number;
  /** Events beside accesses and sends: offered frames, and fixed costs of scans and rounds. */
  otherEvents = 0;
  /** The round in progress (0: the warm-up; −1: stop-and-copy). */
  round = 0;
  /** When progress is next due, ms of wall time. */
  nextProgressMs = 0;

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
      throw new PrecopyError(
        "config",
        `workload '${w.name}' needs ${w.minPages} frames but the guest has only ${pages}`,
      );
    }
    this.nsPerByte = 1e9 / cfg.bandwidth;
    this.qemuThreshold = cfg.iteration === "qemu" ? thresholdBytes(cfg) : -1;
    this.wirePage = cfg.pageSize + cfg.pageHeader;
    this.maxEvents = checkMaxEvents(input.maxEvents ?? DEFAULT_MAX_EVENTS, "maxEvents");
    const zeroMap = w.zeroMap(pages, cfg.seed);
    let zeroFrames = 0;
    if (zeroMap !== null) {
      for (let p = 0; p < pages; p++) {
        zeroFrames += zeroMap[p] !== 0 ? 1 : 0;
      }
    }
    checkFeasible(cfg, zeroFrames, this.maxEvents);
    this.mem = new GuestMemory(pages, zeroMap);
    this.zeroPages = zeroFrames > 0;
    const options = { leafFrames: cfg.eptLeafFrames, flush: cfg.flush, vcpus: cfg.vcpus };
    this.tracker = input.createTracker
      ? input.createTracker(this.mem, cfg.trackerCosts, options)
      : createTracker(cfg.tracker, this.mem, cfg.trackerCosts, options);
    this.clear = new ClearPlan(cfg.clear, this.mem.frames, this.tracker);
    this.history = new UpdateHistory(pages, cfg.historyLength, cfg.profileIntervalNs);
    this.stream = w.open(pages, cfg.seed);
    this.ordered = new Uint32Array(Math.ceil(pages / 32));
    this.nextScanNs = cfg.profileIntervalNs;

    const pol = input.policy;
    // texts (`--param`) and typed values (library, study grids), held to the schema
    this.params = resolveParams(pol, input.params ?? {});
    const { env, future } = policyEnv(
      pol.definition.meta.oracle === true,
      w,
      cfg,
      this.history,
      (t) => this.workloadTime(t),
    );
    this.future = future;
    this.policy = this.guard("create()", () => pol.definition.create(this.params, env));
    if (!this.policy || typeof this.policy.order !== "function") {
      throw policyError(pol, "create() must return an object with an order(round) method");
    }
    // Shared memory: a sandboxed policy's filter reads it from its worker without a copy.
    this.roundDirty = typeof this.policy.filter === "function"
      ? new Uint8Array(new SharedArrayBuffer(pages))
      : null;
    this.batching = !input.exact && this.tracker.perFrame === true && !this.clear.byChunk;
    if (input.onProgress) this.nextProgressMs = performance.now() + 1000;
  }

  guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof PrecopyError && e.kind !== "policy") throw e;
      // The sandbox's own check of a result: reported as the engine's checks are.
      if (e instanceof ContractBreach) throw policyError(this.input.policy, e.message);
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
    this.pulse();
    return true;
  }

  /**
   * The run's heartbeat, per chunk of accesses, scan, round and 64 Ki sends: ends a run
   * past its budget, and reports progress once a second of wall time.
   */
  pulse(): void {
    const events = this.accessIndex + this.chunkLen + this.c[C_SENT] + this.otherEvents;
    if (events > this.maxEvents) {
      throw overBudget(
        this.maxEvents,
        this.round === 0 ? "the warm-up" : this.round < 0 ? "stop-and-copy" : `round ${this.round}`,
      );
    }
    const report = this.input.onProgress;
    if (report !== undefined && this.round >= 0) { // (stop-and-copy is reported as done)
      const nowMs = performance.now();
      if (nowMs >= this.nextProgressMs) {
        this.nextProgressMs = nowMs + 1000;
        this.progress(this.round === 0 ? "warm-up" : "round");
      }
    }
  }

  /** Reports progress (when asked for). */
  progress(phase: Progress["phase"]): void {
    const start = this.cfg.startNs;
    const at = phase === "warm-up"
      ? this.nextScanNs - this.cfg.profileIntervalNs // the last scan
      : Math.max(this.batchNow, this.until); // the last point the accesses were applied to
    this.input.onProgress?.({
      phase,
      round: this.round,
      pending: this.pending(),
      pagesSent: this.pagesSent(),
      elapsedNs: (phase === "round-end" ? this.roundEndNs : at) - start,
    });
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

  /**
   * Adds a warning to the report, once (a repeated message is dropped). Texts are
   * deterministic: no wall time, no paths beyond the spec.
   */
  warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  scan(): void {
    const nowNs = this.nextScanNs;
    const hostBefore = this.tracker.stats.hostCpuNs;
    const r = this.tracker.profile();
    const cost = this.tracker.stats.hostCpuNs - hostBefore;
    if (cost > this.cfg.profileIntervalNs) this.longScans++;
    if (cost > this.longestScanNs) this.longestScanNs = cost;
    this.history.record(r.written, r.accessed);
    this.scans++;
    this.otherEvents += FIXED_EVENTS;
    this.nextScanNs += this.cfg.profileIntervalNs;
    this.pulse();
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
    const fr = this.mem.frames, newly = r.newly, plan = this.clear;
    const chunkDirty = plan.byChunk ? plan.chunkDirty : null, chunk = plan.chunk;
    // With nothing left pending, the frames marked here are the next round's offer: listed
    // as they pass by (a dense sync's come ascending; a short list is sorted, cheaper than
    // collecting the offer from every frame).
    const list = offer && this.pending() === 0 ? new Uint32Array(newly.length) : null;
    const seen = chunkDirty !== null ? F_SEEN : 0;
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
      if (chunkDirty !== null) chunkDirty[Math.floor(p / chunk)] = 1;
    }
    this.c[C_MARKED] += marked;
    this.c[C_PENDING_ZERO] += zero;
    if (list !== null && !ascending) list.sort();
    this.nextOffered = list;
    plan.afterSync();
    const rd = this.roundDirty;
    if (rd !== null) {
      const l = this.roundDirtyList;
      for (let i = 0; i < l.length; i++) rd[l.buf[i]] = 0;
      l.reset();
    }
    return [r.logged, Math.round(r.costNs)];
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

  /**
   * Lists the offered frames the round left unsent (deferred, or QEMU's tail carried over
   * at the re-sync): still pending before the sync marks the newly dirty. Ascending, as
   * `offered` is.
   */
  listCarried(offered: Uint32Array, sent: number): void {
    const l = this.carried, fr = this.mem.frames;
    l.reset();
    if (sent >= offered.length) return;
    for (let i = 0; i < offered.length; i++) {
      if ((fr[offered[i]] & F_PENDING) !== 0) l.push(offered[i]);
    }
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
    const plan = this.clear, clearSend = plan.atSend, clearChunk = plan.byChunk;
    const total = order.length;
    let segBytes = -0, lastSent = -1, nextCheck = now + maxWait, prefetchAt = 0, pulseAt = 0;
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
      if (k >= pulseAt) { // budget and progress, every 64 Ki sends
        pulseAt = k + 65536;
        this.pulse();
      }
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
      if (clearSend) {
        tracker.clear(p);
        // Clearing at each send is an idealisation; its invalidations are charged as
        // KVM_CLEAR_DIRTY_LOG would do them, once per 64-frame word.
        if ((++this.sendClears & 63) === 0) tracker.flush();
      } else if (clearChunk) plan.clearChunkOf(p);
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
    const maxWait = this.cfg.qemuMaxWaitNs, clearSend = this.clear.atSend;
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
    const c = this.c, vcpus = this.cfg.vcpus;
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

  /**
   * One migration: warm-up → setup → rounds → stop-and-copy → verify, then the report.
   */
  run(): RunReport {
    const cfg = this.cfg, start = cfg.startNs;
    const warm = this.warmUp();
    let now = start + this.setup();
    let syncs = 1;

    // Rounds, until the switchover rule pauses the guest.
    const rule = switchoverRule(cfg);
    let converge = startAutoConverge(now);
    const rows: RoundRow[] = [];
    let switchover: SwitchoverReason | null = null;
    const batch: MutableBatchView = {
      round: 0,
      nowNs: 0,
      frames: new Uint32Array(0),
      keep: new Uint8Array(BATCH),
      dirtied: this.roundDirty ?? new Uint8Array(0),
    };
    const w = this.input.workload;
    const endedBefore = w.endNs < this.workloadTime(start);
    if (endedBefore) {
      this.warn(
        `workload '${w.name}' ends at ${formatDuration(w.endNs)}, before the migration starts ` +
          `at ${formatDuration(start)}: the guest is idle throughout the migration`,
      );
    }
    for (let round = 1; switchover === null; round++) {
      const row = this.playRound(round, now, batch);
      now = this.roundEndNs;
      if (round === 1 && !endedBefore && w.endNs < this.workloadTime(now)) {
        this.warn(
          `workload '${w.name}' ends at ${formatDuration(w.endNs)} of its own time, before ` +
            `round 1 ends: the guest is idle for the rest of the migration`,
        );
      }
      syncs++;
      rows.push(row);
      if (cfg.autoConverge) {
        const steps = converge.steps;
        converge = stepAutoConverge(converge, row.dirtyAtSync * cfg.pageSize, row.bytes, now);
        if (converge.steps !== steps) this.setSpeed(1 - converge.throttlePct / 100, now);
      }
      switchover = decideSwitchover(rule, {
        round,
        pending: this.pending(),
        pendingWireBytes: this.pendingWireBytes(),
        pagesSent: this.pagesSent(),
      });
      this.progress("round-end");
    }

    this.round = -1;
    const stop = this.stopAndCopy(now);
    syncs++;
    const mismatched = this.verify();
    const end = this.tracker.stats, totalTimeNs = now + stop.downtimeNs - start;
    this.checkTracking(warm, end, totalTimeNs);
    return assembleReport(this.input.policy, this.params, this.input.workload.name, cfg, {
      totalTimeNs,
      downtimeNs: stop.downtimeNs,
      perRound: rows,
      syncs,
      switchover: switchover!,
      pagesSent: this.pagesSent(),
      zeroPagesSent: this.c[C_SENT_ZERO],
      bytesSent: stop.bytesSent,
      uniquePagesSent: this.c[C_UNIQUE],
      necessaryResends: this.c[C_NECESSARY],
      stopCopyPages: stop.pages,
      wastedSends: this.c[C_WASTED],
      guestWrites: stop.guestWrites,
      guestReads: stop.guestReads,
      trackerAtStart: warm,
      trackerAtEnd: end,
      throttlePct: converge.throttlePct,
      throttleSteps: converge.steps,
      mismatchedFrames: mismatched,
      zeroPages: this.zeroPages,
      warnings: this.warnings,
    });
  }

  /**
   * Warns where tracking could not keep up on a real host: profiling scans that take
   * longer than their interval (the next would be due before one ends), and tracking that
   * needs more than one host CPU, before or during the migration.
   */
  checkTracking(warm: TrackerStats, end: TrackerStats, migrationNs: number): void {
    const cfg = this.cfg, kind = this.tracker.kind;
    if (this.longScans > 0) {
      this.warn(
        `profiling: ${this.longScans} of ${this.scans} ${kind} scans took more host time ` +
          `than the ${formatDuration(cfg.profileIntervalNs)} interval (the longest ` +
          `${formatDuration(this.longestScanNs)}): a real profiler would fall behind`,
      );
    }
    const cpus = (what: string, hostNs: number, spanNs: number) => {
      if (spanNs > 0 && hostNs > spanNs) {
        this.warn(
          `tracking: ${kind} used ${(hostNs / spanNs).toFixed(2)} host CPUs ${what} ` +
            `(${formatDuration(hostNs)} of host time in ${formatDuration(spanNs)}), more than one`,
        );
      }
    };
    cpus("before the migration", warm.hostCpuNs, cfg.startNs);
    cpus("during the migration", end.hostCpuNs - warm.hostCpuNs, migrationNs);
  }

  /**
   * Warm-up: the guest runs and the profiler builds history until migration starts.
   * Returns the tracker's totals at that moment (the profiling's share of its costs).
   */
  warmUp(): TrackerStats {
    this.advance(this.cfg.startNs);
    this.writesAtStart = this.c[C_WRITES];
    this.readsAtStart = this.c[C_READS];
    return this.tracker.stats;
  }

  /**
   * Setup: logging starts with a sync whose result is discarded; every frame is pending.
   * Returns the setup's host time, ns.
   */
  setup(): number {
    const pages = this.pages, fr = this.mem.frames;
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
    this.clear.setup();
    return setupCost;
  }

  /**
   * One pre-copy round from `now`: the offer, the policy's order, the sends (with the
   * policy's filter per batch, if it has one) and the closing sync. Its end goes to
   * `roundEndNs`; returns its row.
   */
  playRound(round: number, now: number, batch: MutableBatchView): RoundRow {
    const policy = this.policy, keep = batch.keep;
    const offered = this.collectPending();
    this.round = round;
    this.otherEvents += FIXED_EVENTS + offered.length;
    this.pulse();
    const roundStart = now;
    const sentBefore = this.pagesSent();
    const bytesBefore = this.bytesSent();
    const view: RoundView = {
      index: round,
      nowNs: now,
      offered,
      carried: this.carried.view(),
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
    const { segBytes, lastSent } = this.drive(order, now, this.qemuThreshold, filter);
    this.listCarried(offered, this.pagesSent() - sentBefore);
    now += Math.round(segBytes * this.nsPerByte);
    this.advance(now);
    const [dirtyAtSync, syncCost] = this.sync();
    this.absorbStall();
    const sent = this.pagesSent() - sentBefore;
    const sendEnd = now;
    now += syncCost;
    const row: RoundRow = {
      round,
      startNs: roundStart - this.cfg.startNs,
      durationNs: now - roundStart,
      offered: offered.length,
      sent,
      deferred: offered.length - sent,
      dirtyAtSync,
      bytes: this.bytesSent() - bytesBefore,
    };
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
    this.roundEndNs = now;
    return row;
  }

  /**
   * Stop-and-copy at `now`: the guest pauses; a final sync; everything pending goes out,
   * ascending as in QEMU's last pass, then the device state.
   */
  stopAndCopy(now: number): StopAndCopy {
    const cfg = this.cfg;
    this.advance(now);
    const guestWrites = this.c[C_WRITES] - this.writesAtStart;
    const guestReads = this.c[C_READS] - this.readsAtStart;
    const [, finalCost] = this.sync();
    const bytesBefore = this.bytesSent();
    const rest = this.collectPending();
    for (let i = 0; i < rest.length; i++) this.send(rest[i]);
    const bytesSent = this.bytesSent() + cfg.deviceState;
    const transferNs = Math.round((bytesSent - bytesBefore) * this.nsPerByte);
    const downtimeNs = finalCost + transferNs + Math.round(cfg.pauseResumeNs);
    return { guestWrites, guestReads, pages: rest.length, bytesSent, downtimeNs };
  }

  /** Compares every frame's two copies; returns the mismatches (or throws, by default). */
  verify(): number {
    const fr = this.mem.frames;
    let bad = 0, unsent = 0;
    const first: number[] = [];
    for (let p = 0; p < this.pages; p++) {
      const f = fr[p];
      if ((f & (F_SENT | F_MODIFIED)) !== F_SENT) {
        if (bad++ < 5) first.push(p);
        if ((f & F_SENT) === 0) unsent++;
      }
    }
    if (bad > 0 && this.cfg.verify === "error") {
      // A frame never sent was lost by the engine; a frame written after its last send and
      // never sent again is a write the tracker did not report.
      const stale = bad - unsent, missed = this.tracker.stats.missedUpdates;
      const why = [
        stale > 0
          ? `${stale} hold a stale copy: the tracker (${this.tracker.kind}) missed writes (${
            missed > 0
              ? `${missed} counted as missed updates — clears without a flush${
                this.cfg.flush ? "" : " (--no-flush; --count-missed reports them instead)"
              }`
              : "none counted: it dropped them without knowing"
          })`
          : "",
        unsent > 0 ? `${unsent} were never sent: the engine lost them (a bug in precopy-lab)` : "",
      ].filter(Boolean).join("; ");
      throw new PrecopyError(
        "verification",
        `verification failed: ${bad} frame(s) differ between source and destination ` +
          `(first: ${first.join(", ")}); ${why}, so this run's numbers would be wrong`,
      );
    }
    return bad;
  }
}

/**
 * Runs one pre-copy migration and returns its report.
 *
 * @param input workload, policy, parameters and configuration
 * @returns the report (only when the end-of-run verification passed and its accounting
 * identities hold: see `accountingFailures`)
 * @throws {PrecopyError} for a bad configuration, a malformed workload, a policy that
 * breaks the contract, a failed verification or accounting check
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
    const report = m.run();
    checkAccounting(report);
    return report;
  } finally {
    m.stream.close?.();
    m.future?.close();
  }
}
