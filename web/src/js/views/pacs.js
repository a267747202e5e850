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

  async show(study, series, instance) {
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
