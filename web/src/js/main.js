// Boot: read config.json (the stack's endpoints and user pool), sign in (or resume this tab's
// session), wire the panels, and start where the last visit left off (the stored client
// reconnects; its unfinished jobs are checked).
import { JobApi, PacsApi } from "./api.js";
import { Auth } from "./auth.js";
import { $ } from "./dom.js";
import { guarded, installGlobalHandlers, showError } from "./errors.js";
import { storeKeyFor } from "./store.js";
import { ClientPanel } from "./views/client.js";
import { ImagesPanel } from "./views/images.js";
import { JobsPanel } from "./views/jobs.js";
import { LoginForm } from "./views/login.js";
import { PacsPanel } from "./views/pacs.js";
import { VideoPanel } from "./views/video.js";

const REQUIRED = ["REST_API_URL", "WEBSOCKET_URL", "PACS_API_URL", "USER_POOL_ID", "USER_POOL_CLIENT_ID"];

async function loadConfig() {
  let response;
  try {
    response = await fetch("config.json", { cache: "no-store" });
  } catch (error) {
    throw new Error(`config.json could not be fetched: ${error.message}`);
  }
  if (!response.ok) throw new Error(`config.json -> ${response.status}: generate it from the stack outputs (docs/web-console.md)`);
  const config = await response.json();
  const missing = REQUIRED.filter((key) => !config[key]);
  if (missing.length) throw new Error(`config.json lacks ${missing.join(", ")}`);
  return config;
}

function wireTabs() {
  const buttons = document.querySelectorAll("#tabs button");
  for (const button of buttons) {
    button.addEventListener("click", () => {
      for (const other of buttons) {
        other.setAttribute("aria-selected", String(other === button));
        $(`tab-${other.dataset.tab}`).hidden = other !== button;
      }
    });
  }
}

function showUser(auth) {
  $("whoami").textContent = auth.username ? `signed in as ${auth.username}` : "";
  $("logout").hidden = !auth.username;
}

async function start(config, auth) {
  const username = auth.username;
  const storeKey = storeKeyFor(config.REST_API_URL, username);
  const api = new JobApi(config, auth);
  const client = new ClientPanel({ api, config, storeKey, username });
  let pacs = null;
  const jobs = new JobsPanel({
    api,
    client,
    storeKey,
    reveal: (ids) => pacs.reveal(ids),
    showSegmentation: (seg, source) => pacs.showSegmentation(seg, source),
  });
  pacs = new PacsPanel({ pacs: new PacsApi(config, auth), onSelect: (target) => jobs.select(target) });
  new ImagesPanel({ api });
  new VideoPanel({ api });
  client.restore();
  await Promise.all([guarded(() => jobs.loadAlgorithms())(), guarded(() => pacs.loadStudies())()]);
  return client;
}

async function main() {
  installGlobalHandlers();
  wireTabs();
  const config = await loadConfig();
  const auth = new Auth(config);
  const login = new LoginForm({ auth });
  $("logout").addEventListener("click", guarded(() => auth.logout()));
  // Signing out forgets everything this page holds for the user: start over from a clean page.
  auth.addEventListener("logout", () => window.location.reload());

  // The APIs refused the token, or it could not be renewed: stop listening, sign in again, and
  // carry on as the same user (another user gets a fresh page: nothing of the first one stays).
  let client = null;
  let signingIn = false;
  auth.addEventListener("required", async (event) => {
    if (signingIn) return; // several calls refused at once: one form
    signingIn = true;
    const { reason, username } = event.detail;
    client?.stop();
    showUser(auth);
    await login.show(reason, username);
    signingIn = false;
    if (auth.username !== username) {
      window.location.reload();
      return;
    }
    showUser(auth);
    client?.restore();
  });

  if (!auth.restore()) {
    document.body.dataset.ready = "login";
    await login.show();
  }
  login.hide();
  showUser(auth);
  client = await start(config, auth);
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  showError(error);
  document.body.dataset.ready = "error";
});
