// Pure logic of the console, run by `npm --prefix web test` (node's own test runner, no deps).
import assert from "node:assert/strict";
import { test } from "node:test";

import { authorization, describeError, imagePath } from "../src/js/api.js";
import { Auth, AuthError, ChallengeRequired, cognitoEndpoint, describeCognitoError, tokenClaims } from "../src/js/auth.js";
import { reconnectDelay } from "../src/js/backoff.js";
import { ticketUrl } from "../src/js/socket.js";

test("reconnect delays grow, stay within [b/2, b] and stop at the cap", () => {
  const low = (n) => reconnectDelay(n, { random: () => 0 });
  const high = (n) => reconnectDelay(n, { random: () => 1 });
  assert.deepEqual([0, 1, 2, 3].map(high), [500, 1000, 2000, 4000]);
  assert.deepEqual([0, 1, 2, 3].map(low), [250, 500, 1000, 2000]);
  assert.equal(high(20), 15000);
  assert.equal(low(20), 7500);
});

test("errors read as the API states them, in the project's one error body", () => {
  assert.deepEqual(describeError({ error: { code: "invalid_request", message: "bad", field: "kind" } }, "x"), {
    code: "invalid_request",
    message: "bad (field kind)",
  });
  assert.deepEqual(describeError({ error: { code: "not_found", message: "no study" } }, "x"), { code: "not_found", message: "no study" });
  // The PACS's former {error, message} is no longer a shape any API answers: not parsed.
  assert.deepEqual(describeError({ error: "not_found" }, "Not Found"), { code: undefined, message: "Not Found" });
  // API Gateway's own refusal, before any of the project's APIs:
  assert.deepEqual(describeError({ message: "Forbidden" }, "x"), { code: undefined, message: "Forbidden" });
  assert.deepEqual(describeError("<html>", "Bad Gateway"), { code: undefined, message: "Bad Gateway" });
});

test("image keys keep their slashes and encode everything else", () => {
  assert.equal(imagePath("uploads/ab/plage à midi (1).jpg"), "/images/uploads/ab/plage%20%C3%A0%20midi%20(1).jpg");
});

// ---- sign-in (auth.js) and tickets (socket.js) -------------------------------------------------

const CONFIG = { USER_POOL_ID: "eu-west-1_AbC", USER_POOL_CLIENT_ID: "client-1", AWS_REGION: "us-east-1" };

function jwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", kid: "k" })}.${part(claims)}.sig`;
}

class MemoryStorage {
  constructor() {
    this.items = new Map();
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    this.items.set(key, String(value));
  }
  removeItem(key) {
    this.items.delete(key);
  }
}

/** A stand-in for Cognito: answers each call with the next reply and records what was asked. */
function fakeCognito(...replies) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, target: init.headers["X-Amz-Target"], contentType: init.headers["Content-Type"], body: JSON.parse(init.body) });
    const [status, body] = replies.shift();
    return { ok: status < 400, status, statusText: "", text: async () => JSON.stringify(body) };
  };
  return { calls, fetchImpl };
}

const noTimers = { setTimeout: () => 1, clearTimeout: () => {} };

function tokens(username = "alice", expiresIn = 3600, refresh = "r-1") {
  return {
    AuthenticationResult: {
      IdToken: jwt({ sub: "sub-1", "cognito:username": username, token_use: "id" }),
      AccessToken: "a",
      ExpiresIn: expiresIn,
      ...(refresh ? { RefreshToken: refresh } : {}),
    },
  };
}

test("Cognito is the local cloud's moto when configured, else the pool's region", () => {
  assert.equal(cognitoEndpoint({ ...CONFIG, COGNITO_ENDPOINT_URL: "http://127.0.0.1:5000" }), "http://127.0.0.1:5000/");
  assert.equal(cognitoEndpoint({ ...CONFIG, AWS_ENDPOINT_URL: "http://127.0.0.1:5001/" }), "http://127.0.0.1:5001/");
  assert.equal(cognitoEndpoint(CONFIG), "https://cognito-idp.eu-west-1.amazonaws.com/");
});

test("a sign-in posts InitiateAuth as Cognito's JSON protocol and keeps the session in the tab", async () => {
  const storage = new MemoryStorage();
  const { calls, fetchImpl } = fakeCognito([200, tokens()]);
  const auth = new Auth(CONFIG, { storage, fetchImpl, now: () => 1_000_000, timers: noTimers });

  const session = await auth.login("alice", "pw");

  assert.equal(session.username, "alice");
  assert.equal(session.sub, "sub-1");
  assert.equal(calls[0].url, "https://cognito-idp.eu-west-1.amazonaws.com/");
  assert.equal(calls[0].target, "AWSCognitoIdentityProviderService.InitiateAuth");
  assert.equal(calls[0].contentType, "application/x-amz-json-1.1");
  assert.deepEqual(calls[0].body, { AuthFlow: "USER_PASSWORD_AUTH", ClientId: "client-1", AuthParameters: { USERNAME: "alice", PASSWORD: "pw" } });
  assert.equal(await auth.idToken(), session.idToken);
  assert.ok(!JSON.stringify([...storage.items.values()]).includes("pw"), "the password is never stored");
  const restored = new Auth(CONFIG, { storage, fetchImpl, now: () => 1_000_000, timers: noTimers });
  assert.equal(restored.restore(), true);
  assert.equal(restored.username, "alice");
});

test("Cognito's refusal is shown in its own words", async () => {
  const { fetchImpl } = fakeCognito([400, { __type: "NotAuthorizedException", message: "Incorrect username or password." }]);
  const auth = new Auth(CONFIG, { storage: new MemoryStorage(), fetchImpl, timers: noTimers });

  await assert.rejects(auth.login("alice", "wrong"), (error) => {
    assert.ok(error instanceof AuthError);
    assert.equal(error.message, "NotAuthorizedException: Incorrect username or password.");
    return true;
  });
  assert.deepEqual(describeCognitoError({ __type: "com.amazon#UserNotFoundException", message: "x" }, "f"), { code: "UserNotFoundException", message: "x" });
});

test("a first sign-in that needs a new password asks for one and answers the challenge", async () => {
  const { calls, fetchImpl } = fakeCognito(
    [200, { ChallengeName: "NEW_PASSWORD_REQUIRED", Session: "s-1", ChallengeParameters: {} }],
    [200, tokens("bob")],
  );
  const auth = new Auth(CONFIG, { storage: new MemoryStorage(), fetchImpl, timers: noTimers });

  let challenge;
  await assert.rejects(auth.login("bob", "temporary"), (error) => {
    challenge = error;
    return error instanceof ChallengeRequired && error.supported && /new password for bob/.test(error.message);
  });
  const session = await auth.respond(challenge, "N3w-password-ok!");

  assert.equal(session.username, "bob");
  assert.equal(calls[1].target, "AWSCognitoIdentityProviderService.RespondToAuthChallenge");
  assert.deepEqual(calls[1].body, {
    ChallengeName: "NEW_PASSWORD_REQUIRED",
    ClientId: "client-1",
    Session: "s-1",
    ChallengeResponses: { USERNAME: "bob", NEW_PASSWORD: "N3w-password-ok!" },
  });
});

test("a token about to expire is renewed with the refresh token before it is sent", async () => {
  let now = 0;
  const { calls, fetchImpl } = fakeCognito([200, tokens("alice", 3600, "r-1")], [200, tokens("alice", 3600, null)]);
  const auth = new Auth(CONFIG, { storage: new MemoryStorage(), fetchImpl, now: () => now, timers: noTimers });
  const first = (await auth.login("alice", "pw")).idToken;

  now = 3600_000 - 30_000; // 30 s left
  await auth.idToken();

  assert.ok(first);
  assert.deepEqual(calls[1].body, { AuthFlow: "REFRESH_TOKEN_AUTH", ClientId: "client-1", AuthParameters: { REFRESH_TOKEN: "r-1" } });
  assert.equal(auth.session.refreshToken, "r-1", "a refresh answers no new refresh token: the old one stays");
  assert.equal(auth.session.expiresAt, now + 3600_000);
});

test("a refused refresh ends the session and asks for a sign-in", async () => {
  const storage = new MemoryStorage();
  const { fetchImpl } = fakeCognito([200, tokens()], [400, { __type: "NotAuthorizedException", message: "Refresh Token has been revoked" }]);
  const auth = new Auth(CONFIG, { storage, fetchImpl, timers: noTimers });
  await auth.login("alice", "pw");
  const asked = [];
  auth.addEventListener("required", (event) => asked.push(event.detail));

  await assert.rejects(auth.refresh());

  assert.equal(auth.loggedIn, false);
  assert.equal(storage.items.size, 0);
  assert.equal(asked[0].username, "alice");
  assert.match(asked[0].reason, /Refresh Token has been revoked/);
});

test("the REST API gets the raw ID token, the HTTP API a Bearer token", () => {
  assert.deepEqual(authorization("raw", "t.k.n"), { Authorization: "t.k.n" });
  assert.deepEqual(authorization("bearer", "t.k.n"), { Authorization: "Bearer t.k.n" });
});

test("the WebSocket URL carries the one-time ticket and nothing else", () => {
  assert.equal(ticketUrl("wss://ws.example/prod", "a+b/c="), "wss://ws.example/prod?ticket=a%2Bb%2Fc%3D");
});

test("token claims are read from the JWT payload (base64url)", () => {
  assert.deepEqual(tokenClaims(jwt({ sub: "é-1", "cognito:groups": ["admins"] })), { sub: "é-1", "cognito:groups": ["admins"] });
});
