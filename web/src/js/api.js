// HTTP to the job API (API Gateway, x-api-key), the PACS API (ALB) and S3 (presigned POST).
// Errors keep the words the API used: "POST /clients -> 400 invalid_request: delivery: ...".

export class ApiError extends Error {
  constructor(method, path, status, code, message) {
    super(`${method} ${path} -> ${status}${code ? ` ${code}` : ""}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

/** The error body as the API states it: REST {error: {code, message, field}}, PACS {error, message}. */
export function describeError(body, fallback) {
  if (body && typeof body === "object") {
    const error = body.error;
    if (error && typeof error === "object") {
      return { code: error.code, message: error.field ? `${error.message} (field ${error.field})` : error.message };
    }
    if (typeof error === "string") return { code: error, message: body.message || error };
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

async function call(base, method, path, { headers = {}, body, signal } = {}) {
  let response;
  try {
    response = await fetch(base + path, {
      method,
      headers: { ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(method, path, "network error", undefined, `${error.message} (${base})`);
  }
  const parsed = await readBody(response);
  if (!response.ok) {
    const { code, message } = describeError(parsed, typeof parsed === "string" && parsed ? parsed : response.statusText);
    throw new ApiError(method, path, response.status, code, message);
  }
  return parsed;
}

export class JobApi {
  constructor(config) {
    this.base = config.REST_API_URL.replace(/\/$/, "");
    this.headers = config.REST_API_KEY ? { "x-api-key": config.REST_API_KEY } : {};
  }
  get(path, options = {}) {
    return call(this.base, "GET", path, { ...options, headers: this.headers });
  }
  post(path, body, options = {}) {
    return call(this.base, "POST", path, { ...options, body, headers: this.headers });
  }
}

export class PacsApi {
  constructor(config) {
    this.base = config.PACS_API_URL.replace(/\/$/, "");
  }
  get(path) {
    return call(this.base, "GET", path);
  }
  /** A rendered PNG as a Blob, or the PACS's own error. */
  async image(path) {
    let response;
    try {
      response = await fetch(this.base + path);
    } catch (error) {
      throw new ApiError("GET", path, "network error", undefined, error.message);
    }
    if (!response.ok) {
      const { code, message } = describeError(await readBody(response), response.statusText);
      throw new ApiError("GET", path, response.status, code, message);
    }
    return response.blob();
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
