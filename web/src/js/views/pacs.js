// PACS browser: studies -> series -> instances, the instance's metadata and a rendered preview
// with window centre/width (fetched as a blob so a refusal shows the PACS's own error).
import { $, clear, h, keyValueRows } from "../dom.js";
import { guarded, showError } from "../errors.js";

const METADATA_ORDER = [
  "modality", "study_description", "series_description", "series_number", "instance_number",
  "body_part_examined", "rows", "columns", "number_of_frames", "photometric_interpretation",
  "bits_allocated", "bits_stored", "pixel_representation", "window_center", "window_width",
  "rescale_slope", "rescale_intercept", "pixel_spacing_mm", "slice_thickness_mm",
  "sop_class_uid", "transfer_syntax_uid", "size_bytes", "has_pixel_data",
];

function pickerItems(list, items, label, onPick) {
  clear(list);
  if (!items.length) list.append(h("li", { class: "muted" }, "(none)"));
  for (const item of items) {
    const button = h("button", { type: "button", title: label(item), "aria-pressed": "false" }, label(item));
    button.addEventListener("click", guarded(async () => {
      for (const other of list.querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-pressed", "true");
      await onPick(item);
    }));
    list.append(h("li", {}, button));
  }
}

const path = (...ids) => ids.map(encodeURIComponent).join("/");

export class PacsPanel {
  constructor({ pacs, onSelect }) {
    this.pacs = pacs;
    this.onSelect = onSelect;
    this.current = null;
    this.metadata = null;
    this.objectUrl = null;
    $("window-apply").addEventListener("click", guarded(() => this.render()));
    $("window-reset").addEventListener("click", guarded(() => this._resetWindow()));
    for (const id of ["window-center", "window-width"]) {
      $(id).addEventListener("keydown", (event) => {
        if (event.key === "Enter") guarded(() => this.render())();
      });
    }
  }

  async loadStudies() {
    const body = await this.pacs.get("/studies");
    pickerItems($("studies"), body.studies, (s) => s.study_id, (s) => this.loadSeries(s.study_id));
  }

  async loadSeries(studyId) {
    clear($("instances"));
    const body = await this.pacs.get(`/studies/${path(studyId)}/series`);
    pickerItems($("series"), body.series, (s) => s.series_id, (s) => this.loadInstances(studyId, s.series_id));
  }

  async loadInstances(studyId, seriesId) {
    const body = await this.pacs.get(`/studies/${path(studyId, "series", seriesId)}/instances`);
    pickerItems($("instances"), body.instances, (i) => i.instance_id, (i) => this.show(studyId, seriesId, i.instance_id));
  }

  async show(studyId, seriesId, instanceId) {
    this.current = { study_id: studyId, series_id: seriesId, image_id: instanceId };
    this.onSelect(this.current);
    $("instance-view").hidden = false;
    $("instance-id").textContent = instanceId;
    clear($("metadata"));
    this.metadata = await this.pacs.get(`${this._base()}/metadata`);
    keyValueRows($("metadata"), METADATA_ORDER.map((k) => [k, this.metadata[k]]));
    this._resetWindow();
  }

  _base() {
    const c = this.current;
    return `/studies/${path(c.study_id, "series", c.series_id, "instances", c.image_id)}`;
  }

  _resetWindow() {
    const m = this.metadata || {};
    $("window-center").value = m.window_center?.[0] ?? "";
    $("window-width").value = m.window_width?.[0] ?? "";
    return this.render();
  }

  async render() {
    if (!this.current) return;
    const query = new URLSearchParams();
    const center = $("window-center").value.trim();
    const width = $("window-width").value.trim();
    if (center !== "") query.set("window_center", center);
    if (width !== "") query.set("window_width", width);
    const image = $("preview");
    image.dataset.state = "loading";
    try {
      const blob = await this.pacs.image(`${this._base()}/rendered${query.size ? `?${query}` : ""}`);
      if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = URL.createObjectURL(blob);
      image.src = this.objectUrl;
      await image.decode();
      image.dataset.window = `${center}/${width}`;
      image.dataset.state = "ready";
    } catch (error) {
      image.dataset.state = "error";
      image.removeAttribute("src");
      showError(error);
    }
  }
}
