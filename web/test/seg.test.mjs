// SEG decoding (seg.js): frames per source instance, multipart bodies, packed bits, RGBA.
import assert from "node:assert/strict";
import { test } from "node:test";

import { boundaryOf, frameMask, framesOf, maskRgba, multipartBodies, segFrames } from "../src/js/seg.js";

const sq = (...datasets) => ({ vr: "SQ", Value: datasets });
const ui = (uid) => ({ vr: "UI", Value: [uid] });

function perFrame(source, segment) {
  return {
    "00089124": sq({ "00082112": sq({ "00081150": ui("1.2.840.10008.5.1.4.1.1.2"), "00081155": ui(source) }) }),
    "0062000A": sq({ "0062000B": { vr: "US", Value: [segment] } }),
  };
}

const SEG = [
  {
    "00280010": { vr: "US", Value: [2] },
    "00280011": { vr: "US", Value: [5] },
    "00280100": { vr: "US", Value: [1] },
    "00620001": { vr: "CS", Value: ["BINARY"] },
    "52009230": sq(perFrame("src-a", 1), perFrame("src-b", 1), perFrame("src-a", 2)),
  },
];

test("SEG frames are found by the source instance their derivation names", () => {
  const geometry = segFrames(SEG);
  assert.deepEqual([geometry.rows, geometry.columns, geometry.bitsAllocated, geometry.type], [2, 5, 1, "BINARY"]);
  assert.deepEqual(geometry.frames.map((f) => [f.frame, f.sources, f.segment]), [
    [1, ["src-a"], 1],
    [2, ["src-b"], 1],
    [3, ["src-a"], 2],
  ]);
  assert.deepEqual(framesOf(geometry, "src-a"), [1, 3]);
  assert.deepEqual(framesOf(geometry, "src-c"), []);
  assert.deepEqual(framesOf(segFrames([{ "52009230": sq({}) }]), "anything"), [1]);
});

test("multipart/related bodies come back byte for byte, binary included", () => {
  assert.equal(boundaryOf('multipart/related; type="application/octet-stream"; boundary=abc123'), "abc123");
  assert.equal(boundaryOf('multipart/related; boundary="q r"'), "q r");
  assert.throws(() => boundaryOf("application/json"), /not a multipart/);
  const enc = new TextEncoder();
  const one = new Uint8Array([0x0d, 0x0a, 0x2d, 0x2d, 0xff, 0x00]);
  const two = new Uint8Array([7]);
  const header = "Content-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1\r\n\r\n";
  const body = new Uint8Array([
    ...enc.encode(`--b\r\n${header}`), ...one, ...enc.encode(`\r\n--b\r\n${header}`), ...two, ...enc.encode("\r\n--b--\r\n"),
  ]);
  assert.deepEqual(multipartBodies(body, "b").map((b) => [...b]), [[...one], [...two]]);
  assert.throws(() => multipartBodies(enc.encode(`--b\r\n${header}xyz`), "b"), /cut short/);
});

test("BINARY frames are packed least significant bit first; FRACTIONAL ones are bytes", () => {
  // 2 x 5 = 10 pixels: 1000110000 -> byte 0 bits 0,4,5 set = 0b00110001, byte 1 = 0
  const mask = frameMask(new Uint8Array([0b00110001, 0b00000010]), { rows: 2, columns: 5, bitsAllocated: 1 });
  assert.deepEqual([...mask], [1, 0, 0, 0, 1, 1, 0, 0, 0, 1]);
  const fractional = frameMask(new Uint8Array([0, 255, 3, 0]), { rows: 2, columns: 2, bitsAllocated: 8 });
  assert.deepEqual([...fractional], [0, 1, 1, 0]);
});

test("masks become one RGBA layer: coloured where any mask is set, transparent elsewhere", () => {
  const { rgba, set } = maskRgba([new Uint8Array([1, 0, 0]), new Uint8Array([0, 0, 1])], 3, [1, 2, 3, 4]);
  assert.equal(set, 2);
  assert.deepEqual([...rgba], [1, 2, 3, 4, 0, 0, 0, 0, 1, 2, 3, 4]);
});
