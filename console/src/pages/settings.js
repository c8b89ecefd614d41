// A site's settings: automation's config (what a run does and may spend) and publishing's
// (how articles are approved and released). Each is read whole, the fields shown here edited,
// and written back whole (both APIs replace on PUT), so fields this form does not show keep
// their values.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { html } from "../html.js";
import { ErrorBox, Loading, useLoad } from "../ui.js";

const optionalInt = (v) => (v === "" || v === null || v === undefined ? null : Number(v));

/** One form over one settings document: `fields` are [key, label, kind, options?, help?]. */
function SettingsForm({ id, title, path, fields, read, write }) {
  const loaded = useLoad(() => api(path), [path]);
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (loaded.data) setForm(read(loaded.data));
  }, [loaded.data]);
  if (loaded.loading && !loaded.data) return html`<${Loading} what=${title.toLowerCase()} />`;
  if (loaded.error) return html`<${ErrorBox} error=${loaded.error} />`;
  if (!form) return null;
  const set = (key, kind) => (e) => {
    const t = e.currentTarget;
    setForm({ ...form, [key]: kind === "check" ? t.checked : t.value });
    setSaved(null);
  };
  const save = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api(path, { method: "PUT", body: write(loaded.data, form) });
      setSaved(`${title} saved.`);
      loaded.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="grid" aria-labelledby=${id} onSubmit=${save}>
    ${fields.map(([key, label, kind, options, help]) => {
      const fid = `${id}-${key}`;
      const described = help ? `${fid}-help` : null;
      const input =
        kind === "select"
          ? html`<select id=${fid} value=${form[key]} onChange=${set(key, kind)} aria-describedby=${described}>
              ${options.map(([value, text]) => html`<option value=${value}>${text}</option>`)}
            </select>`
          : kind === "check"
            ? html`<input id=${fid} type="checkbox" checked=${form[key]} onChange=${set(key, kind)} aria-describedby=${described} />`
            : html`<input id=${fid} type=${kind} value=${form[key] ?? ""} onInput=${set(key, kind)}
                aria-describedby=${described} ...${options || {}} />`;
      return html`<label for=${fid}>${label}</label>
        <span>${input}${help ? html`<small id=${described} class="muted help">${help}</small>` : null}</span>`;
    })}
    <span></span><span><button type="submit" disabled=${busy}>Save ${title.toLowerCase()}</button></span>
    <span></span><span>
      ${saved ? html`<p role="status" class="result">${saved}</p>` : null}
      <${ErrorBox} error=${error} title="The settings were refused" />
    </span>
  </form>`;
}

const AUTOMATION = [
  ["max_credits", "Most credits a run may spend", "number", { min: 1 }, "Empty: no cap. A run that would pass it pauses itself."],
  ["ideas_per_cluster", "Ideas per cluster", "number", { min: 1, max: 10 }],
  ["target_word_count", "Words per article", "number", { min: 200, max: 6000 }],
  ["inline_images", "Images in an article", "number", { min: 0, max: 8 }],
  ["image_size", "Image size", "text", { pattern: "\\d{2,4}x\\d{2,4}" }, "Width x height in pixels, e.g. 1024x1024."],
  ["auto_publish", "Publish articles without approval", "check"],
  ["frequency", "Scheduled runs", "select", [["none", "None"], ["daily", "Daily"], ["weekly", "Weekly"], ["monthly", "Monthly"]]],
  ["time", "At (HH:MM)", "text", { pattern: "([01]\\d|2[0-3]):[0-5]\\d" }],
  ["timezone", "Time zone", "text", {}, "An IANA zone, e.g. Europe/Paris."],
];

function readAutomation(c) {
  return {
    max_credits: c.max_credits ?? "",
    ideas_per_cluster: c.ideas_per_cluster,
    target_word_count: c.target_word_count,
    inline_images: c.inline_images,
    image_size: c.image_size,
    auto_publish: !!c.auto_publish,
    frequency: c.schedule.frequency,
    time: c.schedule.time,
    timezone: c.schedule.timezone,
  };
}

function writeAutomation(c, f) {
  return {
    ...c,
    max_credits: optionalInt(f.max_credits),
    ideas_per_cluster: Number(f.ideas_per_cluster),
    target_word_count: Number(f.target_word_count),
    inline_images: Number(f.inline_images),
    image_size: f.image_size,
    auto_publish: f.auto_publish,
    schedule: { ...c.schedule, frequency: f.frequency, time: f.time, timezone: f.timezone },
  };
}

const PUBLISHING = [
  ["approval", "Approval", "select", [["", "Follow “publish without approval” above"], ["manual", "Every article waits for approval"], ["auto", "Publish every article"], ["rule", "Publish when the score reaches the floor and no check fails"]]],
  ["score_floor", "Score floor", "number", { min: 0, max: 100 }, "The optimization score an article needs under the rule."],
  ["daily_cap", "Articles per day and destination", "number", { min: 1 }, "Empty: no limit."],
  ["default_status", "Post status on the site", "select", [["publish", "Published"], ["draft", "Draft"], ["future", "Scheduled"]]],
  ["mode", "Release", "select", [["immediate", "As soon as approved"], ["slots", "At set times"], ["stagger", "Spaced out"]]],
  ["linking", "Inject internal links", "check"],
];

function readPublishing(s) {
  return {
    approval: s.approval ?? "",
    score_floor: s.score_floor,
    daily_cap: s.daily_cap ?? "",
    default_status: s.default_status,
    mode: s.schedule.mode,
    linking: !!s.linking.enabled,
  };
}

function writePublishing(s, f) {
  return {
    ...s,
    approval: f.approval || null,
    score_floor: Number(f.score_floor),
    daily_cap: optionalInt(f.daily_cap),
    default_status: f.default_status,
    schedule: { ...s.schedule, mode: f.mode },
    linking: { ...s.linking, enabled: f.linking },
  };
}

export function SettingsTab({ siteId }) {
  return html`
    <section aria-labelledby="automation-settings">
      <h2 id="automation-settings">Automation</h2>
      <p class="muted">What a run writes, and how much it may spend.</p>
      <${SettingsForm} id="automation-settings" title="Automation settings" path=${`/sites/${siteId}/config`}
        fields=${AUTOMATION} read=${readAutomation} write=${writeAutomation} />
    </section>
    <section aria-labelledby="publishing-settings">
      <h2 id="publishing-settings">Publishing</h2>
      <p class="muted">How a written article reaches the site.</p>
      <${SettingsForm} id="publishing-settings" title="Publishing settings" path=${`/sites/${siteId}/publishing-settings`}
        fields=${PUBLISHING} read=${readPublishing} write=${writePublishing} />
    </section>
  `;
}
