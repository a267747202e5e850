// A DICOM Segmentation drawn on its source image in the browser: which SEG frames belong to a
// source instance (the SEG's per-frame DerivationImageSequence), the frames themselves from
// WADO-RS `.../frames/{list}` (multipart/related, native pixels; BINARY frames 1 bit per pixel,
// packed least significant bit first; FRACTIONAL one byte), and the mask as RGBA. Pure: no DOM.
import { number, value, values } from "./dicomjson.js";

const PER_FRAME_GROUPS = "52009230";
const DERIVATION_IMAGE = "00089124";
const SOURCE_IMAGE = "00082112";
const REFERENCED_SOP_INSTANCE = "00081155";
const SEGMENT_IDENTIFICATION = "0062000A";
const REFERENCED_SEGMENT_NUMBER = "0062000B";

const items = (dataset, tag) => (Array.isArray(dataset?.[tag]?.Value) ? dataset[tag].Value : []);

/** The SEG's geometry and, per frame (1-based), the source SOP instances and segment number. */
export function segFrames(metadata) {
  const seg = Array.isArray(metadata) ? metadata[0] : metadata;
  const frames = items(seg, PER_FRAME_GROUPS).map((group, index) => ({
    frame: index + 1,
    sources: items(group, DERIVATION_IMAGE).flatMap((derivation) =>
      items(derivation, SOURCE_IMAGE).flatMap((source) => values(source, REFERENCED_SOP_INSTANCE)),
    ),
    segment: items(group, SEGMENT_IDENTIFICATION).flatMap((s) => values(s, REFERENCED_SEGMENT_NUMBER))[0],
  }));
  return {
    rows: number(seg, "Rows"),
    columns: number(seg, "Columns"),
    bitsAllocated: number(seg, "BitsAllocated") ?? 1,
    type: value(seg, "SegmentationType") ?? "BINARY",
    frames,
  };
}

/** The 1-based frames of the SEG drawn on `sourceUid` (a single-frame SEG without references: frame 1). */
export function framesOf(geometry, sourceUid) {
  const referenced = geometry.frames.filter((f) => f.sources.includes(sourceUid)).map((f) => f.frame);
  if (referenced.length) return referenced;
  return geometry.frames.length <= 1 && geometry.frames.every((f) => !f.sources.length) ? [1] : [];
}

/** The boundary of a `multipart/related; ...; boundary=...` content type. */
export function boundaryOf(contentType) {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType || "");
  if (!match) throw new Error(`not a multipart answer: ${contentType}`);
  return match[1] || match[2];
}

function indexOf(bytes, pattern, from) {
  outer: for (let i = from; i <= bytes.length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

/** The bodies of a multipart/related answer, in order (headers dropped). */
export function multipartBodies(bytes, boundary) {
  const encode = (text) => new TextEncoder().encode(text);
  const delimiter = encode(`--${boundary}`);
  const headerEnd = encode("\r\n\r\n");
  const bodies = [];
  let at = indexOf(bytes, delimiter, 0);
  while (at >= 0) {
    const afterDelimiter = at + delimiter.length;
    if (bytes[afterDelimiter] === 0x2d && bytes[afterDelimiter + 1] === 0x2d) break; // closing "--"
    const start = indexOf(bytes, headerEnd, afterDelimiter);
    if (start < 0) break;
    const next = indexOf(bytes, encode(`\r\n--${boundary}`), start + 4);
    if (next < 0) throw new Error("multipart answer cut short");
    bodies.push(bytes.subarray(start + 4, next));
    at = next + 2;
  }
  return bodies;
}

/** One frame's pixels as a 0/1 mask of rows*columns (BINARY: packed bits, LSB first). */
export function frameMask(body, { rows, columns, bitsAllocated }) {
  const count = rows * columns;
  const mask = new Uint8Array(count);
  if (bitsAllocated === 1) {
    for (let i = 0; i < count; i++) mask[i] = (body[i >> 3] >> (i & 7)) & 1;
  } else {
    for (let i = 0; i < count; i++) mask[i] = body[i] > 0 ? 1 : 0;
  }
  return mask;
}

/** The union of masks as RGBA: `colour` ([r, g, b, a]) where set, transparent elsewhere. */
export function maskRgba(masks, count, colour = [255, 40, 40, 140]) {
  const rgba = new Uint8ClampedArray(count * 4);
  let set = 0;
  for (let i = 0; i < count; i++) {
    if (!masks.some((mask) => mask[i])) continue;
    rgba.set(colour, i * 4);
    set++;
  }
  return { rgba, set };
}
