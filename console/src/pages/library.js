// A site's keywords (CSV upload with per-line errors), clusters, ideas and articles.
import { useEffect, useState } from "preact/hooks";
import { api, newKey } from "../api.js";
import { html } from "../html.js";
import { Link } from "../router.js";
import { follow } from "../sse.js";
import { ErrorBox, More, number, usePaged, when } from "../ui.js";

const ENDED = new Set(["completed", "failed", "cancelled", "rejected"]);

/** Calls `changed` whenever a run of the site moves its objects on (a stage completes, the run
 * pauses or ends): a list of clusters, ideas or articles open during a run would otherwise show
 * the statuses it had when it was opened. */
export function useSiteRuns(siteId, changed) {
  useEffect(() => {
    let stop = () => {};
    let gone = false;
    let timer = null;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(changed, 400);
    };
    api(`/sites/${siteId}/runs?limit=10`)
      .then((page) => {
        const live = page.items.find((r) => !ENDED.has(r.status)); // paused ones resume
        if (!live || gone) return;
        stop = follow(`/runs/${live.run_id}/events`, {
          onEvent: (type) => {
            if (type === "stage.completed" || (type.startsWith("run.") && type !== "run.started"))
              soon();
          },
          onEnd: soon,
        });
      })
      .catch(() => {
        /* no live updates: the list still shows what it read */
      });
    return () => {
      gone = true;
      stop();
      clearTimeout(timer);
    };
  }, [siteId]);
}

export function KeywordsTab({ siteId }) {
  const list = usePaged(`/sites/${siteId}/keywords`, 50);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const upload = async (event) => {
    event.preventDefault();
    const file = event.currentTarget.elements.namedItem("csv").files[0];
    if (!file) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(
        await api(`/sites/${siteId}/keywords`, {
          method: "POST",
          body: await file.text(),
          headers: { "Content-Type": "text/csv" },
          idempotencyKey: newKey("keywords"),
        }),
      );
      list.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section aria-labelledby="upload">
      <h2 id="upload">Upload keywords</h2>
      <p class="muted">
        A CSV file with a header line: <code>keyword,volume,difficulty,cpc,intent,country</code>
        (only <code>keyword</code> is required). A bad line is reported with its number; the other
        lines are imported.
      </p>
      <form onSubmit=${upload}>
        <label for="csv">CSV file</label>
        <input id="csv" name="csv" type="file" accept=".csv,text/csv" required />
        <button type="submit" disabled=${busy}>Upload</button>
      </form>
      <${ErrorBox} error=${error} title="The upload was refused" />
      ${error && error.status === 404
        ? html`<p class="notice">A new site reaches the pipeline within a few seconds of being
            added: try the upload again in a moment.</p>`
        : null}
      ${result
        ? html`<div role="status" class="result">
            <p>
              <strong>${result.imported}</strong> imported, ${result.duplicates} duplicates,
              ${result.errors.length} lines refused.
            </p>
            ${result.errors.length
              ? html`<table class="row-errors">
                  <caption>Lines refused</caption>
                  <thead><tr><th scope="col">Line</th><th scope="col">Reason</th></tr></thead>
                  <tbody>
                    ${result.errors.map(
                      (e) => html`<tr><td>${e.line}</td><td>${e.reason}</td></tr>`,
                    )}
                  </tbody>
                </table>`
              : null}
          </div>`
        : null}
    </section>
    <section aria-labelledby="keywords">
      <h2 id="keywords">Keywords</h2>
      ${!list.loading && !list.error && list.items.length === 0
        ? html`<p class="empty">No keywords yet: upload a CSV file above.</p>`
        : null}
      ${list.items.length
        ? html`<table>
            <caption class="sr-only">Keywords</caption>
            <thead><tr><th scope="col">Keyword</th><th scope="col">Volume</th><th scope="col">Difficulty</th><th scope="col">Intent</th><th scope="col">Status</th></tr></thead>
            <tbody>
              ${list.items.map(
                (k) => html`<tr key=${k.keyword_id}>
                  <td>${k.keyword}</td><td>${number(k.volume)}</td><td>${k.difficulty ?? "—"}</td>
                  <td>${k.intent || "—"}</td><td>${k.status}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : null}
      <${More} list=${list} what="keywords" />
    </section>
  `;
}

function Listing({ siteId, kind, title, empty, columns }) {
  const list = usePaged(`/sites/${siteId}/${kind}`, 25);
  useSiteRuns(siteId, list.reload);
  return html`<section aria-labelledby=${`list-${kind}`}>
    <h2 id=${`list-${kind}`}>${title}</h2>
    ${!list.loading && !list.error && list.items.length === 0 ? html`<p class="empty">${empty}</p>` : null}
    ${list.items.length
      ? html`<table>
          <caption class="sr-only">${title}</caption>
          <thead><tr>${columns.map(([label]) => html`<th scope="col">${label}</th>`)}</tr></thead>
          <tbody>
            ${list.items.map((item) => html`<tr>${columns.map(([, cell]) => html`<td>${cell(item)}</td>`)}</tr>`)}
          </tbody>
        </table>`
      : null}
    <${More} list=${list} what=${title.toLowerCase()} />
  </section>`;
}

export function ClustersList({ siteId }) {
  return html`<${Listing}
    siteId=${siteId}
    kind="clusters"
    title="Clusters"
    empty="No clusters yet: upload keywords and start a run (stage 1 groups them)."
    columns=${[
      ["Cluster", (c) => c.name],
      ["Primary keyword", (c) => c.primary_keyword],
      ["Keywords", (c) => c.keyword_count],
      ["Status", (c) => c.status],
    ]}
  />`;
}

export function IdeasList({ siteId }) {
  return html`<${Listing}
    siteId=${siteId}
    kind="ideas"
    title="Ideas"
    empty="No ideas yet: a run's stage 2 plans ideas from the clusters."
    columns=${[
      ["Idea", (i) => i.title],
      ["Type", (i) => i.content_type],
      ["Target keywords", (i) => (i.target_keywords || []).join(", ")],
      ["Status", (i) => i.status],
    ]}
  />`;
}

export function ArticlesList({ siteId }) {
  return html`<${Listing}
    siteId=${siteId}
    kind="content"
    title="Articles"
    empty="No articles yet: a run's stage 4 writes them from the ideas."
    columns=${[
      [
        "Article",
        (a) => html`<${Link} href=${`/sites/${siteId}/articles/${a.content_id}`}>${a.title}</${Link}>`,
      ],
      ["Words", (a) => number(a.word_count)],
      ["Status", (a) => a.status],
      ["Version", (a) => a.version],
      ["Written", (a) => when(a.created_at)],
    ]}
  />`;
}
