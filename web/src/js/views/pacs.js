// PACS browser over DICOMweb: studies -> series -> instances (QIDO-RS, DICOM JSON), the
// instance's technical metadata (WADO-RS metadata) and a rendered preview (`/rendered?window=C,W`,
// multi-frame instances `/frames/{n}/rendered`), fetched as a blob so a refusal shows the PACS's
// own error. Lists show descriptions, dates, modalities and counts; each button keeps its UID in
// `data-uid` (and its tooltip). No patient attribute is shown: the PACS sends none to the console.
import {
  defaultWindow,
  instancePath,
  instanceSummary,
  metadataRows,
  number,
  renderedPath,
  seriesSummary,
  studySummary,
  value,
  windowParameter,
} from "../dicomjson.js";
import { $, clear, h, keyValueRows } from "../dom.js";
import { guarded, showError } from "../errors.js";
import { boundaryOf, frameMask, framesOf, maskRgba, multipartBodies, segFrames } from "../seg.js";

function pickerItems(list, items, onPick) {
  clear(list);
  if (!items.length) list.append(h("li", { class: "muted" }, "(none)"));
  for (const item of items) {
    const button = h(
      "button",
      { type: "button", title: item.uid, "aria-pressed": "false", dataset: { uid: item.uid } },
      item.label,
    );
    button.addEventListener("click", guarded(() => onPick(item)));
    list.append(h("li", {}, button));
  }
}

function press(list, uid) {
  for (const button of list.querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.uid === uid));
  }
}

const enc = encodeURIComponent;

export class PacsPanel {
  constructor({ pacs, onSelect }) {
    this.pacs = pacs;
    this.onSelect = onSelect;
    this.current = null; // {study, series, instance}
    this.metadata = null;
    this.frames = 1;
    this.objectUrl = null;
    $("window-apply").addEventListener("click", guarded(() => this.render()));
    $("window-reset").addEventListener("click", guarded(() => this._resetWindow()));
    $("frame").addEventListener("change", guarded(() => this.render()));
    $("seg-hide").addEventListener("click", () => this._clearSegmentation());
    for (const id of ["window-center", "window-width", "frame"]) {
      $(id).addEventListener("keydown", (event) => {
        if (event.key === "Enter") guarded(() => this.render())();
      });
    }
  }

  async loadStudies() {
    const studies = (await this.pacs.get("/studies")).map(studySummary);
    pickerItems($("studies"), studies, (s) => this.openStudy(s.uid));
  }

  async openStudy(study) {
    press($("studies"), study);
    clear($("series"));
    clear($("instances"));
    const series = (await this.pacs.get(`/studies/${enc(study)}/series`)).map(seriesSummary);
    pickerItems($("series"), series, (s) => this.openSeries(study, s.uid));
  }

  async openSeries(study, series) {
    press($("series"), series);
    clear($("instances"));
    const body = await this.pacs.get(`/studies/${enc(study)}/series/${enc(series)}/instances`);
    pickerItems($("instances"), body.map(instanceSummary), (i) => this.show(study, series, i.uid));
  }

  /** Browse to one instance (a job's SEG): its study, series and instance picked in the lists. */
  async reveal({ study, series, instance }) {
    press($("studies"), study);
    await this.openStudy(study);
    await this.openSeries(study, series);
    await this.show(study, series, instance);
    $("instance-view").scrollIntoView({ block: "nearest" });
  }

  /** A job's SEG decoded here and drawn on its source instance (browsed to in the lists):
   * the SEG frames whose DerivationImageSequence names that instance, from WADO-RS frames. */
  async showSegmentation(seg, source) {
    const segIds = { study: seg.study_id, series: seg.series_id, instance: seg.instance_id };
    const geometry = segFrames(await this.pacs.get(instancePath(segIds, "/metadata")));
    const sourceUid =
      source.scope === "image" ? source.image_id : geometry.frames.find((f) => f.sources.length)?.sources[0];
    if (!sourceUid) throw new Error(`SEG ${seg.instance_id} names no source instance`);
    const frames = framesOf(geometry, sourceUid);
    if (!frames.length) throw new Error(`SEG ${seg.instance_id} has no frame on instance ${sourceUid}`);
    await this.reveal({ study: source.study_id, series: source.series_id, instance: sourceUid });
    const answer = await this.pacs.frames(instancePath(segIds, `/frames/${frames.join(",")}`));
    const bodies = multipartBodies(answer.bytes, boundaryOf(answer.contentType));
    const count = geometry.rows * geometry.columns;
    const { rgba, set } = maskRgba(bodies.map((body) => frameMask(body, geometry)), count);
    const canvas = $("seg-overlay");
    canvas.width = geometry.columns;
    canvas.height = geometry.rows;
    canvas.getContext("2d").putImageData(new ImageData(rgba, geometry.columns, geometry.rows), 0, 0);
    Object.assign(canvas.dataset, { seg: seg.instance_id, source: sourceUid, pixels: String(set), state: "ready" });
    canvas.hidden = false;
    $("seg-caption-text").textContent =
      `SEG ${seg.instance_id} (frame${frames.length > 1 ? "s" : ""} ${frames.join(", ")}): ${set} pixels on this instance`;
    $("seg-caption").hidden = false;
  }

  _clearSegmentation() {
    const canvas = $("seg-overlay");
    canvas.hidden = true;
    for (const key of ["seg", "source", "pixels", "state"]) delete canvas.dataset[key];
    $("seg-caption").hidden = true;
  }

  async show(study, series, instance) {
    this._clearSegmentation();
    press($("instances"), instance);
    this.current = { study, series, instance };
    this.onSelect({ study_id: study, series_id: series, image_id: instance });
    $("instance-view").hidden = false;
    $("instance-id").textContent = instance;
    clear($("metadata"));
    this.metadata = await this.pacs.get(instancePath(this.current, "/metadata"));
    const dataset = this.metadata[0] || {};
    keyValueRows($("metadata"), metadataRows(dataset));
    $("instance-view").dataset.modality = value(dataset, "Modality") ?? "";
    this.frames = number(dataset, "NumberOfFrames") || 1;
    $("frame").value = "1";
    $("frame").max = String(this.frames);
    $("frame-control").hidden = this.frames < 2;
    $("frame-count").textContent = `of ${this.frames}`;
    await this._resetWindow();
  }

  _resetWindow() {
    const voi = defaultWindow(this.metadata);
    $("window-center").value = voi?.center ?? "";
    $("window-width").value = voi?.width ?? "";
    return this.render();
  }

  async render() {
    if (!this.current) return;
    const center = $("window-center").value.trim();
    const width = $("window-width").value.trim();
    const frame = Math.min(Math.max(1, Math.trunc(Number($("frame").value)) || 1), this.frames);
    $("frame").value = String(frame);
    const voi = windowParameter(center, width);
    const image = $("preview");
    image.dataset.state = "loading";
    try {
      const blob = await this.pacs.image(renderedPath(this.current, { frame: this.frames > 1 ? frame : undefined, window: voi }));
      if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = URL.createObjectURL(blob);
      image.src = this.objectUrl;
      await image.decode();
      image.dataset.window = `${center}/${width}`;
      image.dataset.frame = String(frame);
      image.dataset.state = "ready";
    } catch (error) {
      image.dataset.state = "error";
      image.removeAttribute("src");
      showError(error);
    }
  }
}
