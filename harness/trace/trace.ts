/**
 * Trace files: the binary format (`.pctrace`, specified in `fixtures/TRACE_FORMAT.md`)
 * and the CSV and JSONL text forms. Each is read as a stream (one block or one 64 KiB
 * piece at a time) and exposed as a workload. A trace can be placed at a frame
 * offset inside a larger guest; the rest of memory is idle. Every malformed input is an
 * error naming the file and the byte offset (binary) or the line (text), never a partial
 * replay.
 *
 * This module gathers the trace room's public names; each concern has its own file:
 * `format.ts` (header, checksums, constants), `binary.ts` (binary reader), `writer.ts`,
 * `text.ts` (CSV and JSONL reader), `open.ts` (the kinds by file ending and the spec's
 * options), `replay.ts` (spread and looped replays) and `convert.ts` (import and export).
 *
 * @module
 */

export {
  BLOCK_EVENTS,
  RECORD_INTERVAL_NS,
  TRACE_COMPRESSED,
  TRACE_READS,
  TRACE_VCPU,
  type TraceHeader,
  type TraceWorkload,
} from "./format.ts";
export { readTraceHeader } from "./binary.ts";
export { TraceWriter } from "./writer.ts";
export {
  isTraceSpec,
  openTrace,
  splitTraceSpec,
  TRACE_KINDS,
  TRACE_OPTIONS,
  type TraceKind,
  type TraceOption,
  type TraceSpec,
} from "./open.ts";
export { LoopedTrace, SpreadTrace } from "./replay.ts";
export { exportTrace, importTrace } from "./convert.ts";
