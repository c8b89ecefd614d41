import { useState } from "preact/hooks";
import { api, newKey, session } from "../api.js";
import { html } from "../html.js";
import { navigate } from "../router.js";
import { ErrorBox, Loading, useLoad } from "../ui.js";

export function AccountsPage() {
  const me = useLoad(() => api("/me", { account: false }), []);
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const choose = (accountId) => {
    session.useAccount(accountId);
    navigate("/sites");
  };
  const create = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const made = await api("/accounts", {
        method: "POST",
        body: { name: name.trim() },
        account: false,
        idempotencyKey: newKey("account"),
      });
      choose(made.account_id);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const accounts = me.data ? me.data.accounts : [];
  return html`
    <h1 tabindex="-1">Choose an account</h1>
    <p class="muted">Signed in as <strong>${session.user || me.data?.user_id}</strong>.</p>
    <${ErrorBox} error=${me.error} />
    ${me.loading ? html`<${Loading} what="your accounts" />` : null}
    ${me.data && accounts.length === 0
      ? html`<p class="empty">You belong to no account yet: create one below (you become its owner).</p>`
      : null}
    <ul class="cards">
      ${accounts.map(
        (a) => html`<li>
          <button
            type="button"
            class=${a.account_id === session.account ? "card current" : "card"}
            onClick=${() => choose(a.account_id)}
          >
            <strong>${a.name}</strong> <span class="muted">${a.role}</span>
          </button>
        </li>`,
      )}
    </ul>
    <section aria-labelledby="new-account">
      <h2 id="new-account">New account</h2>
      <form onSubmit=${create}>
        <label for="account-name">Account name</label>
        <input
          id="account-name"
          required
          maxlength="200"
          value=${name}
          onInput=${(e) => setName(e.currentTarget.value)}
        />
        <button type="submit" disabled=${busy}>Create account</button>
      </form>
      <${ErrorBox} error=${error} />
    </section>
  `;
}
