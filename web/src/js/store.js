// What survives a reload: the provisioned client (per REST API, so two stacks never mix) and
// the jobs submitted from this browser, so a result that arrived while the page was closed is
// still fetched (GET /jobs/{id}) when it opens again.

const CLIENT_KEY = "pipeline-console.client";
const JOBS_KEY = "pipeline-console.jobs";
const MAX_JOBS = 20;
const TOKEN_MARGIN_MS = 60_000;

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "{}");
  } catch {
    return {};
  }
}

export function loadClient(apiUrl, now = Date.now()) {
  const client = read(CLIENT_KEY)[apiUrl];
  if (!client) return null;
  if (Date.parse(client.token_expires_at) - TOKEN_MARGIN_MS <= now) return null; // expired: provision again
  return client;
}

export function saveClient(apiUrl, client) {
  const all = read(CLIENT_KEY);
  all[apiUrl] = client;
  localStorage.setItem(CLIENT_KEY, JSON.stringify(all));
}

export function forgetClient(apiUrl) {
  const all = read(CLIENT_KEY);
  delete all[apiUrl];
  localStorage.setItem(CLIENT_KEY, JSON.stringify(all));
  const jobs = read(JOBS_KEY);
  delete jobs[apiUrl];
  localStorage.setItem(JOBS_KEY, JSON.stringify(jobs));
}

export function loadJobs(apiUrl) {
  return read(JOBS_KEY)[apiUrl] || [];
}

export function saveJobs(apiUrl, jobIds) {
  const all = read(JOBS_KEY);
  all[apiUrl] = jobIds.slice(-MAX_JOBS);
  localStorage.setItem(JOBS_KEY, JSON.stringify(all));
}
