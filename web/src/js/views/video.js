// Video pipeline: upload a video (or pick one already processed) and watch its annotated frames
// and detections arrive, with running per-class counts, until the end-of-video summary.
import { uploadToS3 } from "../api.js";
import { $, clear, h } from "../dom.js";
import { guarded, showError } from "../errors.js";

const POLL_MS = 1500;
const IDLE_GIVE_UP_MS = 10 * 60_000;
const MAX_FRAMES_SHOWN = 120;

export class VideoPanel {
  constructor({ api }) {
    this.api = api;
    this.session = 0;
    $("video-form").addEventListener("submit", (event) => {
      event.preventDefault();
      guarded(() => this.upload())();
    });
    $("video-refresh").addEventListener("click", guarded(() => this.listVideos()));
  }

  async upload() {
    const file = $("video-file").files[0];
    if (!file) throw new Error("choose a video file first");
    const button = $("video-upload");
    button.disabled = true;
    try {
      const ticket = await this.api.post("/uploads", { kind: "video", filename: file.name, content_type: file.type || undefined });
      if (file.size > ticket.max_bytes) throw new Error(`${file.name} is ${file.size} bytes; the limit is ${ticket.max_bytes}`);
      await uploadToS3(ticket, file);
      const found = await this.api.get(`/videos?key=${encodeURIComponent(ticket.key)}`);
      this.watch(found.videos[0].video_id);
    } finally {
      button.disabled = false;
    }
  }

  async listVideos() {
    const body = await this.api.get("/videos");
    const list = clear($("video-list"));
    if (!body.videos.length) list.append(h("li", { class: "muted" }, "no processed video yet (make demo processes one)"));
    for (const video of body.videos) {
      list.append(h("li", {}, h("button", { type: "button", onclick: () => this.watch(video.video_id) }, video.video_id)));
    }
  }

  async watch(videoId) {
    const session = ++this.session; // a newer watch() stops this one
    $("video-view").hidden = false;
    $("video-id").textContent = videoId;
    clear($("frames"));
    clear($("video-summary"));
    const counts = new Map();
    this._counts(counts);
    let after = -1;
    let lastNews = Date.now();
    const state = $("video-state");
    state.textContent = "waiting for frames";
    while (session === this.session) {
      let page = null;
      try {
        page = await this.api.get(`/videos/${encodeURIComponent(videoId)}/frames?after=${after}`);
      } catch (error) {
        showError(error);
      }
      if (session !== this.session) return;
      if (page) {
        for (const view of page.frames) this._frame(view, counts);
        if (page.frames.length) {
          lastNews = Date.now();
          this._counts(counts);
          state.textContent = `${$("frames").children.length} frames shown`;
        }
        after = page.next_after;
        if (page.summary) {
          this._summary(page.summary);
          state.textContent = "complete";
          return;
        }
        if (page.more) continue;
      }
      if (Date.now() - lastNews > IDLE_GIVE_UP_MS) {
        state.textContent = "no new frame for 10 minutes; stopped watching";
        return;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  _frame({ frame, annotated_url }, counts) {
    for (const d of frame.detections) counts.set(d.class_name, (counts.get(d.class_name) || 0) + 1);
    const list = $("frames");
    list.append(
      h("li", { dataset: { frame: frame.frame_index } },
        h("img", { src: annotated_url, alt: `frame ${frame.frame_index}`, loading: "lazy" }),
        h("div", {}, `#${frame.frame_index} · ${(frame.timestamp_ms / 1000).toFixed(2)} s · ${frame.detections.length} detections`),
        h("div", { class: "muted" }, frame.detections.map((d) => `${d.class_name} ${(d.confidence * 100).toFixed(0)}%`).join(", "))),
    );
    while (list.children.length > MAX_FRAMES_SHOWN) list.firstElementChild.remove();
  }

  _counts(counts) {
    const table = clear($("class-counts"));
    table.append(h("tr", {}, h("th", {}, "class"), h("th", {}, "detections so far")));
    for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1])) {
      table.append(h("tr", { dataset: { class: name } }, h("td", {}, name), h("td", {}, count)));
    }
  }

  _summary(summary) {
    $("video-summary").append(
      h("p", {},
        `Summary: ${summary.frames} frames processed (${summary.frames_failed} failed) of ${summary.frames_sent} sent, `,
        `${summary.detections} detections by ${summary.model}`,
        summary.processing_fps ? `, ${summary.processing_fps.toFixed(1)} frames/s` : ""),
      h("p", {}, "Per class: ", Object.entries(summary.class_counts).map(([k, v]) => `${k} ${v}`).join(", ") || "none"),
    );
  }
}
