// HTTP to the job API (REST API, `Authorization: <IdToken>`), the PACS API (services HTTP API,
// `Authorization: Bearer <IdToken>`) and S3 (presigned POST: its own signature, no token).
// Errors keep the words the API used: "POST /clients -> 400 invalid_request: delivery: ...".
// A 401 renews the token once and retries; a second 401 ends the session (the login form shows).

export class ApiError extends Error {
  constructor(method, path, status, code, message) {
    super(`${method} ${path} -> ${status}${code ? ` ${code}` : ""}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

/**
 * The error body every API of the project answers: {error: {code, message, field?}}. API Gateway's
 * own refusals (its authorizers' 401, throttling) come before any of them, as {message}, a shape
 * the HTTP API cannot change: their words are shown without a code. Anything else: `fallback`.
 */
export function describeError(body, fallback) {
  if (body && typeof body === "object") {
    const error = body.error;
    if (error && typeof error === "object" && typeof error.message === "string") {
      return { code: error.code, message: error.field ? `${error.message} (field ${error.field})` : error.message };
    }
    if (typeof body.message === "string") return { code: undefined, message: body.message };
  }
  return { code: undefined, message: fallback };
}

async function readBody(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/** The header each API's authorizer reads: REST (Cognito authorizer) the raw token, HTTP API (JWT authorizer) Bearer. */
export function authorization(kind, token) {
  return { Authorization: kind === "bearer" ? `Bearer ${token}` : token };
}

async function send(base, method, path, { headers = {}, body, signal } = {}) {
  try {
    return await fetch(base + path, {
      method,
      headers: { ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(method, path, "network error", undefined, `${error.message} (${base})`);
  }
}

/** A call as the signed-in user: a 401 renews the token and retries once, then ends the session. */
async function authorized(auth, kind, base, method, path, options = {}) {
  const attempt = async () =>
    send(base, method, path, { ...options, headers: { ...options.headers, ...authorization(kind, await auth.idToken()) } });
  let response = await attempt();
  if (response.status === 401) {
    try {
      await auth.refresh();
      response = await attempt();
    } catch {
      // the refresh was refused: the session has ended, the 401 below says why
    }
  }
  if (!response.ok) {
    const parsed = await readBody(response);
    const { code, message } = describeError(parsed, typeof parsed === "string" && parsed ? parsed : response.statusText);
    const error = new ApiError(method, path, response.status, code, message);
    if (response.status === 401 && auth.loggedIn) auth.expire(`${error.message}: sign in again`);
    throw error;
  }
  return response;
}

export class JobApi {
  constructor(config, auth) {
    this.base = config.REST_API_URL.replace(/\/$/, "");
    this.auth = auth;
  }
  async request(method, path, options = {}) {
    const response = await authorized(this.auth, "raw", this.base, method, path, options);
    return readBody(response);
  }
  get(path, options = {}) {
    return this.request("GET", path, options);
  }
  post(path, body, options = {}) {
    return this.request("POST", path, { ...options, body });
  }
  delete(path, options = {}) {
    return this.request("DELETE", path, options);
  }
}

export class PacsApi {
  constructor(config, auth) {
    this.base = config.PACS_API_URL.replace(/\/$/, "");
    this.auth = auth;
  }
  /** QIDO-RS and WADO-RS metadata: DICOM JSON (a JSON array of datasets). */
  async get(path) {
    const headers = { Accept: "application/dicom+json" };
    return readBody(await authorized(this.auth, "bearer", this.base, "GET", path, { headers }));
  }
  /** WADO-RS frames: the multipart/related answer's content type and bytes (native pixels). */
  async frames(path) {
    const headers = { Accept: 'multipart/related; type="application/octet-stream"' };
    const response = await authorized(this.auth, "bearer", this.base, "GET", path, { headers });
    return { contentType: response.headers.get("content-type"), bytes: new Uint8Array(await response.arrayBuffer()) };
  }
  /** A rendered PNG as a Blob, or the PACS's own error. */
  async image(path) {
    const headers = { Accept: "image/png" };
    return (await authorized(this.auth, "bearer", this.base, "GET", path, { headers })).blob();
  }
}

/** `GET /images/{key+}`: each segment of the key encoded, its slashes kept. */
export function imagePath(key) {
  return "/images/" + key.split("/").map(encodeURIComponent).join("/");
}

/** POST a file to S3 with a presigned POST ticket from `POST /uploads`. */
export async function uploadToS3(ticket, file) {
  const form = new FormData();
  for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
  form.append("file", file); // S3 ignores every field after the file: it must come last
  let response;
  try {
    response = await fetch(ticket.url, { method: "POST", body: form });
  } catch (error) {
    throw new ApiError("POST", "(S3 upload)", "network error", undefined, error.message);
  }
  if (!response.ok) {
    const text = await response.text();
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] || text || response.statusText;
    throw new ApiError("POST", "(S3 upload)", response.status, code, message);
  }
}
