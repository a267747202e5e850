// Image pipeline: upload a photo with a presigned POST, then follow GET /images/{key} until the
// grayscale result (and its per-stage timings) or the failure reason is there.
import { imagePath, uploadToS3 } from "../api.js";
import { $, clear, h, keyValueRows, timingsTable } from "../dom.js";
import { guarded, showError } from "../errors.js";

const STAGES = ["download", "decode", "convert", "encode", "upload"];
const FAST_POLL_MS = 1000;
const SLOW_POLL_MS = 3000;
const PENDING_HINT_MS = 90_000;
const GIVE_UP_MS = 10 * 60_000;
const TIMINGS_GRACE_MS = 15_000; // a done image whose result (timings) is not written yet

export class ImagesPanel {
  constructor({ api }) {
    this.api = api;
    $("image-form").addEventListener("submit", (event) => {
      event.preventDefault();
      guarded(() => this.upload())();
    });
  }

  async upload() {
    const file = $("image-file").files[0];
    if (!file) throw new Error("choose a .jpg, .jpeg or .png file first");
    const button = $("image-upload");
    button.disabled = true;
    try {
      const ticket = await this.api.post("/uploads", { kind: "image", filename: file.name, content_type: file.type || undefined });
      if (file.size > ticket.max_bytes) throw new Error(`${file.name} is ${file.size} bytes; the limit is ${ticket.max_bytes}`);
      const item = this._item(file.name, ticket.key);
      await uploadToS3(ticket, file);
      this._follow(ticket.key, item);
    } finally {
      button.disabled = false;
    }
  }

  _item(name, key) {
    const item = h(
      "li",
      { dataset: { key } },
      h("div", {}, h("strong", {}, name), " ", h("span", { class: "status", dataset: { status: "pending" } }, "uploading"), " ", h("code", { class: "muted" }, key)),
      h("p", { class: "note muted" }),
      h("div", { class: "result-images" }),
      h("table", { class: "kv facts" }),
      h("div", { class: "timings-box" }),
    );
    $("images").prepend(item);
    return item;
  }

  async _follow(key, item) {
    const started = Date.now();
    let doneAt = null;
    while (Date.now() - started < GIVE_UP_MS) {
      let view;
      try {
        view = await this.api.get(imagePath(key));
      } catch (error) {
        showError(error);
        view = null;
      }
      if (view) {
        this._render(item, view);
        if (view.status === "done" && !Object.keys(view.timings_ms || {}).length) {
          // The task writes its output, then the result with the timings: keep reading a little.
          doneAt ??= Date.now();
          if (Date.now() - doneAt < TIMINGS_GRACE_MS) {
            await new Promise((r) => setTimeout(r, FAST_POLL_MS));
            continue;
          }
        }
        if (view.status !== "pending") return;
      }
      if (Date.now() - started > PENDING_HINT_MS) {
        item.querySelector(".note").textContent =
          "Still pending: the dispatcher may have refused this object before processing (its reason is on ImageProcessingQueue), or the pipeline is busy.";
      }
      await new Promise((r) => setTimeout(r, Date.now() - started < 30_000 ? FAST_POLL_MS : SLOW_POLL_MS));
    }
    showError(`gave up waiting for ${key} after ${GIVE_UP_MS / 60000} minutes`);
  }

  _render(item, view) {
    const status = item.querySelector(".status");
    status.textContent = view.status;
    status.dataset.status = view.status;
    const images = clear(item.querySelector(".result-images"));
    images.append(h("figure", {}, h("img", { class: "input", src: view.input_url, alt: "input" }), h("figcaption", {}, "input")));
    if (view.output_url) {
      images.append(h("figure", {}, h("img", { class: "output", src: view.output_url, alt: "grayscale output" }), h("figcaption", {}, "grayscale")));
    }
    if (view.status === "failed") item.querySelector(".note").textContent = `Failed at ${view.stage}: ${view.reason}`;
    keyValueRows(item.querySelector(".facts"), [
      ["size", view.width && `${view.width} x ${view.height}`],
      ["format", view.format],
      ["input bytes", view.input_bytes],
      ["output bytes", view.output_bytes],
      ["kernel threads", view.threads],
    ]);
    const box = clear(item.querySelector(".timings-box"));
    if (Object.keys(view.timings_ms || {}).length) box.append(h("h4", {}, "Per-stage timings"), timingsTable(view.timings_ms, STAGES));
  }
}
