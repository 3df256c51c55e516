import assert from "node:assert/strict";
import {
  formatDuration,
  parseBandwidth,
  parseCount,
  parseDuration,
  parseInteger,
  parseShare,
  parseSize,
} from "./units.ts";

Deno.test("parseSize() reads binary and decimal units", () => {
  assert.equal(parseSize("4096", "x"), 4096);
  assert.equal(parseSize("512MiB", "x"), 512 * 2 ** 20);
  assert.equal(parseSize("64GiB", "x"), 64 * 2 ** 30);
  assert.equal(parseSize("1.5KB", "x"), 1500);
  assert.throws(() => parseSize("12 parsecs", "--memory"), /--memory: '12 parsecs' is not a size/);
  assert.throws(() => parseSize("0.5", "--memory"), /whole number of bytes/);
});

Deno.test("parseBandwidth() reads bytes and bits per second", () => {
  assert.equal(parseBandwidth("125MB/s", "b"), 125e6);
  assert.equal(parseBandwidth("10Gbit/s", "b"), 1.25e9);
  assert.equal(parseBandwidth("100Mbps", "b"), 12.5e6);
  assert.equal(parseBandwidth("128MiB/s", "b"), 128 * 2 ** 20);
  assert.throws(() => parseBandwidth("10G", "--bandwidth"), /--bandwidth: '10G' is not a rate/);
  assert.throws(() => parseBandwidth("0MB/s", "--bandwidth"), /greater than zero/);
});

Deno.test("parseDuration() needs a unit and returns integer ns", () => {
  assert.equal(parseDuration("300ms", "t"), 300e6);
  assert.equal(parseDuration("1.5s", "t"), 1.5e9);
  assert.equal(parseDuration("20us", "t"), 20e3);
  assert.throws(
    () => parseDuration("300", "--downtime-limit"),
    /--downtime-limit: '300' is not a duration/,
  );
});

Deno.test("parseCount(), parseInteger() and parseShare() check their ranges", () => {
  assert.equal(parseCount("200k", "rate"), 200e3);
  assert.equal(parseCount("2M", "rate"), 2e6);
  assert.equal(parseInteger("30", "--max-rounds", 1, 100), 30);
  assert.throws(() => parseInteger("0", "--max-rounds", 1, 100), /from 1 to 100/);
  assert.throws(() => parseInteger("2.5", "--seed", 0, 9), /whole number/);
  assert.equal(parseShare("5%", "hot"), 0.05);
  assert.equal(parseShare("0.25", "hot"), 0.25);
  assert.throws(() => parseShare("150%", "hot"), /between 0% and 100%/);
});

Deno.test("formatDuration() picks a readable unit", () => {
  assert.equal(formatDuration(812), "812 ns");
  assert.equal(formatDuration(1_250_000_000), "1.250 s");
});
