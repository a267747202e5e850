// A tiny DOM helper: the console builds its few dynamic parts with h() instead of a framework.

export const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`page is missing #${id}`);
  return element;
};

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

/** A two-column table of [label, value] pairs; values that are absent are left out. */
export function keyValueRows(table, pairs) {
  clear(table);
  for (const [label, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    table.append(h("tr", {}, h("th", {}, label), h("td", {}, formatValue(value))));
  }
  return table;
}

export function formatValue(value) {
  if (Array.isArray(value)) return value.map(formatValue).join(", ");
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(3);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Stage timings as a table, in pipeline order, total last. */
export function timingsTable(timings, order = []) {
  const names = Object.keys(timings || {});
  const ordered = [
    ...order.filter((n) => names.includes(n)),
    ...names.filter((n) => !order.includes(n) && n !== "total"),
    ...(names.includes("total") ? ["total"] : []),
  ];
  return h(
    "table",
    { class: "kv timings" },
    ordered.map((name) =>
      h("tr", { dataset: { stage: name } }, h("th", {}, name), h("td", {}, `${timings[name].toFixed(1)} ms`)),
    ),
  );
}
