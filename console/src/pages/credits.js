// Credits: balance (available, held, by grant kind and expiry), usage charts, transactions,
// invoices with their PDFs, and buying a package through the payment provider's checkout.
import { useState } from "preact/hooks";
import { api, authHeaders, newKey } from "../api.js";
import { html } from "../html.js";
import { Action, ErrorBox, Loading, More, number, useLoad, usePaged, when } from "../ui.js";
import { BarChart } from "./charts.js";

function money(minor, currency) {
  return `${(minor / 100).toFixed(2)} ${String(currency).toUpperCase()}`;
}

function Usage({ by, title, label }) {
  const usage = useLoad(() => api(`/credits/usage?group_by=${by}`), [by]);
  if (usage.loading) return html`<${Loading} what="usage" />`;
  if (usage.error) return html`<${ErrorBox} error=${usage.error} />`;
  const rows = usage.data.rows;
  return html`<div>
    <${BarChart} title=${title} rows=${rows} label=${label} />
    ${rows.length
      ? html`<details><summary>${title} as a table</summary>
          <table>
            <thead><tr><th scope="col">${by === "day" ? "Day" : "Operation"}</th><th scope="col">Credits</th><th scope="col">Quantity</th></tr></thead>
            <tbody>${rows.map((r) => html`<tr><td>${r.key ?? "—"}</td><td>${number(r.credits)}</td><td>${number(r.quantity)}</td></tr>`)}</tbody>
          </table></details>`
      : null}
  </div>`;
}

async function openPdf(invoice) {
  // The PDF needs the bearer token: fetched, then shown from memory.
  const response = await fetch(`/v1/invoices/${invoice.invoice_id}/pdf`, { headers: authHeaders() });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body?.error?.message || `the PDF answered ${response.status}`);
  }
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = `${invoice.number || invoice.invoice_id}.pdf`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function Packages() {
  const packages = useLoad(() => api("/packages"), []);
  const buy = (p) => async () => {
    const invoice = await api("/package-purchases", {
      method: "POST",
      body: { package: p.code },
      idempotencyKey: newKey("package"),
    });
    const payment = await api(`/invoices/${invoice.invoice_id}/pay`, {
      method: "POST",
      body: { method: "checkout" },
    });
    if (payment.checkout_url) location.assign(payment.checkout_url);
  };
  if (packages.loading) return html`<${Loading} what="packages" />`;
  if (packages.error) return html`<${ErrorBox} error=${packages.error} />`;
  const items = packages.data.items.filter((p) => p.active);
  if (!items.length) return html`<p class="empty">No credit packages are on offer yet.</p>`;
  return html`<ul class="cards">
    ${items.map(
      (p) => html`<li class="card">
        <h3>${p.name}</h3>
        <p>${number(p.credits)} credits for ${money(p.price, p.currency)} (plus tax)</p>
        <${Action} run=${buy(p)}>Buy ${p.name}</${Action}>
      </li>`,
    )}
  </ul>`;
}

export function CreditsPage() {
  const balance = useLoad(() => api("/credits/balance"), []);
  const transactions = usePaged("/credits/transactions", 20);
  const invoices = usePaged("/invoices", 20);
  const [by] = useState("day");
  const b = balance.data;
  return html`
    <h1 tabindex="-1">Credits</h1>
    <${ErrorBox} error=${balance.error} />
    ${b
      ? html`<section aria-labelledby="balance">
          <h2 id="balance">Balance</h2>
          <dl class="figures">
            <div><dt>Available</dt><dd data-testid="available">${number(b.available)}</dd></div>
            <div><dt>Held by running work</dt><dd data-testid="held">${number(b.held)}</dd></div>
            ${Object.entries(b.by_kind).map(
              ([kind, k]) => html`<div><dt>${kind} grants</dt><dd>${number(k.available)} <small>(${number(k.held)} held)</small></dd></div>`,
            )}
          </dl>
          ${b.next_expiries.length
            ? html`<p>Expiring soonest: ${b.next_expiries.map((e) => `${number(e.available)} ${e.kind} credits on ${when(e.expires_at)}`).join("; ")}</p>`
            : html`<p class="muted">No credits expire (paid credits never do).</p>`}
        </section>`
      : html`<${Loading} what="the balance" />`}
    <section aria-labelledby="usage">
      <h2 id="usage">Usage</h2>
      <${Usage} by=${by} title="Credits by day" label="days" />
      <${Usage} by="operation" title="Credits by operation" label="operations" />
    </section>
    <section aria-labelledby="buy">
      <h2 id="buy">Buy credits</h2>
      <p class="muted">Buying takes you to the payment provider's own page to pay; no card
        details reach IGNY8.</p>
      <${Packages} />
    </section>
    <section aria-labelledby="transactions">
      <h2 id="transactions">Transactions</h2>
      ${!transactions.loading && !transactions.error && transactions.items.length === 0
        ? html`<p class="empty">No transactions yet: buy a package to add credits.</p>`
        : null}
      ${transactions.items.length
        ? html`<table>
            <caption class="sr-only">Transactions, newest first</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col">Change by book</th><th scope="col">Reference</th></tr></thead>
            <tbody>
              ${transactions.items.map((t) => {
                // a capture moves held credits to spent, a release held back to available
                const books = {};
                for (const e of t.entries) books[e.book] = (books[e.book] || 0) + e.amount;
                const change = Object.entries(books)
                  .filter(([, n]) => n !== 0)
                  .map(([book, n]) => `${book} ${n > 0 ? "+" : "−"}${number(Math.abs(n))}`)
                  .join(", ");
                return html`<tr key=${t.transaction_id}>
                  <td>${when(t.created_at)}</td><td>${t.kind}</td><td>${change || "—"}</td>
                  <td class="mono">${t.reference}</td>
                </tr>`;
              })}
            </tbody>
          </table>`
        : null}
      <${More} list=${transactions} what="transactions" />
    </section>
    <section aria-labelledby="invoices">
      <h2 id="invoices">Invoices</h2>
      ${!invoices.loading && !invoices.error && invoices.items.length === 0
        ? html`<p class="empty">No invoices yet: buying a package or a plan makes one.</p>`
        : null}
      ${invoices.items.length
        ? html`<table>
            <caption class="sr-only">Invoices</caption>
            <thead><tr><th scope="col">Number</th><th scope="col">Status</th><th scope="col">Total</th><th scope="col">Credits</th><th scope="col">Date</th><th scope="col">PDF</th></tr></thead>
            <tbody>
              ${invoices.items.map(
                (i) => html`<tr key=${i.invoice_id}>
                  <td>${i.number || "draft"}</td><td>${i.status}</td><td>${money(i.total, i.currency)}</td>
                  <td>${number(i.credits)}</td><td>${when(i.finalized_at || i.created_at)}</td>
                  <td>${i.number
                    ? html`<${Action} kind="secondary" label=${`Download invoice ${i.number} as PDF`} run=${() => openPdf(i)}>PDF</${Action}>`
                    : "—"}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : null}
      <${More} list=${invoices} what="invoices" />
    </section>
  `;
}
