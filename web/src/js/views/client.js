// The client panel: provision (push or poll), keep the client across reloads, and feed results
// to the jobs view from the WebSocket (push) or GET /results (poll).
import { $ } from "../dom.js";
import { guarded, showError } from "../errors.js";
import { ResultSocket } from "../socket.js";
import { forgetClient, loadClient, saveClient } from "../store.js";

const POLL_RETRY_MS = 3000;

export class ClientPanel extends EventTarget {
  constructor({ api, config }) {
    super();
    this.api = api;
    this.config = config;
    this.apiUrl = config.REST_API_URL;
    this.client = null;
    this.socket = null;
    this.polling = null;
    $("provision").addEventListener("click", guarded(() => this.provision()));
    $("forget-client").addEventListener("click", () => this.forget());
    window.addEventListener("online", () => this.socket?.nudge());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.socket?.nudge();
    });
  }

  restore() {
    const stored = loadClient(this.apiUrl);
    if (stored) this._use(stored);
    else this._render();
  }

  async provision() {
    const button = $("provision");
    button.disabled = true;
    try {
      const created = await this.api.post("/clients", { delivery: $("delivery").value });
      saveClient(this.apiUrl, created);
      this._use(created);
    } finally {
      button.disabled = false;
    }
  }

  forget() {
    this._disconnect();
    forgetClient(this.apiUrl);
    this.client = null;
    this._render();
    this.dispatchEvent(new Event("client"));
  }

  get connected() {
    return this.client?.delivery === "push" ? this.socket?.state === "open" : Boolean(this.client);
  }

  _use(client) {
    this._disconnect();
    this.client = client;
    this._render();
    if (client.delivery === "push") this._connect();
    else this._pollResults();
    this.dispatchEvent(new Event("client"));
  }

  _render() {
    const client = this.client;
    $("client-none").hidden = Boolean(client);
    $("client-info").hidden = !client;
    if (client) {
      $("client-id").textContent = client.client_id;
      $("client-delivery").textContent = client.delivery + (client.queue_url ? ` (${client.queue_url})` : "");
      $("client-expiry").textContent = new Date(client.token_expires_at).toLocaleString();
    }
    if (!client) this._showSocket({ state: "idle" });
  }

  _connect() {
    const url = new URL(this.config.WEBSOCKET_URL);
    url.searchParams.set("client_id", this.client.client_id);
    url.searchParams.set("token", this.client.token);
    const socket = new ResultSocket(url.toString());
    this.socket = socket;
    socket.addEventListener("state", (event) => {
      this._showSocket(event.detail);
      this.dispatchEvent(new CustomEvent("socket", { detail: event.detail }));
    });
    socket.addEventListener("reconnected", () => this.dispatchEvent(new Event("reconnected")));
    socket.addEventListener("message", (event) => this._message(event.detail, "push"));
    socket.addEventListener("problem", (event) => showError(event.detail));
    socket.start();
  }

  _message(data, source) {
    if (data && data.kind === "job.result") {
      this.dispatchEvent(new CustomEvent("result", { detail: { result: data, source } }));
    } else if (data && typeof data.message === "string") {
      showError(`WebSocket: ${data.message}`); // the gateway's own error frames
    }
  }

  async _pollResults() {
    const controller = new AbortController();
    this.polling = controller;
    this._showSocket({ state: "open", label: "polling" });
    while (!controller.signal.aborted) {
      try {
        const path = `/results?client_id=${encodeURIComponent(this.client.client_id)}`;
        const body = await this.api.get(path, { signal: controller.signal });
        for (const result of body.results || []) this._message(result, "poll");
      } catch (error) {
        if (controller.signal.aborted) return;
        showError(error);
        await new Promise((resolve) => setTimeout(resolve, POLL_RETRY_MS));
      }
    }
  }

  _disconnect() {
    this.socket?.stop();
    this.socket = null;
    this.polling?.abort();
    this.polling = null;
  }

  _showSocket({ state, retryInMs, why, attempt, label }) {
    const badge = $("socket-state");
    const banner = $("socket-banner");
    badge.dataset.state = state;
    badge.textContent = label || { idle: "no client", connecting: "connecting", open: "live", down: "disconnected" }[state];
    if (state === "down") {
      const hint = attempt >= 4 ? " If this persists, the token may have expired: forget the client and provision again." : "";
      banner.textContent = `Result socket is down (${why}); reconnecting in ${(retryInMs / 1000).toFixed(1)} s. Results are fetched with GET /jobs/{id} meanwhile.${hint}`;
      banner.hidden = false;
    } else if (state !== "connecting") {
      banner.hidden = true;
    }
  }
}
