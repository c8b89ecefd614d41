// The console's shell: signed out → sign-in; no account chosen → accounts; else the pages.
import { useEffect, useRef, useState } from "preact/hooks";
import { session, whenSignedOut } from "./api.js";
import { html } from "./html.js";
import { AccountsPage } from "./pages/accounts.js";
import { ArticlePage } from "./pages/article.js";
import { CreditsPage } from "./pages/credits.js";
import { RunPage } from "./pages/run.js";
import { CallbackPage, SignInPage } from "./pages/signin.js";
import { SitePage } from "./pages/site.js";
import { SitesPage } from "./pages/sites.js";
import { Link, match, navigate, useLocation } from "./router.js";

const ROUTES = [
  ["/", SitesPage],
  ["/sites", SitesPage],
  ["/sites/:siteId", SitePage],
  ["/sites/:siteId/articles/:contentId", ArticlePage],
  ["/runs/:runId", RunPage],
  ["/credits", CreditsPage],
  ["/accounts", AccountsPage],
];

function NotFound() {
  return html`<h1 tabindex="-1">Not found</h1>
    <p>This page does not exist. <${Link} href="/sites">Go to your sites</${Link}>.</p>`;
}

export function App() {
  const { path, params } = useLocation();
  const [notice, setNotice] = useState(null);
  const main = useRef(null);
  useEffect(() => {
    whenSignedOut((error) => {
      session.signOut();
      setNotice(`You were signed out: ${error.message}`);
      navigate("/", { replace: true });
    });
  }, []);
  // After a page change, focus moves to its heading (screen readers hear the new page).
  useEffect(() => {
    const heading = main.current && main.current.querySelector("h1");
    if (heading) heading.focus({ preventScroll: true });
  }, [path]);

  if (path === "/callback") return html`<main id="main" class="narrow"><${CallbackPage} params=${params} /></main>`;
  if (!session.token)
    return html`<main id="main" class="narrow" ref=${main}><${SignInPage} notice=${notice} /></main>`;
  let page = null;
  if (!session.account || path === "/accounts") page = html`<${AccountsPage} />`;
  else {
    for (const [pattern, Page] of ROUTES) {
      const found = match(pattern, path);
      if (found) {
        page = html`<${Page} ...${found} params=${params} />`;
        break;
      }
    }
  }
  const signOut = () => {
    session.signOut();
    navigate("/", { replace: true });
  };
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <${Link} href="/sites" class="brand">IGNY8 Console</${Link}>
      <nav aria-label="Main">
        <ul>
          <li><${Link} href="/sites" aria-current=${path.startsWith("/sites") || path === "/" ? "page" : null}>Sites</${Link}></li>
          <li><${Link} href="/credits" aria-current=${path === "/credits" ? "page" : null}>Credits</${Link}></li>
          <li><${Link} href="/accounts" aria-current=${path === "/accounts" ? "page" : null}>Accounts</${Link}></li>
        </ul>
      </nav>
      <span class="who">${session.user}</span>
      <button type="button" class="secondary" onClick=${signOut}>Sign out</button>
    </header>
    <main id="main" ref=${main}>${page || html`<${NotFound} />`}</main>
  `;
}
