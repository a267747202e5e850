// What survives a reload: the provisioned client and the jobs submitted from this browser, per
// REST API and user (`storeKey`: two stacks or two users never mix; another user's client would
// answer 404 anyway), so a result that arrived while the page was closed is still fetched
// (GET /jobs/{id}) when it opens again. Only ids are kept here: they grant nothing without the
// user's login (tokens live in sessionStorage, see auth.js; tickets are never stored).

const CLIENT_KEY = "pipeline-console.client";
const JOBS_KEY = "pipeline-console.jobs";
const MAX_JOBS = 20;

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "{}");
  } catch {
    return {};
  }
}

/** The key the client and jobs of one user on one stack are kept under. */
export function storeKeyFor(apiUrl, username) {
  return `${apiUrl} ${username}`;
}

export function loadClient(storeKey) {
  const client = read(CLIENT_KEY)[storeKey];
  return client && client.client_id ? client : null;
}

export function saveClient(storeKey, client) {
  const all = read(CLIENT_KEY);
  all[storeKey] = client;
  localStorage.setItem(CLIENT_KEY, JSON.stringify(all));
}

export function forgetClient(storeKey) {
  const all = read(CLIENT_KEY);
  delete all[storeKey];
  localStorage.setItem(CLIENT_KEY, JSON.stringify(all));
  const jobs = read(JOBS_KEY);
  delete jobs[storeKey];
  localStorage.setItem(JOBS_KEY, JSON.stringify(jobs));
}

export function loadJobs(storeKey) {
  return read(JOBS_KEY)[storeKey] || [];
}

export function saveJobs(storeKey, jobIds) {
  const all = read(JOBS_KEY);
  all[storeKey] = jobIds.slice(-MAX_JOBS);
  localStorage.setItem(JOBS_KEY, JSON.stringify(all));
}
