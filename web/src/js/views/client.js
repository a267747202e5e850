// The client panel: provision (push or poll), keep the client across reloads, and feed results
// to the jobs view from the WebSocket (push) or GET /results with a cursor (poll).
//
// A client belongs to the user who provisioned it (another user gets 404 for it), so it is kept
// per REST API and user. The WebSocket opens with a fresh one-time ticket every time
// (POST /clients/{id}/tickets); a 404 there or on GET /results means the client is gone.
import { $ } from "../dom.js";
import { guarded, showError } from "../errors.js";
import { ResultSocket, ticketUrl } from "../socket.js";
import { forgetClient, loadClient, saveClient } from "../store.js";

const POLL_RETRY_MS = 3000;
const POLL_INTERVAL_MS = 2000;
const POLL_PAGE = 50;

export class ClientPanel extends EventTarget {
  constructor({ api, config, storeKey, username }) {
    super();
    this.api = api;
    this.config = config;
    this.storeKey = storeKey;
    this.username = username;
    this.client = null;
    this.socket = null;
    this.polling = null;
    $("provision").addEventListener("click", guarded(() => this.provision()));
    $("forget-client").addEventListener("click", guarded(() => this.remove()));
    window.addEventListener("online", () => this.socket?.nudge());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.socket?.nudge();
    });
  }

  restore() {
    const stored = loadClient(this.storeKey);
    if (stored) this._use(stored);
    else this._render();
  }

  async provision() {
    const button = $("provision");
    button.disabled = true;
    try {
      const { ticket, ticket_expires_at: _expires, ...created } = await this.api.post("/clients", { delivery: $("delivery").value });
      saveClient(this.storeKey, created); // the client's id, never a ticket
      this._use(created, ticket);
    } finally {
      button.disabled = false;
    }
  }

  /** Delete the client on the server (its live sockets), then forget it here. */
  async remove() {
    const client = this.client;
    this.forget();
    if (!client) return;
    try {
      await this.api.delete(`/clients/${encodeURIComponent(client.client_id)}`);
    } catch (error) {
      if (error.status !== 404) throw error; // already gone is what we wanted
    }
  }

  forget() {
    this._disconnect();
    forgetClient(this.storeKey);
    this.client = null;
    this._render();
    this.dispatchEvent(new Event("client"));
  }

  /** Stop listening without forgetting the client (the user signed out). */
  stop() {
    this._disconnect();
  }

  get connected() {
    return this.client?.delivery === "push" ? this.socket?.state === "open" : Boolean(this.client);
  }

  _use(client, firstTicket) {
    this._disconnect();
    this.client = client;
    this._render();
    if (client.delivery === "push") this._connect(firstTicket);
    else this._pollResults();
    this.dispatchEvent(new Event("client"));
  }

  _gone(why) {
    showError(`client ${this.client?.client_id} no longer exists (deleted or expired): provision a new one (${why})`);
    this.forget();
  }

  _render() {
    const client = this.client;
    $("client-none").hidden = Boolean(client);
    $("client-info").hidden = !client;
    if (client) {
      $("client-id").textContent = client.client_id;
      $("client-delivery").textContent = client.delivery === "poll" ? "poll (GET /results)" : client.delivery;
      $("client-owner").textContent = this.username;
    }
    if (!client) this._showSocket({ state: "idle" });
  }

  _connect(firstTicket) {
    const clientId = this.client.client_id;
    let ticket = firstTicket;
    const socket = new ResultSocket(async () => {
      const fresh = ticket || (await this.api.post(`/clients/${encodeURIComponent(clientId)}/tickets`, {})).ticket;
      ticket = null; // one use only
      return ticketUrl(this.config.WEBSOCKET_URL, fresh);
    });
    this.socket = socket;
    socket.addEventListener("state", (event) => {
      this._showSocket(event.detail);
      this.dispatchEvent(new CustomEvent("socket", { detail: event.detail }));
    });
    socket.addEventListener("reconnected", () => this.dispatchEvent(new Event("reconnected")));
    socket.addEventListener("message", (event) => this._message(event.detail, "push"));
    socket.addEventListener("problem", (event) => showError(event.detail));
    socket.addEventListener("gone", (event) => this._gone(event.detail));
    socket.start();
  }

  _message(data, source) {
    if (data && data.kind === "job.result") {
      this.dispatchEvent(new CustomEvent("result", { detail: { result: data, source } }));
    } else if (data && typeof data.message === "string") {
      showError(`WebSocket: ${data.message}`); // the gateway's own error frames
    }
  }

  /**
   * GET /results pages this client's finished jobs after a cursor; reading deletes nothing, so
   * a request whose answer is lost is repeated from the same cursor. The cursor is kept with the
   * client (localStorage), so a reload continues where the page left off. Short polls at an
   * interval (the server holds no request open): what keeps tens of thousands of poll clients
   * cheap; `more` means a backlog, fetched at once.
   */
  async _pollResults() {
    const controller = new AbortController();
    this.polling = controller;
    this._showSocket({ state: "open", label: "polling" });
    const clientId = this.client.client_id;
    let cursor = this.client.cursor || "";
    while (!controller.signal.aborted) {
      let more = false;
      try {
        const query = new URLSearchParams({ client_id: clientId, limit: String(POLL_PAGE) });
        if (cursor) query.set("after", cursor);
        const body = await this.api.get(`/results?${query}`, { signal: controller.signal });
        if (controller.signal.aborted) return;
        for (const result of body.results || []) this._message(result, "poll");
        if (body.next_cursor && body.next_cursor !== cursor) {
          cursor = body.next_cursor;
          this.client = { ...this.client, cursor };
          saveClient(this.storeKey, this.client);
        }
        more = Boolean(body.more);
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error.status === 404) {
          this._gone(error.message);
          return;
        }
        showError(error);
        await new Promise((resolve) => setTimeout(resolve, POLL_RETRY_MS));
        continue;
      }
      if (!more) await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
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
      banner.textContent = `Result socket is down (${why}); reconnecting in ${(retryInMs / 1000).toFixed(1)} s. Results are fetched with GET /jobs/{id} meanwhile.`;
      banner.hidden = false;
    } else if (state !== "connecting") {
      banner.hidden = true;
    }
  }
}
