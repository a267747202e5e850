// The result WebSocket: reconnects with backoff, keeps itself alive without sending anything,
// and tells the page its state so a banner shows while results cannot be pushed.
//
// Keep-alive: the API has no $default route, so any frame the browser sent would come back as a
// "Forbidden" error, and browsers cannot send protocol pings. API Gateway drops a connection after
// 10 minutes idle (2 hours at most), so the socket is renewed before that, make-before-break: the
// new connection opens first, then the old one closes, and no push falls into a gap. Whatever
// does fall through (a drop, a sleeping laptop) is caught by GET /jobs/{id} after each reconnect.
//
// Every connection, renewals included, opens with a fresh one-time ticket (`connectUrl()` asks
// `POST /clients/{id}/tickets`): the handshake consumes it, so no URL is ever worth stealing. A
// 404 there means the client is gone (deleted, expired): the socket stops and says so ("gone").
import { reconnectDelay } from "./backoff.js";

/** `<WebsocketUrl>?ticket=<ticket>`: the only thing the $connect authorizer reads. */
export function ticketUrl(base, ticket) {
  const url = new URL(base);
  url.searchParams.set("ticket", ticket);
  return url.toString();
}

const RENEW_AFTER_MS = 8 * 60_000;
const STABLE_AFTER_MS = 5_000; // only a connection that stayed up this long resets the backoff
const CONNECT_TIMEOUT_MS = 15_000;

export class ResultSocket extends EventTarget {
  constructor(connectUrl) {
    super();
    this.connectUrl = connectUrl; // async () => a URL with a fresh ticket
    this.socket = null;
    this.state = "idle";
    this.attempt = 0;
    this.stopped = false;
    this.everOpened = false;
    this.timers = new Set();
  }

  start() {
    this.stopped = false;
    this._open();
  }

  stop() {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, "client stopped");
    this._setState("idle");
  }

  /** Reconnect now (the browser came back online, or the tab became visible). */
  nudge() {
    if (!this.stopped && this.state === "down") {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this._open();
    }
  }

  _later(ms, fn) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  _setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  async _open({ renewing = false } = {}) {
    if (this.stopped) return;
    if (!renewing) this._setState("connecting", { attempt: this.attempt });
    let url;
    try {
      url = await this.connectUrl();
    } catch (error) {
      if (this.stopped) return;
      if (error.status === 404) {
        this.stop();
        this.dispatchEvent(new CustomEvent("gone", { detail: error.message }));
        return;
      }
      if (renewing) {
        // The current socket is still up: try again soon (if it drops, the reconnect takes over).
        this._later(STABLE_AFTER_MS, () => {
          if (this.socket) this._open({ renewing: true });
        });
        return;
      }
      this._dropped(null, `no ticket: ${error.message}`);
      return;
    }
    if (this.stopped) return;
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      this._dropped(null, `cannot open the socket: ${error.message}`);
      return;
    }
    let opened = false;
    const openTimeout = this._later(CONNECT_TIMEOUT_MS, () => {
      if (!opened) socket.close();
    });
    socket.addEventListener("open", () => {
      opened = true;
      clearTimeout(openTimeout);
      this.timers.delete(openTimeout);
      const previous = this.socket;
      this.socket = socket;
      if (previous && previous !== socket) previous.close(1000, "renewed");
      const reconnected = this.everOpened && !renewing;
      this.everOpened = true;
      this._setState("open");
      if (reconnected) this.dispatchEvent(new Event("reconnected"));
      this._later(STABLE_AFTER_MS, () => {
        if (this.socket === socket) this.attempt = 0;
      });
      this._later(RENEW_AFTER_MS, () => {
        if (this.socket === socket) this._open({ renewing: true });
      });
    });
    socket.addEventListener("message", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        this.dispatchEvent(new CustomEvent("problem", { detail: `unreadable WebSocket message: ${event.data}` }));
        return;
      }
      this.dispatchEvent(new CustomEvent("message", { detail: data }));
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(openTimeout);
      this.timers.delete(openTimeout);
      if (this.stopped) return;
      if (renewing && !opened) return; // a failed renewal: the current socket is still up
      if (this.socket && this.socket !== socket) return; // an old socket, replaced on purpose
      this.socket = null;
      this._dropped(event, opened ? `closed (${event.code}${event.reason ? ` ${event.reason}` : ""})` : "could not connect");
    });
  }

  _dropped(_event, why) {
    const delay = reconnectDelay(this.attempt);
    this.attempt += 1;
    this._setState("down", { why, retryInMs: delay, attempt: this.attempt });
    this._later(delay, () => this._open());
  }
}
