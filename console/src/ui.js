// Shared pieces: loading a resource, paging a list, showing the API's refusal, empty states.
import { useCallback, useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { html } from "./html.js";

export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const reload = useCallback(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    Promise.resolve()
      .then(load)
      .then(
        (data) => current && setState({ data, error: null, loading: false }),
        (error) => current && setState({ data: null, error, loading: false }),
      );
    return () => {
      current = false;
    };
  }, deps);
  useEffect(reload, [reload]);
  return { ...state, reload };
}

/** The next page's query of any of the services' list answers. */
function nextPage(page) {
  if (page.next_cursor !== undefined && page.next_cursor !== null)
    return { cursor: page.next_cursor };
  if (page.next_offset !== undefined && page.next_offset !== null)
    return { offset: page.next_offset };
  if (page.has_more) return { offset: (page.offset || 0) + (page.limit || page.items.length) };
  // publishing's lists say nothing of more: a full page means there may be more
  if (page.limit && page.items.length === page.limit && page.offset !== undefined)
    return { offset: page.offset + page.limit };
  return null;
}

/** A list read page by page ("Show more"); `path` may already have a query string. */
export function usePaged(path, limit = 25) {
  const [state, setState] = useState({ items: [], next: null, error: null, loading: true });
  const fetchPage = useCallback(
    async (extra, keep) => {
      setState((s) => ({ ...s, loading: true }));
      const glue = path.includes("?") ? "&" : "?";
      const params = new URLSearchParams({ limit: String(limit), ...extra });
      try {
        const page = await api(`${path}${glue}${params}`);
        setState((s) => ({
          items: [...(keep ? s.items : []), ...page.items],
          next: nextPage(page),
          error: null,
          loading: false,
        }));
      } catch (error) {
        setState((s) => ({ ...s, error, loading: false }));
      }
    },
    [path, limit],
  );
  useEffect(() => {
    fetchPage({}, false);
  }, [fetchPage]);
  return {
    ...state,
    more: () => state.next && fetchPage(state.next, true),
    reload: () => fetchPage({}, false),
  };
}

export function ErrorBox({ error, title }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <strong>${title || "The request was refused"}:</strong> ${error.message}
    ${error.fields && error.fields.length
      ? html`<ul>
          ${error.fields.map(
            (f) => html`<li>${f.param || f.loc?.join?.(".") || ""}: ${f.message || f.msg}</li>`,
          )}
        </ul>`
      : null}
    ${error.code || error.status
      ? html`<small class="muted">
          ${error.status ? ` HTTP ${error.status}` : ""}${error.code ? ` · ${error.code}` : ""}
          ${error.requestId ? ` · request ${error.requestId}` : ""}</small
        >`
      : null}
  </div>`;
}

export function Loading({ what }) {
  return html`<p class="muted" role="status">Loading ${what || ""}…</p>`;
}

export function Empty({ children }) {
  return html`<div class="empty">${children}</div>`;
}

export function More({ list, what }) {
  if (list.error) return html`<${ErrorBox} error=${list.error} />`;
  if (list.loading) return html`<${Loading} what=${what} />`;
  if (!list.next) return null;
  return html`<button type="button" class="secondary" onClick=${list.more}>
    Show more ${what}
  </button>`;
}

/** A button that runs an action, shows it is busy and reports its refusal. */
export function Action({ run, children, kind, label, disabled }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const click = async () => {
    setBusy(true);
    setError(null);
    try {
      await run();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="action">
    <button
      type="button"
      class=${kind || ""}
      aria-label=${label}
      disabled=${busy || disabled}
      aria-busy=${busy ? "true" : "false"}
      onClick=${click}
    >
      ${children}
    </button>
    <${ErrorBox} error=${error} />
  </span>`;
}

export function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString();
}

export function number(n) {
  return typeof n === "number" ? n.toLocaleString("en") : (n ?? "—");
}

export function short(id) {
  return String(id).slice(0, 8);
}
