// Pure logic of the console, run by `npm --prefix web test` (node's own test runner, no deps).
import assert from "node:assert/strict";
import { test } from "node:test";

import { describeError, imagePath } from "../src/js/api.js";
import { reconnectDelay } from "../src/js/backoff.js";

test("reconnect delays grow, stay within [b/2, b] and stop at the cap", () => {
  const low = (n) => reconnectDelay(n, { random: () => 0 });
  const high = (n) => reconnectDelay(n, { random: () => 1 });
  assert.deepEqual([0, 1, 2, 3].map(high), [500, 1000, 2000, 4000]);
  assert.deepEqual([0, 1, 2, 3].map(low), [250, 500, 1000, 2000]);
  assert.equal(high(20), 15000);
  assert.equal(low(20), 7500);
});

test("errors read as the API states them, in both of the project's shapes", () => {
  assert.deepEqual(describeError({ error: { code: "invalid_request", message: "bad", field: "kind" } }, "x"), {
    code: "invalid_request",
    message: "bad (field kind)",
  });
  assert.deepEqual(describeError({ error: "not_found", message: "no study" }, "x"), { code: "not_found", message: "no study" });
  assert.deepEqual(describeError({ message: "Forbidden" }, "x"), { code: undefined, message: "Forbidden" });
  assert.deepEqual(describeError("<html>", "Bad Gateway"), { code: undefined, message: "Bad Gateway" });
});

test("image keys keep their slashes and encode everything else", () => {
  assert.equal(imagePath("uploads/ab/plage à midi (1).jpg"), "/images/uploads/ab/plage%20%C3%A0%20midi%20(1).jpg");
});
