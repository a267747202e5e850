// Jobs: pick an algorithm, submit for the selected instance or series, and follow each job to
// DONE or FAILED. Results arrive pushed (or polled); GET /jobs/{id} is the safety net: at once
// after every reconnect, every few seconds while the socket is down, slowly while it is up.
import { $, clear, formatValue, h, keyValueRows, timingsTable } from "../dom.js";
import { guarded, showError } from "../errors.js";
import { loadJobs, saveJobs } from "../store.js";

const CHECK_WHILE_UP_MS = 15_000;
const CHECK_WHILE_DOWN_MS = 3_000;
const FINAL = new Set(["DONE", "FAILED"]);

/** What the overlay PNG shows: the mask (as stored in the SEG) tinted on its source image(s). */
export function overlayCaption(pacs, seg) {
  const what = seg ? "the SEG's mask" : "the mask";
  if (!pacs) return `${what} on its source image`;
  return pacs.scope === "series"
    ? `${what} on every instance of source series ${pacs.series_id} (montage)`
    : `${what} on source instance ${pacs.image_id}`;
}

export class JobsPanel {
  constructor({ api, client, storeKey, reveal = null, showSegmentation = null }) {
    this.api = api;
    this.reveal = reveal; // browses the PACS panel to an instance (a job's SEG)
    this.showSegmentation = showSegmentation; // draws a SEG on its source instance in the PACS panel
    this.client = client;
    this.storeKey = storeKey;
    this.target = null;
    this.jobs = new Map(); // job_id -> {status, element, source}
    $("job-form").addEventListener("submit", (event) => {
      event.preventDefault();
      guarded(() => this.submit())();
    });
    for (const radio of document.querySelectorAll("input[name=scope]")) {
      radio.addEventListener("change", () => this._renderTarget());
    }
    client.addEventListener("client", () => this._onClient());
    client.addEventListener("result", (event) => this.accept(event.detail.result, event.detail.source));
    client.addEventListener("reconnected", () => this.checkPending());
    client.addEventListener("socket", () => this._schedule());
    this.timer = null;
    this.interval = null;
  }

  async loadAlgorithms() {
    const select = $("algorithm");
    const body = await this.api.get("/algorithms");
    clear(select).append(...body.algorithms.map((id) => h("option", { value: id }, id)));
  }

  select(target) {
    this.target = target;
    this._renderTarget();
  }

  _scope() {
    return document.querySelector("input[name=scope]:checked").value;
  }

  _renderTarget() {
    const t = this.target;
    const scope = this._scope();
    $("job-target").textContent = !t
      ? "Select an instance in the PACS."
      : scope === "image"
        ? `instance ${t.image_id} (series ${t.series_id})`
        : `series ${t.series_id} (study ${t.study_id})`;
    $("submit-job").disabled = !(t && this.client.client);
  }

  _onClient() {
    this._renderTarget();
    if (!this.client.client) {
      this.jobs.clear();
      clear($("jobs"));
      return;
    }
    for (const jobId of loadJobs(this.storeKey)) this._track(jobId, "QUEUED");
    this.checkPending();
  }

  async submit() {
    const target = this.target;
    const client = this.client.client;
    if (!target || !client) return;
    const scope = this._scope();
    const pacs = { study_id: target.study_id, series_id: target.series_id, scope };
    if (scope === "image") pacs.image_id = target.image_id;
    const algo = $("algorithm").value;
    $("submit-job").disabled = true;
    try {
      const accepted = await this.api.post(`/process/${encodeURIComponent(algo)}`, { client_id: client.client_id, pacs });
      this._track(accepted.job_id, accepted.status, { algo, pacs });
      saveJobs(this.storeKey, [...this.jobs.keys()]);
      this._schedule();
    } finally {
      this._renderTarget();
    }
  }

  _track(jobId, status, { algo, pacs } = {}) {
    if (this.jobs.has(jobId)) return this.jobs.get(jobId);
    const element = h(
      "li",
      { dataset: { jobId } },
      h("div", {}, h("code", {}, jobId), " ", h("span", { class: "status", dataset: { status } }, status), " ",
        h("span", { class: "muted algo" }, algo || ""), " ",
        h("span", { class: "muted target" }, pacs ? `${pacs.scope} ${pacs.image_id || pacs.series_id}` : "")),
      h("div", { class: "detail" }),
    );
    $("jobs").prepend(element);
    const job = { status, element, source: null };
    this.jobs.set(jobId, job);
    return job;
  }

  /** A pushed or polled result (a DeliveredResult), or a JobView from GET /jobs/{id}. */
  accept(result, source) {
    const job = this.jobs.get(result.job_id) || this._track(result.job_id, result.status);
    if (FINAL.has(job.status) && job.source) return; // already shown; later copies add nothing
    job.status = result.status;
    const statusEl = job.element.querySelector(".status");
    statusEl.textContent = result.status;
    statusEl.dataset.status = result.status;
    job.element.querySelector(".algo").textContent = result.algo_id || "";
    if (!FINAL.has(result.status)) return;
    job.source = source;
    job.element.dataset.source = source;
    const delivered = result.result || result; // a JobView carries the DeliveredResult inside
    const detail = clear(job.element.querySelector(".detail"));
    detail.append(h("div", { class: "muted" }, `via ${source}`));
    if (result.status === "FAILED") {
      detail.append(h("p", { class: "reason" }, result.reason || delivered.reason || "failed (no reason given)"));
      return;
    }
    const input = delivered.pacs || result.pacs;
    if (delivered.overlay_url) {
      detail.append(
        h("figure", { class: "result-images" },
          h("img", { class: "overlay", alt: `overlay of ${result.job_id}`, src: delivered.overlay_url,
            onerror: () => showError(`overlay of job ${result.job_id} could not be loaded (link expired?)`) }),
          h("figcaption", { class: "muted" }, overlayCaption(input, delivered.outputs?.seg))),
      );
    }
    const seg = delivered.outputs?.seg;
    if (seg) detail.append(this._segBlock(seg, input));
    const measurements = h("table", { class: "kv measurements" });
    keyValueRows(measurements, Object.entries(delivered.measurements || {}).map(([k, v]) => [k, formatValue(v)]));
    detail.append(h("h4", {}, "Measurements"), measurements);
    if (Object.keys(delivered.timings_ms || {}).length) detail.append(h("h4", {}, "Timings"), timingsTable(delivered.timings_ms));
    if (delivered.result_url) detail.append(h("a", { href: delivered.result_url, target: "_blank", rel: "noopener" }, "result JSON"));
  }

  /** The job's DICOM SEG (stored in the source study as a new series) and a way to find it there. */
  _segBlock(seg, source) {
    const table = keyValueRows(h("table", { class: "kv seg-uids" }), [
      ["SEG series", seg.series_id],
      ["SEG SOP instance", seg.instance_id],
      ["study", seg.study_id],
      ["SOP class", seg.sop_class_uid],
    ]);
    const find = h("button", { type: "button", class: "seg-find" }, "Find it in the study");
    find.addEventListener("click", guarded(async () => {
      if (!this.reveal) throw new Error("the PACS panel is not ready");
      await this.reveal({ study: seg.study_id, series: seg.series_id, instance: seg.instance_id });
    }));
    const draw = h("button", { type: "button", class: "seg-show" }, "Show it on the source image");
    draw.addEventListener("click", guarded(async () => {
      if (!this.showSegmentation) throw new Error("the PACS panel is not ready");
      await this.showSegmentation(seg, source);
    }));
    return h("div", { class: "seg", dataset: { segSeries: seg.series_id, segInstance: seg.instance_id } },
      h("h4", {}, "Segmentation (DICOM SEG)"), table, find, " ", draw);
  }

  pending() {
    return [...this.jobs].filter(([, job]) => !FINAL.has(job.status)).map(([id]) => id);
  }

  async checkPending() {
    await Promise.all(
      this.pending().map(async (jobId) => {
        try {
          this.accept(await this.api.get(`/jobs/${encodeURIComponent(jobId)}`), "GET /jobs");
        } catch (error) {
          showError(error);
          if (error.status === 404) this._forget(jobId);
        }
      }),
    );
  }

  _forget(jobId) {
    this.jobs.get(jobId)?.element.remove();
    this.jobs.delete(jobId);
    saveJobs(this.storeKey, [...this.jobs.keys()]);
  }

  _schedule() {
    const wanted = this.pending().length && this.client.client
      ? (this.client.connected ? CHECK_WHILE_UP_MS : CHECK_WHILE_DOWN_MS)
      : null;
    if (wanted === this.interval && (this.timer || wanted === null)) return; // socket flapping: keep the timer
    clearTimeout(this.timer);
    this.timer = null;
    this.interval = wanted;
    if (wanted === null) return;
    this.timer = setTimeout(async () => {
      this.timer = null;
      await this.checkPending();
      this.interval = null;
      this._schedule();
    }, wanted);
  }
}
