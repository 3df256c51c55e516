/**
 * The sandbox's shared-memory layout, one source for the host (`sandbox.ts`) and the
 * worker (`sandbox_worker.ts`). `ctrl` is an Int32Array of {@link CTRL_SLOTS} slots, `num`
 * a Float64Array of {@link NUM_SLOTS} (a call's numbers), `data` a byte buffer sized once
 * per instance for the largest transfer (a round's offer, an order, a scan's lists, the
 * oracle's per-frame times).
 *
 * @module
 */

/** Int32 slots of the control block. */
export const CTRL_SLOTS = 16;
/** Scans packed into one call at most (each pays no round trip of its own). */
export const MAX_PACKED_SCANS = 64;
/** Where the packed scans' descriptions start in `num`. */
export const SCAN_META = 16;
/** Numbers per packed scan: written count, accessed count, index, nowNs, dropped before, flags. */
export const SCAN_STRIDE = 6;
/** Float64 slots for a call's numbers and its packed scans' descriptions. */
export const NUM_SLOTS = SCAN_META + SCAN_STRIDE * MAX_PACKED_SCANS;
/**
 * Where packed scans' frame lists start in `data` (bytes): below it, a batch's frames and
 * keep map (at most 2048 entries).
 */
export const SCAN_BASE = 8192;

/** Call sequence number; the worker waits for it to change. */
export const C_REQ = 0;
/** Reply status (R_*); the host waits for it to leave 0. */
export const C_REPLY = 1;
/** The call's operation (OP_*), or a callback's (CB_*). */
export const C_OP = 2;
/** A length: entries in `data` (or error text bytes). */
export const C_LEN = 3;
/** A second length. */
export const C_LEN2 = 4;
/** Set by the host when a callback's answer is in `data`. */
export const C_CB = 5;
/** The kind of an order reply (K_*), or a create's hook flags. */
export const C_KIND = 6;
/** Scans packed into this call, to be taken in before its operation. */
export const C_SCANS = 7;

/** order(round) */
export const OP_ORDER = 1;
/** filter(batch) */
export const OP_FILTER = 2;
/** nothing but the packed scans */
export const OP_SCANS = 3;
/** onRoundEnd(stats) */
export const OP_ROUND_END = 4;

/** env.future.lastWrites(from, to) */
export const CB_LAST_WRITES = 1;
/** env.rates */
export const CB_RATES = 2;

/** Done. */
export const R_DONE = 1;
/** Failed: the message is UTF-8 in `data`, C_LEN bytes. */
export const R_ERROR = 2;
/** The worker asks a callback (C_OP) and waits for C_CB. */
export const R_CALLBACK = 3;
/** The worker is ending (Deno.exit, process.exit, close). */
export const R_DEAD = 4;

/** order() returned a Uint32Array (or the offer itself): C_LEN entries in the order area. */
export const K_UINT32 = 1;
/** order() returned a number[]: C_LEN doubles in `data`. */
export const K_ARRAY = 2;
/** order() returned another array-like of numbers: C_LEN doubles in `data`. */
export const K_FLOAT = 3;
/** order() returned something that is not an array. */
export const K_NOT_ARRAY = 4;

/** Number slots, by position (meaning depends on the call). */
export const N_A = 0;
/** Second number slot. */
export const N_B = 1;
/** Third number slot. */
export const N_C = 2;
/** Fourth number slot. */
export const N_D = 3;
/** Fifth number slot. */
export const N_E = 4;
/** Sixth number slot. */
export const N_F = 5;
/** Seventh number slot (and the eighth after it). */
export const N_G = 6;

/**
 * Starts an error reply that is a breach of the policy contract found by the worker's
 * checks (an order longer than the offer, an entry that is not a number), not something
 * the policy threw: the host reports it as the engine reports its own checks.
 */
export const CONTRACT_MARK = "\u0001";

/**
 * A result of a policy's hook that breaks the contract, found while passing it on: the
 * engine reports it as `round N: order() returned …`, not as an exception the policy threw.
 *
 * @example Usage
 * ```ts
 * import { ContractBreach } from "./sandbox_protocol.ts";
 * import assert from "node:assert/strict";
 * const e = new ContractBreach("round 1: order() returned 9 entries, more than the 8 frames offered");
 * assert.ok(e instanceof Error);
 * ```
 */
export class ContractBreach extends Error {}
