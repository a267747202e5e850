// Login against the stack's Cognito user pool with plain fetch (no SDK): InitiateAuth with
// USER_PASSWORD_AUTH, RespondToAuthChallenge for a first-login new password or an MFA code,
// REFRESH_TOKEN_AUTH a few minutes before the ID token expires.
//
// Tokens live in memory and in sessionStorage (this tab only, gone when it closes; never
// localStorage, which every tab and every later visit could read). The ID token is what the APIs
// take: `Authorization: <IdToken>` for the REST API (API Gateway's Cognito authorizer) and
// `Authorization: Bearer <IdToken>` for the services HTTP API (its JWT authorizer).

const SESSION_KEY = "pipeline-console.session";
const REFRESH_BEFORE_MS = 5 * 60_000; // renew this long before expiry
const MIN_LEFT_MS = 60_000; // a token with less left is renewed before it is sent

/** Cognito's endpoint: the local cloud's moto (config), or the region's public one. */
export function cognitoEndpoint(config) {
  const local = config.COGNITO_ENDPOINT_URL || config.AWS_ENDPOINT_URL;
  if (local) return local.replace(/\/*$/, "/");
  const pool = config.USER_POOL_ID || "";
  const region = pool.includes("_") ? pool.split("_")[0] : config.AWS_REGION;
  return `https://cognito-idp.${region}.amazonaws.com/`;
}

/** The claims of a JWT (not verified: the APIs verify; the page only reads who it is). */
export function tokenClaims(jwt) {
  const payload = jwt.split(".")[1] || "";
  const base64 = payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** Cognito's error body as it states it: {"__type": "...#NotAuthorizedException", "message": "..."}. */
export function describeCognitoError(body, fallback) {
  if (body && typeof body === "object") {
    const code = typeof body.__type === "string" ? body.__type.split("#").pop() : undefined;
    const message = body.message || body.Message;
    if (code || message) return { code, message: message || fallback };
  }
  return { code: undefined, message: fallback };
}

export class AuthError extends Error {
  constructor(code, message) {
    super(code ? `${code}: ${message}` : message);
    this.code = code;
  }
}

/** What each challenge asks for, in words a user can act on. */
export const CHALLENGES = {
  NEW_PASSWORD_REQUIRED: {
    field: "NEW_PASSWORD",
    label: "New password",
    input: "password",
    text: (user) =>
      `Cognito requires a new password for ${user} before the first sign-in (NEW_PASSWORD_REQUIRED). ` +
      "Choose one: at least 12 characters with upper and lower case letters, digits and symbols.",
  },
  SOFTWARE_TOKEN_MFA: {
    field: "SOFTWARE_TOKEN_MFA_CODE",
    label: "MFA code",
    input: "text",
    text: (user) => `MFA is on for ${user}: enter the code your authenticator app shows (SOFTWARE_TOKEN_MFA).`,
  },
  SMS_MFA: {
    field: "SMS_MFA_CODE",
    label: "SMS code",
    input: "text",
    text: (user) => `MFA is on for ${user}: enter the code sent by SMS (SMS_MFA).`,
  },
};

/** Cognito answered a challenge instead of tokens: the login form asks for `challenge.field`. */
export class ChallengeRequired extends Error {
  constructor(name, session, username) {
    const known = CHALLENGES[name];
    super(known ? known.text(username) : `Cognito asks for ${name}, which this console cannot answer: ask an operator.`);
    this.name = "ChallengeRequired";
    this.challenge = name;
    this.session = session;
    this.username = username;
    this.supported = Boolean(known);
  }
}

export async function cognitoCall(endpoint, action, payload, fetchImpl = globalThis.fetch) {
  let response;
  try {
    response = await fetchImpl(endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
      },
      body: JSON.stringify(payload),
    });
  } catch (error) {
    throw new AuthError("network error", `cannot reach Cognito at ${endpoint}: ${error.message}`);
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) {
    const { code, message } = describeCognitoError(body, text || response.statusText);
    throw new AuthError(code, message);
  }
  return body;
}

export class Auth extends EventTarget {
  constructor(config, { storage = globalThis.sessionStorage, fetchImpl, now = () => Date.now(), timers = globalThis } = {}) {
    super();
    this.endpoint = cognitoEndpoint(config);
    this.clientId = config.USER_POOL_CLIENT_ID;
    this.storage = storage;
    this.fetchImpl = fetchImpl || ((...args) => globalThis.fetch(...args));
    this.now = now;
    this.timers = timers;
    this.session = null; // {username, sub, idToken, accessToken, refreshToken, expiresAt}
    this.refreshing = null;
    this.timer = null;
  }

  get username() {
    return this.session?.username ?? null;
  }

  get loggedIn() {
    return Boolean(this.session);
  }

  /** The session this tab had (a reload keeps it); false when a login is needed. */
  restore() {
    let stored = null;
    try {
      stored = JSON.parse(this.storage.getItem(SESSION_KEY) || "null");
    } catch {
      stored = null;
    }
    if (!stored || !stored.idToken || (!stored.refreshToken && stored.expiresAt - MIN_LEFT_MS <= this.now())) return false;
    this.session = stored;
    this._schedule();
    return true;
  }

  async login(username, password) {
    const answer = await this._call("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: this.clientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    return this._accept(answer, username);
  }

  /** Answer a challenge `login` raised (a new password, an MFA code). */
  async respond(challenge, value) {
    const field = CHALLENGES[challenge.challenge]?.field;
    if (!field) throw challenge;
    const answer = await this._call("RespondToAuthChallenge", {
      ChallengeName: challenge.challenge,
      ClientId: this.clientId,
      Session: challenge.session,
      ChallengeResponses: { USERNAME: challenge.username, [field]: value },
    });
    return this._accept(answer, challenge.username);
  }

  /** A valid ID token, renewed first when it is about to expire. */
  async idToken() {
    if (!this.session) throw new AuthError(undefined, "not signed in");
    if (this.session.expiresAt - MIN_LEFT_MS <= this.now()) await this.refresh();
    return this.session.idToken;
  }

  /** Renew the tokens with the refresh token (one call at a time); a refusal ends the session. */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this._refresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async _refresh() {
    const session = this.session;
    if (!session?.refreshToken) {
      this.expire("your session has ended: sign in again");
      throw new AuthError(undefined, "not signed in");
    }
    let answer;
    try {
      answer = await this._call("InitiateAuth", {
        AuthFlow: "REFRESH_TOKEN_AUTH",
        ClientId: this.clientId,
        AuthParameters: { REFRESH_TOKEN: session.refreshToken },
      });
    } catch (error) {
      if (error.code !== "network error") this.expire(`your session has ended (${error.message}): sign in again`);
      throw error;
    }
    return this._accept(answer, session.username, session.refreshToken);
  }

  /** The APIs refused the token (401) or it cannot be renewed: ask for a login again. */
  expire(reason) {
    const username = this.username;
    this._clear();
    this.dispatchEvent(new CustomEvent("required", { detail: { reason, username } }));
  }

  async logout() {
    const refreshToken = this.session?.refreshToken;
    this._clear();
    if (refreshToken) {
      // Best effort: a revoked refresh token cannot mint new ID tokens, even if it leaked.
      await this._call("RevokeToken", { Token: refreshToken, ClientId: this.clientId }).catch(() => {});
    }
    this.dispatchEvent(new Event("logout"));
  }

  _call(action, payload) {
    return cognitoCall(this.endpoint, action, payload, this.fetchImpl);
  }

  _accept(answer, username, refreshToken) {
    if (answer?.ChallengeName) throw new ChallengeRequired(answer.ChallengeName, answer.Session, username);
    const result = answer?.AuthenticationResult;
    if (!result?.IdToken) throw new AuthError(undefined, "Cognito answered no tokens");
    const claims = tokenClaims(result.IdToken);
    this.session = {
      username: claims["cognito:username"] || username,
      sub: claims.sub,
      idToken: result.IdToken,
      accessToken: result.AccessToken,
      refreshToken: result.RefreshToken || refreshToken,
      expiresAt: this.now() + (result.ExpiresIn || 3600) * 1000,
    };
    this.storage.setItem(SESSION_KEY, JSON.stringify(this.session));
    this._schedule();
    return this.session;
  }

  _schedule() {
    if (this.timer) this.timers.clearTimeout(this.timer);
    if (!this.session?.refreshToken) return;
    const wait = Math.max(0, this.session.expiresAt - REFRESH_BEFORE_MS - this.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.refresh().catch(() => {}); // a refusal has already asked for a login
    }, wait);
  }

  _clear() {
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.session = null;
    this.storage.removeItem(SESSION_KEY);
  }
}
