import { useEffect, useState } from "preact/hooks";
import { api, session } from "../api.js";
import { devSignIn, oidcCallback, oidcSignIn } from "../auth.js";
import { html } from "../html.js";
import { navigate } from "../router.js";
import { ErrorBox, Loading, useLoad } from "../ui.js";

export function SignInPage({ notice }) {
  const config = useLoad(() => api("/console/config", { account: false }), []);
  const [user, setUser] = useState("");
  const [error, setError] = useState(null);
  const signIn = async (id) => {
    setError(null);
    try {
      await devSignIn(id);
      navigate("/accounts", { replace: true });
    } catch (failure) {
      setError(failure);
    }
  };
  const c = config.data;
  return html`
    <h1 tabindex="-1">Sign in to IGNY8</h1>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorBox} error=${config.error} title="The sign-in options could not be read" />
    <${ErrorBox} error=${error} title="Sign-in failed" />
    ${config.loading ? html`<${Loading} what="sign-in options" />` : null}
    ${c && c.oidc
      ? html`<section aria-labelledby="oidc">
          <h2 id="oidc">With your organisation's account</h2>
          <button type="button" onClick=${() => oidcSignIn(c.oidc).catch(setError)}>
            Sign in with ${new URL(c.oidc.issuer).host}
          </button>
        </section>`
      : null}
    ${c && c.dev_sign_in
      ? html`<section aria-labelledby="dev">
          <h2 id="dev">Development identities</h2>
          <p class="muted">
            Development mode: the gateway signs a token for whoever you pick. Never enabled in
            production.
          </p>
          <ul class="choices">
            ${c.dev_users.map(
              (id) =>
                html`<li><button type="button" class="secondary" onClick=${() => signIn(id)}>
                  Sign in as ${id}
                </button></li>`,
            )}
          </ul>
          <form
            onSubmit=${(e) => {
              e.preventDefault();
              if (user.trim()) signIn(user.trim());
            }}
          >
            <label for="dev-user">Another user id</label>
            <input
              id="dev-user"
              value=${user}
              onInput=${(e) => setUser(e.currentTarget.value)}
              pattern="[A-Za-z0-9._@-]+"
              autocomplete="username"
            />
            <button type="submit">Sign in</button>
          </form>
        </section>`
      : null}
    ${c && !c.oidc && !c.dev_sign_in
      ? html`<p>No sign-in is configured on this gateway: set <code>GATEWAY_OIDC_CLIENT_ID</code>
          (production) or <code>GATEWAY_CONSOLE_DEV_SIGN_IN</code> with a development secret.</p>`
      : null}
  `;
}

export function CallbackPage({ params }) {
  const [error, setError] = useState(null);
  useEffect(() => {
    oidcCallback(params).then(
      () => navigate("/accounts", { replace: true }),
      (failure) => setError(failure),
    );
  }, []);
  if (!error) return html`<h1 tabindex="-1">Signing in…</h1><${Loading} what="your session" />`;
  return html`<h1 tabindex="-1">Sign-in failed</h1>
    <${ErrorBox} error=${error} title="The identity provider's answer was refused" />
    <p><a href="/" onClick=${() => session.signOut()}>Start again</a></p>`;
}
