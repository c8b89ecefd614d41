import { useState } from "preact/hooks";
import { api, newKey } from "../api.js";
import { html } from "../html.js";
import { Link, navigate } from "../router.js";
import { ErrorBox, More, usePaged } from "../ui.js";

export function SitesPage() {
  const sites = usePaged("/sites");
  const [form, setForm] = useState({ name: "", url: "https://", sector: "", niche: "" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const field = (name) => (e) => setForm({ ...form, [name]: e.currentTarget.value });
  const create = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const site = await api("/sites", {
        method: "POST",
        body: form,
        idempotencyKey: newKey("site"),
      });
      navigate(`/sites/${site.site_id}`);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <h1 tabindex="-1">Sites</h1>
    ${!sites.loading && !sites.error && sites.items.length === 0
      ? html`<p class="empty">No sites yet. Add your first site below, then upload keywords and
          start a run.</p>`
      : null}
    ${sites.items.length
      ? html`<table>
          <caption class="sr-only">Your sites</caption>
          <thead><tr><th scope="col">Site</th><th scope="col">Address</th><th scope="col">Niche</th></tr></thead>
          <tbody>
            ${sites.items.map(
              (s) => html`<tr>
                <td><${Link} href=${`/sites/${s.site_id}`}>${s.name}</${Link}></td>
                <td>${s.url}</td>
                <td>${s.niche || "—"}</td>
              </tr>`,
            )}
          </tbody>
        </table>`
      : null}
    <${More} list=${sites} what="sites" />
    <section aria-labelledby="new-site">
      <h2 id="new-site">Add a site</h2>
      <form class="grid" onSubmit=${create}>
        <label for="site-name">Name</label>
        <input id="site-name" required maxlength="200" value=${form.name} onInput=${field("name")} />
        <label for="site-url">Address</label>
        <input id="site-url" type="url" required value=${form.url} onInput=${field("url")} />
        <label for="site-sector">Sector</label>
        <input id="site-sector" maxlength="200" value=${form.sector} onInput=${field("sector")} />
        <label for="site-niche">Niche</label>
        <input id="site-niche" maxlength="200" value=${form.niche} onInput=${field("niche")} />
        <span></span><button type="submit" disabled=${busy}>Add site</button>
      </form>
      <${ErrorBox} error=${error} />
    </section>
  `;
}
