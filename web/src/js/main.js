// Boot: read config.json (the stack's endpoints), wire the panels, and start where the last
// visit left off (the stored client reconnects; its unfinished jobs are checked).
import { JobApi, PacsApi } from "./api.js";
import { $ } from "./dom.js";
import { guarded, installGlobalHandlers, showError } from "./errors.js";
import { ClientPanel } from "./views/client.js";
import { ImagesPanel } from "./views/images.js";
import { JobsPanel } from "./views/jobs.js";
import { PacsPanel } from "./views/pacs.js";
import { VideoPanel } from "./views/video.js";

const REQUIRED = ["REST_API_URL", "WEBSOCKET_URL", "PACS_API_URL"];

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

async function main() {
  installGlobalHandlers();
  wireTabs();
  const config = await loadConfig();
  const api = new JobApi(config);
  const client = new ClientPanel({ api, config });
  const jobs = new JobsPanel({ api, client, config });
  const pacs = new PacsPanel({ pacs: new PacsApi(config), onSelect: (target) => jobs.select(target) });
  new ImagesPanel({ api });
  new VideoPanel({ api });
  client.restore();
  await Promise.all([guarded(() => jobs.loadAlgorithms())(), guarded(() => pacs.loadStudies())()]);
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  showError(error);
  document.body.dataset.ready = "error";
});
