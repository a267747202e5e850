// Reconnect delays: exponential with jitter, so clients that lost the socket together do not
// all come back in the same instant. The n-th delay is uniform in [b/2, b], b = min(cap, initial * 2^n).

export function reconnectDelay(attempt, { initialMs = 500, capMs = 15000, random = Math.random } = {}) {
  const ceiling = Math.min(capMs, initialMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
