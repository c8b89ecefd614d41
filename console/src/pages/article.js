// An article: its rendered preview, score and checks, injected links, approval and publication.
import { useEffect, useState } from "preact/hooks";
import { api, authHeaders } from "../api.js";
import { html } from "../html.js";
import { Link, navigate } from "../router.js";
import { Action, ErrorBox, Loading, useLoad, when } from "../ui.js";

const LIVE = new Set(["pending_approval", "scheduled", "publishing"]);

const IMAGE = /\/images\/([0-9a-f-]{36})(?:[?#].*)?$/;

// data: URLs, not blob: ones: the sandboxed frame has an origin of its own.
function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** The article's images are served to signed-in callers only: each is fetched through `/v1`
 * with the token and put inline before the frame is filled. The frame's document is written
 * once per version of the article: replacing a srcdoc navigates the sandboxed frame again, and
 * Chromium leaves it unpainted (its content "hidden") while it does, so a text-first document
 * followed by one with images showed a blank or flickering preview. */
function page(doc) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"></head>${doc.body.outerHTML}</html>`;
}

async function withImages(markup) {
  const doc = new DOMParser().parseFromString(markup, "text/html");
  const images = [];
  for (const img of doc.querySelectorAll("img")) {
    const found = IMAGE.exec(img.getAttribute("src") || "");
    if (found) {
      images.push([img, found[1]]);
      img.removeAttribute("src");
    }
  }
  await Promise.all(
    images.map(async ([img, id]) => {
      try {
        const response = await fetch(`/v1/images/${id}`, { headers: authHeaders() });
        if (response.ok) img.setAttribute("src", await dataUrl(await response.blob()));
      } catch {
        /* the image stays out: its alt text shows */
      }
    }),
  );
  return page(doc);
}

function Preview({ title, markup }) {
  const [shown, setShown] = useState(null);
  useEffect(() => {
    let current = true;
    withImages(markup).then((done) => current && setShown(done));
    return () => {
      current = false;
    };
  }, [markup]);
  if (shown === null) return html`<${Loading} what="the preview" />`;
  // The article's HTML is shown in a sandboxed frame: no script of it runs, nothing of it can
  // reach the console's page or its token. Being sandboxed it cannot be measured from here,
  // so its box is resizable (drag its corner) instead of sized to the article.
  return html`<div class="preview-box">
    <iframe
      class="preview"
      title=${`Preview of ${title}`}
      sandbox=""
      referrerpolicy="no-referrer"
      srcdoc=${shown}
    ></iframe>
  </div>`;
}

// Publishing's check names (its analyzer's WEIGHTS) as a reader would say them.
const CHECKS = {
  keyphrase_in_title: "Keyphrase in the title",
  keyphrase_in_introduction: "Keyphrase in the introduction",
  keyphrase_in_slug: "Keyphrase in the slug",
  keyphrase_in_meta_description: "Keyphrase in the meta description",
  keyphrase_in_subheadings: "Keyphrase in subheadings",
  keyphrase_in_image_alt: "Keyphrase in image alt text",
  keyphrase_density: "Keyphrase density",
  meta_description_length: "Meta description length",
  text_length: "Text length",
  single_h1: "A single main heading (H1)",
  subheading_distribution: "Subheadings spread through the text",
  paragraph_length: "Paragraph length",
  sentence_length: "Sentence length",
  flesch_reading_ease: "Reading ease (Flesch)",
  internal_links: "Internal links",
  outbound_links: "Outbound links",
  no_keyphrase_anchor: "No link anchored on the keyphrase",
};

/** A check's label: known names by their text, any other name made readable. */
export function checkLabel(name) {
  if (CHECKS[name]) return CHECKS[name];
  const words = String(name).replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function Checks({ report }) {
  if (report.loading) return html`<${Loading} what="the analysis" />`;
  if (report.error)
    return report.error.status === 404
      ? html`<p class="empty">Not analysed yet: publishing scores an article when it receives it.</p>`
      : html`<${ErrorBox} error=${report.error} />`;
  const r = report.data;
  const checks = (r.report && r.report.checks) || [];
  return html`<p>Optimization score <strong data-testid="score">${r.score ?? "—"}</strong>/100 (version ${r.version})</p>
    <table>
      <caption class="sr-only">Optimization checks</caption>
      <thead><tr><th scope="col">Check</th><th scope="col">Result</th><th scope="col">Why</th></tr></thead>
      <tbody>
        ${checks.map(
          (c) => html`<tr data-check=${c.name}>
            <td>${checkLabel(c.name)} <code class="muted check-name">${c.name}</code></td><td><span class=${`badge ${c.result}`}>${c.result}</span></td><td>${c.why}</td></tr>`,
        )}
      </tbody>
    </table>`;
}

export function ArticlePage({ siteId, contentId }) {
  const base = `/sites/${siteId}`;
  const content = useLoad(() => api(`${base}/content/${contentId}`), [contentId]);
  const report = useLoad(() => api(`${base}/articles/${contentId}/report`), [contentId]);
  const rendered = useLoad(
    () => api(`${base}/articles/${contentId}/html`).catch(() => null),
    [contentId],
  );
  const links = useLoad(() => api(`${base}/links?content_id=${contentId}`), [contentId]);
  const publications = useLoad(
    () => api(`${base}/publications?content_id=${contentId}&limit=50`),
    [contentId],
  );
  const [notice, setNotice] = useState(null);
  const pubs = publications.data ? publications.data.items : [];
  // While a publication is on its way, look again every two seconds.
  useEffect(() => {
    if (!pubs.some((p) => LIVE.has(p.status) && p.status !== "pending_approval")) return undefined;
    const timer = setTimeout(publications.reload, 2000);
    return () => clearTimeout(timer);
  }, [publications.data]);

  const c = content.data;
  const markup = (rendered.data && (rendered.data.linked_html || rendered.data.html)) || (c && c.html) || "";
  const pubAction = (p, action, body = {}) => async () => {
    await api(`${base}/publications/${p.publication_id}/${action}`, { method: "POST", body });
    publications.reload();
  };
  return html`
    <p class="crumbs"><${Link} href=${`${base}?tab=articles`}>Articles</${Link}> ›</p>
    <h1 tabindex="-1">${c ? c.title : "Article"}</h1>
    <${ErrorBox} error=${content.error} />
    ${c
      ? html`<p class="muted">${c.word_count} words · status ${c.status} · version ${c.version} ·
          written ${when(c.created_at)}</p>`
      : null}
    ${notice ? html`<p role="status" class="notice">${notice}</p>` : null}
    <div class="two">
      <section aria-labelledby="preview">
        <h2 id="preview">Preview</h2>
        ${c && (rendered.data || rendered.error || !rendered.loading)
          ? html`<${Preview} title=${c.title} markup=${markup} />`
          : html`<${Loading} what="the article" />`}
      </section>
      <div>
        <section aria-labelledby="publication">
          <h2 id="publication">Publication</h2>
          <${ErrorBox} error=${publications.error} />
          ${publications.data && pubs.length === 0
            ? html`<p class="empty">Not queued for publishing: connect an integration to the site
                (Overview) so ready articles are queued.</p>`
            : null}
          <ul class="plain">
            ${pubs.map(
              (p) => html`<li class="card" data-testid="publication" data-status=${p.status}>
                <p>${p.platform}: <strong>${p.status.replace("_", " ")}</strong>
                  ${p.hold_reason ? ` (${p.hold_reason})` : ""}
                  ${p.scheduled_for ? ` · scheduled ${when(p.scheduled_for)}` : ""}</p>
                ${p.remote_url && /^https?:/.test(p.remote_url)
                  ? html`<p>Live at <a href=${p.remote_url} rel="noopener noreferrer" target="_blank">${p.remote_url}</a></p>`
                  : null}
                ${p.remote_url && !/^https?:/.test(p.remote_url)
                  ? html`<p>Exported to <code data-testid="export-path">${p.remote_url}</code></p>`
                  : null}
                ${p.status === "pending_approval"
                  ? html`<${Action} run=${pubAction(p, "approve")}>Approve</${Action}>
                      <${Action} kind="danger" run=${pubAction(p, "reject", { reason: "rejected in the console" })}>Reject</${Action}>`
                  : null}
                ${p.status === "published"
                  ? html`<${Action} kind="secondary" run=${pubAction(p, "unpublish")}>Unpublish</${Action}>`
                  : null}
              </li>`,
            )}
          </ul>
          <${Action}
            kind="secondary"
            run=${async () => {
              const r = await api(`${base}/content/${contentId}/regenerate`, { method: "POST" });
              setNotice("Regenerating: a small run writes the article again.");
              navigate(`/runs/${r.run_id}`);
            }}
            >Regenerate article</${Action}
          >
        </section>
        <section aria-labelledby="checks">
          <h2 id="checks">Optimization</h2>
          <${Checks} report=${report} />
        </section>
        <section aria-labelledby="links">
          <h2 id="links">Internal links</h2>
          <${ErrorBox} error=${links.error} />
          ${links.data && links.data.items.length === 0
            ? html`<p class="empty">No internal links were injected into this article.</p>`
            : null}
          <ul class="plain">
            ${(links.data ? links.data.items : []).map(
              (l) => html`<li>
                “${l.anchor}” → <a href=${l.target_url} rel="noopener noreferrer" target="_blank">${l.target_url}</a>
                <span class="muted"> ${l.status}</span>
                ${l.status === "active" || l.status === "injected"
                  ? html`<${Action}
                      kind="secondary"
                      label=${`Undo the link on “${l.anchor}”`}
                      run=${async () => {
                        await api(`${base}/links/${l.link_id}/undo`, { method: "POST" });
                        links.reload();
                        rendered.reload();
                      }}
                      >Undo</${Action}
                    >`
                  : null}
              </li>`,
            )}
          </ul>
        </section>
      </div>
    </div>
  `;
}
