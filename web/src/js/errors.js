// Every failure the user should know about lands in one visible list: nothing fails silently.
import { $, h } from "./dom.js";

const MAX_SHOWN = 8;

export function showError(error) {
  const text = error instanceof Error ? error.message : String(error);
  const list = $("errors");
  const item = h(
    "li",
    { role: "alert" },
    h("span", { class: "error-text" }, text),
    h("button", { type: "button", onclick: () => item.remove() }, "dismiss"),
  );
  list.prepend(item);
  while (list.children.length > MAX_SHOWN) list.lastElementChild.remove();
  console.error(text);
}

/** Wraps an event handler so a thrown or rejected error is shown, never lost. */
export function guarded(handler) {
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (error) {
      showError(error);
    }
  };
}

export function installGlobalHandlers() {
  window.addEventListener("error", (event) => showError(event.error || event.message));
  window.addEventListener("unhandledrejection", (event) => showError(event.reason));
}
