// Reading DICOM JSON (PS3.18 F.2) as the PACS's QIDO-RS and WADO-RS metadata answer it:
// `{"0020000D": {"vr": "UI", "Value": ["1.2.3"]}, ...}`. Pure functions, no DOM: the views ask
// for plain summaries and never touch tags themselves. Patient attributes are never read here
// (the gateway strips the patient-access header from browser callers: the PACS leaves them out).

export const TAGS = Object.freeze({
  SOPClassUID: "00080016",
  SOPInstanceUID: "00080018",
  StudyDate: "00080020",
  SeriesDate: "00080021",
  StudyTime: "00080030",
  Modality: "00080060",
  ModalitiesInStudy: "00080061",
  StudyDescription: "00081030",
  SeriesDescription: "0008103E",
  BodyPartExamined: "00180015",
  SliceThickness: "00180050",
  StudyInstanceUID: "0020000D",
  SeriesInstanceUID: "0020000E",
  StudyID: "00200010",
  SeriesNumber: "00200011",
  InstanceNumber: "00200013",
  NumberOfStudyRelatedSeries: "00201206",
  NumberOfStudyRelatedInstances: "00201208",
  NumberOfSeriesRelatedInstances: "00201209",
  SamplesPerPixel: "00280002",
  PhotometricInterpretation: "00280004",
  NumberOfFrames: "00280008",
  Rows: "00280010",
  Columns: "00280011",
  PixelSpacing: "00280030",
  BitsAllocated: "00280100",
  BitsStored: "00280101",
  PixelRepresentation: "00280103",
  WindowCenter: "00281050",
  WindowWidth: "00281051",
  RescaleIntercept: "00281052",
  RescaleSlope: "00281053",
  TransferSyntaxUID: "00020010",
  AvailableTransferSyntaxUID: "00083002",
  SegmentationType: "00620001",
});

/** A keyword or an 8-hex-digit tag as the 8-digit upper-case key DICOM JSON uses. */
export function tagOf(name) {
  if (Object.hasOwn(TAGS, name)) return TAGS[name];
  const tag = String(name).replace(/[(),\s]/g, "").toUpperCase();
  if (!/^[0-9A-F]{8}$/.test(tag)) throw new Error(`unknown DICOM attribute ${name}`);
  return tag;
}

/** Every value of an attribute ([] when absent or empty); PN values as their alphabetic form. */
export function values(dataset, name) {
  const element = dataset?.[tagOf(name)];
  if (!element || !Array.isArray(element.Value)) return [];
  return element.Value.map((v) => (v && typeof v === "object" && "Alphabetic" in v ? v.Alphabetic : v)).filter(
    (v) => v !== null && v !== undefined && v !== "",
  );
}

/** The first value of an attribute, or undefined. */
export function value(dataset, name) {
  return values(dataset, name)[0];
}

/** A number value: DS and IS may come as numbers or as strings; undefined when not a number. */
export function number(dataset, name) {
  const v = value(dataset, name);
  if (v === undefined) return undefined;
  const n = typeof v === "number" ? v : Number(String(v).trim());
  return Number.isFinite(n) ? n : undefined;
}

export function numbers(dataset, name) {
  return values(dataset, name)
    .map((v) => (typeof v === "number" ? v : Number(String(v).trim())))
    .filter(Number.isFinite);
}

/** DA "20040119" as "2004-01-19" (anything else as it is). */
export function formatDate(da) {
  if (typeof da !== "string") return da === undefined ? "" : String(da);
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  return match ? `${match[1]}-${match[2]}-${match[3]}` : da;
}

function plural(count, word) {
  if (count === undefined) return "";
  return `${count} ${word}${count === 1 || word.endsWith("s") ? "" : "s"}`;
}

/** A QIDO-RS study as the list shows it. */
export function studySummary(dataset) {
  const study = {
    uid: value(dataset, "StudyInstanceUID"),
    description: value(dataset, "StudyDescription") ?? "",
    date: formatDate(value(dataset, "StudyDate")),
    modalities: values(dataset, "ModalitiesInStudy"),
    series: number(dataset, "NumberOfStudyRelatedSeries"),
    instances: number(dataset, "NumberOfStudyRelatedInstances"),
  };
  study.label = [
    study.description || "(no description)",
    study.date,
    study.modalities.join("/"),
    [plural(study.series, "series"), plural(study.instances, "instance")]
      .filter(Boolean)
      .join(", "),
  ]
    .filter(Boolean)
    .join(" · ");
  return study;
}

/** A QIDO-RS series as the list shows it. */
export function seriesSummary(dataset) {
  const series = {
    uid: value(dataset, "SeriesInstanceUID"),
    modality: value(dataset, "Modality") ?? "",
    description: value(dataset, "SeriesDescription") ?? "",
    number: number(dataset, "SeriesNumber"),
    instances: number(dataset, "NumberOfSeriesRelatedInstances"),
  };
  series.label = [
    series.number === undefined ? "" : `#${series.number}`,
    series.modality,
    series.description || "(no description)",
    series.instances === undefined ? "" : `(${plural(series.instances, "instance")})`,
  ]
    .filter(Boolean)
    .join(" ");
  return series;
}

/** A QIDO-RS instance as the list shows it. */
export function instanceSummary(dataset) {
  const instance = {
    uid: value(dataset, "SOPInstanceUID"),
    number: number(dataset, "InstanceNumber"),
    frames: number(dataset, "NumberOfFrames"),
    rows: number(dataset, "Rows"),
    columns: number(dataset, "Columns"),
  };
  instance.label = [
    instance.number === undefined ? "instance" : `instance ${instance.number}`,
    instance.rows && instance.columns ? `${instance.columns}×${instance.rows}` : "",
    instance.frames > 1 ? `${instance.frames} frames` : "",
  ]
    .filter(Boolean)
    .join(" · ");
  return instance;
}

/** The technical attributes the instance view lists, in this order (never patient data). */
export const METADATA_ROWS = [
  "Modality", "StudyDescription", "SeriesDescription", "SeriesNumber", "InstanceNumber",
  "BodyPartExamined", "Rows", "Columns", "NumberOfFrames", "PhotometricInterpretation",
  "SamplesPerPixel", "BitsAllocated", "BitsStored", "PixelRepresentation", "WindowCenter",
  "WindowWidth", "RescaleSlope", "RescaleIntercept", "PixelSpacing", "SliceThickness",
  "SegmentationType", "SOPClassUID", "SOPInstanceUID", "TransferSyntaxUID",
];

/** WADO-RS instance metadata (a one-element array, or the dataset itself) as [keyword, value] rows. */
export function metadataRows(metadata) {
  const dataset = Array.isArray(metadata) ? metadata[0] : metadata;
  return METADATA_ROWS.map((name) => {
    const found = values(dataset, name);
    return [name, found.length === 0 ? undefined : found.length === 1 ? found[0] : found];
  }).filter(([, v]) => v !== undefined);
}

/** The file's first VOI window (centre, width), or undefined when it has none. */
export function defaultWindow(metadata) {
  const dataset = Array.isArray(metadata) ? metadata[0] : metadata;
  const center = numbers(dataset, "WindowCenter")[0];
  const width = numbers(dataset, "WindowWidth")[0];
  return center === undefined || width === undefined ? undefined : { center, width };
}

/** The PS3.18 `window=center,width` query value, or "" when either is missing or invalid. */
export function windowParameter(center, width) {
  const c = Number(String(center ?? "").trim());
  const w = Number(String(width ?? "").trim());
  if (String(center ?? "").trim() === "" || String(width ?? "").trim() === "") return "";
  if (!Number.isFinite(c) || !Number.isFinite(w)) return "";
  return `${c},${w}`;
}

/** Path of a PACS instance (each UID encoded), optionally with a suffix ("/metadata"). */
export function instancePath({ study, series, instance }, suffix = "") {
  const enc = encodeURIComponent;
  return `/studies/${enc(study)}/series/${enc(series)}/instances/${enc(instance)}${suffix}`;
}

/** The rendered PNG of the instance, or of one frame (1-based), with an optional window, as
 * PS3.18 names them: `.../rendered?window=C,W`, `.../frames/{n}/rendered?window=C,W`. */
export function renderedPath(ids, { frame, window = "" } = {}) {
  const query = window ? `?window=${window}` : "";
  if (frame === undefined) return instancePath(ids, `/rendered${query}`);
  if (!Number.isInteger(frame) || frame < 1) throw new Error(`frame numbers start at 1, not ${frame}`);
  return instancePath(ids, `/frames/${frame}/rendered${query}`);
}
