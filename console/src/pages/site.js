// One site: its integrations (with their health), its keywords, the pipeline's objects and runs.
import { useState } from "preact/hooks";
import { api, newKey } from "../api.js";
import { html } from "../html.js";
import { Link } from "../router.js";
import { Action, ErrorBox, Loading, useLoad, when } from "../ui.js";
import { ArticlesList, ClustersList, IdeasList, KeywordsTab } from "./library.js";
import { RunsTab } from "./runs.js";
import { SettingsTab } from "./settings.js";

const TABS = [
  ["overview", "Overview"],
  ["keywords", "Keywords"],
  ["clusters", "Clusters"],
  ["ideas", "Ideas"],
  ["articles", "Articles"],
  ["runs", "Runs"],
  ["settings", "Settings"],
];

export function SitePage({ siteId, params }) {
  const site = useLoad(() => api(`/sites/${siteId}`), [siteId]);
  const tab = params.get("tab") || "overview";
  const body = {
    overview: html`<${Integrations} siteId=${siteId} />`,
    keywords: html`<${KeywordsTab} siteId=${siteId} />`,
    clusters: html`<${ClustersList} siteId=${siteId} />`,
    ideas: html`<${IdeasList} siteId=${siteId} />`,
    articles: html`<${ArticlesList} siteId=${siteId} />`,
    runs: html`<${RunsTab} siteId=${siteId} />`,
    settings: html`<${SettingsTab} siteId=${siteId} />`,
  }[tab];
  return html`
    <p class="crumbs"><${Link} href="/sites">Sites</${Link}> ›</p>
    <h1 tabindex="-1">${site.data ? site.data.name : "Site"}</h1>
    <${ErrorBox} error=${site.error} />
    ${site.data ? html`<p class="muted">${site.data.url} · ${site.data.niche || "no niche set"}</p>` : null}
    <nav aria-label="Site sections" class="tabs">
      <ul>
        ${TABS.map(
          ([key, label]) => html`<li>
            <${Link}
              href=${`/sites/${siteId}?tab=${key}`}
              aria-current=${tab === key ? "page" : null}
              >${label}</${Link}
            >
          </li>`,
        )}
      </ul>
    </nav>
    ${body || html`<p>No such section.</p>`}
  `;
}

function Health({ integration }) {
  const health = useLoad(
    () => api(`/integrations/${integration.integration_id}/health`),
    [integration.integration_id, integration.version],
  );
  if (health.loading) return html`<${Loading} what="health" />`;
  if (health.error) return html`<${ErrorBox} error=${health.error} />`;
  const h = health.data;
  const score = h.health_score ?? h.score ?? integration.health_score;
  return html`<p>
    Health <strong>${score}</strong>/100
    ${h.status ? html` · ${h.status}` : null}
    ${integration.last_error ? html` · last error: ${integration.last_error}` : null}
  </p>`;
}

function Integrations({ siteId }) {
  const list = useLoad(() => api(`/sites/${siteId}/integrations`), [siteId]);
  const [form, setForm] = useState({ platform: "static", base_url: "https://", folder: "", username: "", secret: "" });
  const [error, setError] = useState(null);
  const [message, setMessage] = useState(null);
  const field = (name) => (e) => setForm({ ...form, [name]: e.currentTarget.value });
  const connect = async (event) => {
    event.preventDefault();
    setError(null);
    const body = { platform: form.platform, base_url: form.base_url, settings: {} };
    if (form.platform === "static") body.settings.folder = form.folder;
    if (form.platform === "wordpress")
      body.credentials = { username: form.username, application_password: form.secret };
    if (form.platform === "shopify") body.credentials = { access_token: form.secret };
    try {
      await api(`/sites/${siteId}/integrations`, {
        method: "POST",
        body,
        idempotencyKey: newKey("integration"),
      });
      list.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const items = list.data ? list.data.items || list.data : [];
  return html`
    <section aria-labelledby="integrations">
      <h2 id="integrations">Integrations</h2>
      <${ErrorBox} error=${list.error} />
      ${list.data && items.length === 0
        ? html`<p class="empty">Nothing is connected: connect WordPress, Shopify or a static
            export folder below so approved articles are published.</p>`
        : null}
      <ul class="cards">
        ${items.map(
          (i) => html`<li class="card" key=${i.integration_id}>
            <h3>${i.platform} · ${i.base_url}</h3>
            <p class="muted">
              sync ${i.sync_status}${i.last_synced_at ? ` (last ${when(i.last_synced_at)})` : ""}
              ${i.last_test ? ` · last test: ${i.last_test.success ? "passed" : `failed — ${i.last_test.reason}`}` : ""}
            </p>
            <${Health} integration=${i} />
            <${Action}
              kind="secondary"
              run=${async () => {
                const r = await api(`/integrations/${i.integration_id}/test`, { method: "POST" });
                setMessage(`Test ${r.success ? "passed" : "failed"}: ${r.detail || r.reason}`);
                list.reload();
              }}
              >Test connection</${Action}
            >
            <${Action}
              kind="secondary"
              run=${async () => {
                await api(`/integrations/${i.integration_id}/sync`, { method: "POST" });
                setMessage("Sync started.");
                list.reload();
              }}
              >Sync now</${Action}
            >
          </li>`,
        )}
      </ul>
      ${message ? html`<p role="status">${message}</p>` : null}
      <h3>Connect an integration</h3>
      <form class="grid" onSubmit=${connect}>
        <label for="platform">Platform</label>
        <select id="platform" value=${form.platform} onChange=${field("platform")}>
          <option value="static">Static export folder</option>
          <option value="wordpress">WordPress</option>
          <option value="shopify">Shopify</option>
        </select>
        <label for="base-url">Site address</label>
        <input id="base-url" type="url" required value=${form.base_url} onInput=${field("base_url")} />
        ${form.platform === "static"
          ? html`<label for="folder">Export folder</label>
              <input id="folder" required value=${form.folder} onInput=${field("folder")} />`
          : null}
        ${form.platform === "wordpress"
          ? html`<label for="wp-user">WordPress user</label>
              <input id="wp-user" required value=${form.username} onInput=${field("username")} />`
          : null}
        ${form.platform !== "static"
          ? html`<label for="secret">${form.platform === "wordpress" ? "Application password" : "Access token"}</label>
              <input id="secret" type="password" required value=${form.secret} onInput=${field("secret")} />`
          : null}
        <span></span><button type="submit">Connect</button>
      </form>
      <${ErrorBox} error=${error} />
    </section>
  `;
}
