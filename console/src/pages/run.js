// A run, live: a bar per stage from the SSE stream, credits so far, pause / resume / cancel.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { html } from "../html.js";
import { Link } from "../router.js";
import { follow } from "../sse.js";
import { Action, ErrorBox, Loading, number, when } from "../ui.js";
import { pauseReason, STAGES } from "./runs.js";

const ENDED = new Set(["completed", "failed", "cancelled", "rejected"]);

function stagesOf(run) {
  const found = {};
  for (const n of run.stages) {
    const result = run.stage_results[n] || run.stage_results[String(n)] || {};
    const progress = run.progress[n] || run.progress[String(n)] || {};
    found[n] = {
      status: result.status || "waiting",
      done: result.done ?? progress.done ?? 0,
      failed: result.failed ?? progress.failed ?? 0,
      total: result.total || 0,
      credits: result.credits || 0,
      reason: result.reason || null,
    };
  }
  return found;
}

function StageBar({ n, stage }) {
  const total = Math.max(stage.total, stage.done + stage.failed);
  const finished = stage.status === "completed";
  const label = `${STAGES[n]}: ${stage.done}${total ? ` of ${total}` : ""} done${
    stage.failed ? `, ${stage.failed} failed` : ""
  }`;
  return html`<li class="stage" data-stage=${n} data-status=${stage.status}>
    <div class="stage-head">
      <span id=${`stage-${n}`}>${n}. ${STAGES[n]}</span>
      <span class=${`badge ${stage.status}`}>${finished ? "done" : stage.status}</span>
    </div>
    <progress
      aria-labelledby=${`stage-${n}`}
      aria-valuetext=${label}
      max=${total || 1}
      value=${finished ? total || 1 : stage.done}
    ></progress>
    <small>${label}${stage.credits ? ` · ${number(stage.credits)} credits` : ""}${
      stage.reason ? ` · ${stage.reason}` : ""
    }</small>
  </li>`;
}

const RESULT_KEYS = ["done", "total", "failed", "skipped", "credits", "partial", "reason"];

function empty(value) {
  if (value === null || value === undefined || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value).length === 0;
}

function readable(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return number(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) return value.map(readable).join(", ");
  if (typeof value === "object")
    return Object.entries(value)
      .map(([k, v]) => `${k.replace(/_/g, " ")} ${readable(v)}`)
      .join(", ");
  return String(value);
}

/** A stage's result as a sentence ("8 of 8 done, 1 failed · 120 credits"), then any other
 * field the stage reported, by name. */
export function StageResult({ result }) {
  const r = result || {};
  const parts = [];
  if (r.done !== undefined || r.total)
    parts.push(`${number(r.done ?? 0)}${r.total ? ` of ${number(r.total)}` : ""} done`);
  if (r.failed) parts.push(`${number(r.failed)} failed`);
  if (r.skipped) parts.push(`${number(r.skipped)} already done`);
  if (r.credits) parts.push(`${number(r.credits)} credits`);
  if (r.partial) parts.push("partial (a cap stopped it early)");
  if (r.reason) parts.push(`why: ${r.reason}`);
  const rest = Object.entries(r).filter(
    ([k, v]) => k !== "status" && !RESULT_KEYS.includes(k) && !empty(v),
  );
  return html`<span>${parts.join(" · ") || "—"}</span>
    ${rest.length
      ? html`<dl class="inline">
          ${rest.map(([k, v]) => html`<div><dt>${k.replace(/_/g, " ")}</dt><dd>${readable(v)}</dd></div>`)}
        </dl>`
      : null}`;
}

export function RunPage({ runId }) {
  const [run, setRun] = useState(null);
  const [stages, setStages] = useState({});
  const [error, setError] = useState(null);
  const [stream, setStream] = useState("connecting");
  const [trace, setTrace] = useState(null);

  const refresh = async () => {
    try {
      const found = await api(`/runs/${runId}`);
      setRun(found);
      setStages((now) => {
        const read = stagesOf(found);
        // keep the totals the stream told (the run's answer has none while a stage runs)
        for (const n of Object.keys(read))
          if (now[n]) read[n].total = Math.max(read[n].total, now[n].total);
        return read;
      });
    } catch (failure) {
      setError(failure);
    }
  };

  useEffect(() => {
    refresh();
    let timer = null;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    };
    const stop = follow(`/runs/${runId}/events`, {
      onState: setStream,
      onError: setError,
      onEnd: refresh,
      onEvent: (type, data) => {
        if (type.startsWith("stage.")) {
          setStages((now) => ({
            ...now,
            [data.stage]: {
              ...(now[data.stage] || {}),
              status: type === "stage.progress" ? "running" : type.slice(6),
              done: data.done,
              failed: data.failed,
              total: data.total,
              credits: data.credits,
              reason: data.reason,
            },
          }));
          if (type !== "stage.progress") later();
        } else if (type.startsWith("run.")) {
          setRun((now) => (now ? { ...now, status: data.status, credits_charged: data.credits_charged, pause_reason: data.reason } : now));
          later();
        }
      },
    });
    return () => {
      stop();
      clearTimeout(timer);
    };
  }, [runId]);

  const act = (what) => async () => {
    await api(`/runs/${runId}/${what}`, { method: "POST" });
    await refresh();
  };
  // The trace is JSON lines (one step each), newest last: shown as a table of steps.
  const showTrace = async () => {
    const response = await api(`/runs/${runId}/trace`, { raw: true });
    const lines = (await response.text()).trim().split("\n").filter(Boolean);
    setTrace(
      lines.map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          return { message: line };
        }
      }),
    );
  };

  if (!run)
    return html`<h1 tabindex="-1">Run</h1>${error ? html`<${ErrorBox} error=${error} />` : html`<${Loading} what="the run" />`}`;
  const ended = ENDED.has(run.status);
  return html`
    <p class="crumbs"><${Link} href=${`/sites/${run.site_id}?tab=runs`}>Site runs</${Link}> ›</p>
    <h1 tabindex="-1">Run ${String(runId).slice(0, 8)}</h1>
    <p>
      Status <strong data-testid="run-status">${run.status}</strong>${" · "}
      <span data-testid="run-credits">${number(run.credits_charged)}</span>${" "}
      ${ended ? "credits charged" : "credits spent so far"}${" · "}
      live updates: <span role="status">${stream}</span>
    </p>
    ${run.status === "paused" && run.pause_reason && run.pause_reason !== "requested"
      ? html`<p class="notice" role="alert" data-testid="pause-reason">
          The run paused itself: ${pauseReason(run.pause_reason)}.
          <code class="muted check-name">${run.pause_reason}</code></p>`
      : null}
    ${run.status === "paused" && run.pause_reason === "requested"
      ? html`<p class="notice" data-testid="pause-reason">Paused on request: resume it to go on, or cancel it.</p>`
      : null}
    ${run.error ? html`<p class="error" role="alert">${readable(run.error)}</p>` : null}
    ${run.rejection ? html`<p class="error" role="alert">Refused: ${readable(run.rejection)}</p>` : null}
    <${ErrorBox} error=${error} />
    <ol class="stages" aria-label="Stages">
      ${run.stages.map((n) => html`<${StageBar} key=${n} n=${n} stage=${stages[n] || { status: "waiting", done: 0, failed: 0, total: 0 }} />`)}
    </ol>
    ${ended
      ? null
      : html`<div class="toolbar">
          ${run.status === "paused"
            ? html`<${Action} run=${act("resume")}>Resume</${Action}>`
            : html`<${Action} kind="secondary" run=${act("pause")}>Pause</${Action}>`}
          <${Action} kind="danger" run=${act("cancel")}>Cancel run</${Action}>
        </div>`}
    ${ended
      ? html`<section aria-labelledby="results">
          <h2 id="results">Stage results</h2>
          <table>
            <caption class="sr-only">Stage results</caption>
            <thead><tr><th scope="col">Stage</th><th scope="col">Status</th><th scope="col">Result</th></tr></thead>
            <tbody>
              ${run.stages.map((n) => {
                const r = run.stage_results[n] || run.stage_results[String(n)] || {};
                return html`<tr data-stage=${n}>
                  <td>${n}. ${STAGES[n]}</td><td>${r.status || "—"}</td>
                  <td><${StageResult} result=${r} /></td>
                </tr>`;
              })}
            </tbody>
          </table>
          <p>Started ${when(run.started_at)}, ended ${when(run.ended_at)}${run.end_reason ? ` (${run.end_reason})` : ""}.</p>
          <p>
            <${Link} href=${`/sites/${run.site_id}?tab=articles`}>See the articles</${Link}>${" · "}
            <button type="button" class="link" onClick=${() => showTrace().catch(setError)}>Show the run's trace</button>
          </p>
          ${trace
            ? html`<details open><summary>Trace (${trace.length} steps)</summary>
                <div class="trace" tabindex="0" role="region" aria-label="The run's trace">
                  <table>
                    <caption class="sr-only">The run's steps, oldest first</caption>
                    <thead><tr><th scope="col">Time</th><th scope="col">Stage</th><th scope="col">Step</th><th scope="col">Detail</th></tr></thead>
                    <tbody>
                      ${trace.map((step) => {
                        const { time, stage, event, message, run_id: _run, ...rest } = step;
                        const more = Object.entries(rest).filter(([, v]) => !empty(v));
                        return html`<tr>
                          <td class="mono">${time ? new Date(time).toLocaleTimeString() : "—"}</td>
                          <td>${stage ? `${stage}. ${STAGES[stage] || ""}` : "run"}</td>
                          <td>${event || "—"}</td>
                          <td>${message || ""}${more.length ? html`<small class="muted"> ${readable(Object.fromEntries(more))}</small>` : null}</td>
                        </tr>`;
                      })}
                    </tbody>
                  </table>
                </div></details>`
            : null}
        </section>`
      : null}
  `;
}
