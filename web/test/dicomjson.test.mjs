// DICOM JSON reading (dicomjson.js): what the PACS's QIDO-RS and WADO-RS metadata answer.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  defaultWindow,
  formatDate,
  instancePath,
  instanceSummary,
  metadataRows,
  number,
  numbers,
  renderedPath,
  seriesSummary,
  studySummary,
  tagOf,
  value,
  values,
  windowParameter,
} from "../src/js/dicomjson.js";
import { overlayCaption } from "../src/js/views/jobs.js";

const STUDY = {
  "00080020": { vr: "DA", Value: ["20040119"] },
  "00080030": { vr: "TM", Value: ["072730"] },
  "00080061": { vr: "CS", Value: ["CT", "SEG"] },
  "00081030": { vr: "LO", Value: ["e+1"] },
  "0020000D": { vr: "UI", Value: ["1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"] },
  "00201206": { vr: "IS", Value: [2] },
  "00201208": { vr: "IS", Value: [3] },
  "00080056": { vr: "CS", Value: ["ONLINE"] },
  "00080090": { vr: "PN" },
};

test("values are read by keyword or tag; absent, empty and null values are no values", () => {
  assert.equal(tagOf("StudyInstanceUID"), "0020000D");
  assert.equal(tagOf("(0020,000d)"), "0020000D");
  assert.throws(() => tagOf("NoSuchKeyword"), /unknown DICOM attribute/);
  assert.equal(value(STUDY, "StudyDescription"), "e+1");
  assert.equal(value(STUDY, "0008103E"), undefined);
  assert.deepEqual(values(STUDY, "ModalitiesInStudy"), ["CT", "SEG"]);
  assert.deepEqual(values(STUDY, "00080090"), []); // present without a Value
  assert.deepEqual(values({ "00280010": { vr: "US", Value: [null] } }, "Rows"), []);
  assert.deepEqual(values(undefined, "Rows"), []);
  assert.deepEqual(values({ "00081060": { vr: "PN", Value: [{ Alphabetic: "A^B" }] } }, "00081060"), ["A^B"]);
});

test("DS and IS come as numbers or strings; non-numbers are left out", () => {
  const ds = { "00281050": { vr: "DS", Value: ["40", 450.5, "abc"] }, "00200013": { vr: "IS", Value: [" 7 "] } };
  assert.deepEqual(numbers(ds, "WindowCenter"), [40, 450.5]);
  assert.equal(number(ds, "InstanceNumber"), 7);
  assert.equal(number(ds, "Rows"), undefined);
  assert.equal(number({ "00280010": { vr: "US", Value: ["x"] } }, "Rows"), undefined);
});

test("a study reads as description, date, modalities and counts, its UID kept apart", () => {
  const study = studySummary(STUDY);
  assert.equal(study.uid, "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322");
  assert.deepEqual(study.modalities, ["CT", "SEG"]);
  assert.equal(study.label, "e+1 · 2004-01-19 · CT/SEG · 2 series, 3 instances");
  assert.ok(!study.label.includes(study.uid));
  const bare = studySummary({ "0020000D": { vr: "UI", Value: ["1.2"] }, "00201206": { vr: "IS", Value: [1] }, "00201208": { vr: "IS", Value: [1] } });
  assert.equal(bare.label, "(no description) · 1 series, 1 instance");
});

test("series and instances read as what they are", () => {
  const series = seriesSummary({
    "0020000E": { vr: "UI", Value: ["1.2.3"] },
    "00080060": { vr: "CS", Value: ["SEG"] },
    "0008103E": { vr: "LO", Value: ["threshold mask"] },
    "00200011": { vr: "IS", Value: [1001] },
    "00201209": { vr: "IS", Value: [1] },
  });
  assert.deepEqual([series.uid, series.modality, series.label], ["1.2.3", "SEG", "#1001 SEG threshold mask (1 instance)"]);
  const instance = instanceSummary({
    "00080018": { vr: "UI", Value: ["1.2.3.4"] },
    "00200013": { vr: "IS", Value: [3] },
    "00280010": { vr: "US", Value: [64] },
    "00280011": { vr: "US", Value: [128] },
    "00280008": { vr: "IS", Value: [10] },
  });
  assert.deepEqual([instance.uid, instance.label], ["1.2.3.4", "instance 3 · 128×64 · 10 frames"]);
  assert.equal(instanceSummary({ "00080018": { vr: "UI", Value: ["9"] } }).label, "instance");
});

test("instance metadata: the technical rows in order and the file's first window", () => {
  const metadata = [
    {
      "00100010": { vr: "PN", Value: [{ Alphabetic: "Never^Shown" }] },
      "00080060": { vr: "CS", Value: ["CT"] },
      "00280010": { vr: "US", Value: [128] },
      "00280011": { vr: "US", Value: [128] },
      "00281050": { vr: "DS", Value: [450, 200] },
      "00281051": { vr: "DS", Value: [790, 443] },
      "7FE00010": { vr: "OW", BulkDataURI: "http://pacs/bulk" },
    },
  ];
  const rows = metadataRows(metadata);
  assert.deepEqual(rows.map(([k]) => k), ["Modality", "Rows", "Columns", "WindowCenter", "WindowWidth"]);
  assert.deepEqual(Object.fromEntries(rows).WindowCenter, [450, 200]);
  assert.ok(!JSON.stringify(rows).includes("Never"));
  assert.deepEqual(defaultWindow(metadata), { center: 450, width: 790 });
  assert.equal(defaultWindow([{}]), undefined);
});

test("dates, windows and PS3.18 paths", () => {
  assert.equal(formatDate("20040119"), "2004-01-19");
  assert.equal(formatDate("2004"), "2004");
  assert.equal(formatDate(undefined), "");
  assert.equal(windowParameter("40", "80"), "40,80");
  assert.equal(windowParameter(" -600 ", "1500.5"), "-600,1500.5");
  assert.equal(windowParameter("", "80"), "");
  assert.equal(windowParameter("abc", "80"), "");
  const ids = { study: "1.2", series: "3.4", instance: "5 6" };
  assert.equal(instancePath(ids, "/metadata"), "/studies/1.2/series/3.4/instances/5%206/metadata");
  assert.equal(renderedPath(ids), "/studies/1.2/series/3.4/instances/5%206/rendered");
  assert.equal(renderedPath(ids, { window: "40,80" }), "/studies/1.2/series/3.4/instances/5%206/rendered?window=40,80");
  assert.equal(renderedPath(ids, { frame: 3, window: "1,2" }), "/studies/1.2/series/3.4/instances/5%206/frames/3/rendered?window=1,2");
  assert.throws(() => renderedPath(ids, { frame: 0 }), /start at 1/);
});

test("the overlay says which source image the SEG's mask is drawn on", () => {
  const seg = { study_id: "1", series_id: "2", instance_id: "3", sop_class_uid: "1.2.840.10008.5.1.4.1.1.66.4" };
  assert.equal(overlayCaption({ scope: "image", series_id: "s", image_id: "i" }, seg), "the SEG's mask on source instance i");
  assert.equal(overlayCaption({ scope: "series", series_id: "s" }, null), "the mask on every instance of source series s (montage)");
  assert.equal(overlayCaption(undefined, undefined), "the mask on its source image");
});
