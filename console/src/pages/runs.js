// Starting a run (the estimate and its credit cost first) and the site's earlier runs.
import { useState } from "preact/hooks";
import { api, newKey } from "../api.js";
import { html } from "../html.js";
import { Link, navigate } from "../router.js";
import { ErrorBox, More, number, usePaged, when } from "../ui.js";
import { useSiteRuns } from "./library.js";

export const STAGES = {
  1: "Clustering",
  2: "Ideas",
  3: "Tasks",
  4: "Articles",
  5: "Image prompts",
  6: "Images",
};

// Why automation paused a run (`app/items.py`, `app/credit_holds.py`), as a sentence.
const PAUSES = [
  ["credit_cap_reached", "the run reached its credit cap (Settings: most credits a run may spend)"],
  ["insufficient_credits", "the account has too few credits left (buy a package on Credits)"],
  ["credits", "billing did not answer the credit reservation"],
  ["provider_quota", "the AI provider's quota is used up"],
  ["provider_failures", "the AI provider failed several times in a row"],
];

export function pauseReason(reason) {
  const raw = String(reason || "");
  const [code, ...more] = raw.split(":");
  const known = PAUSES.find(([key]) => key === code.trim());
  const detail = more.join(":").trim();
  if (!known) return raw;
  return detail ? `${known[1]} (${detail})` : known[1];
}

export function RunsTab({ siteId }) {
  const runs = usePaged(`/sites/${siteId}/runs`, 20);
  useSiteRuns(siteId, runs.reload);
  const [estimate, setEstimate] = useState(null);
  const [balance, setBalance] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [runKey] = useState(() => newKey("run"));
  const estimateRun = async () => {
    setBusy(true);
    setError(null);
    try {
      const [found, credits] = await Promise.all([
        api(`/sites/${siteId}/runs/estimate`, { method: "POST", body: {} }),
        api("/credits/balance"),
      ]);
      setEstimate(found);
      setBalance(credits);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      const run = await api(`/sites/${siteId}/runs`, {
        method: "POST",
        body: { stages: estimate.stages },
        idempotencyKey: runKey,
      });
      navigate(`/runs/${run.run_id}`);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };
  const cost = estimate ? estimate.quote.credits : null;
  return html`
    <section aria-labelledby="start">
      <h2 id="start">Start a run</h2>
      <p class="muted">A run clusters the new keywords, plans ideas, writes articles and draws
        their images. See what it costs first.</p>
      <button type="button" onClick=${estimateRun} disabled=${busy}>Estimate the run</button>
      ${estimate
        ? html`<div class="estimate" role="status">
            <p>This run costs up to <strong data-testid="estimate-credits">${number(cost)}</strong> credits
              (you have ${number(balance?.available)} available). Unused credits are released
              when it ends.</p>
            <table>
              <caption>Planned work (with a 20% buffer)</caption>
              <thead><tr><th scope="col">Operation</th><th scope="col">Quantity</th></tr></thead>
              <tbody>
                ${Object.entries(estimate.quantities).map(
                  ([op, n]) => html`<tr><td>${op}</td><td>${number(n)}</td></tr>`,
                )}
              </tbody>
            </table>
            <button type="button" onClick=${start} disabled=${busy}>
              Start the run for up to ${number(cost)} credits
            </button>
          </div>`
        : null}
      <${ErrorBox} error=${error} title="The run was refused" />
    </section>
    <section aria-labelledby="runs">
      <h2 id="runs">Runs</h2>
      ${!runs.loading && !runs.error && runs.items.length === 0
        ? html`<p class="empty">No runs yet: upload keywords, then estimate and start one above.</p>`
        : null}
      ${runs.items.length
        ? html`<table>
            <caption class="sr-only">Runs of this site</caption>
            <thead><tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Credits</th><th scope="col">Started</th><th scope="col">Ended</th></tr></thead>
            <tbody>
              ${runs.items.map(
                (r) => html`<tr key=${r.run_id}>
                  <td><${Link} href=${`/runs/${r.run_id}`}>${String(r.run_id).slice(0, 8)}</${Link}></td>
                  <td>${r.status}${r.pause_reason ? ` (${pauseReason(r.pause_reason)})` : ""}</td>
                  <td>${number(r.credits_charged)}</td>
                  <td>${when(r.started_at || r.created_at)}</td>
                  <td>${when(r.ended_at)}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : null}
      <${More} list=${runs} what="runs" />
    </section>
  `;
}
