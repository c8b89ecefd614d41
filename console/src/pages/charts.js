// A bar chart as SVG, drawn from rows; the same numbers are in a table beside it for screen
// readers (the chart itself is marked as an image with a summary).
import { html } from "../html.js";
import { number } from "../ui.js";

export function BarChart({ title, rows, label }) {
  if (!rows.length) return html`<p class="empty">No usage yet: credits are used when a run works.</p>`;
  const max = Math.max(...rows.map((r) => r.credits), 1);
  const barWidth = 56;
  const gap = 36;
  const height = 160;
  const top = 18; // room for the tallest bar's figure
  const width = rows.length * (barWidth + gap) + gap;
  const total = rows.reduce((sum, r) => sum + r.credits, 0);
  return html`<figure class="chart">
    <svg
      role="img"
      aria-label=${`${title}: ${number(total)} credits over ${rows.length} ${label}`}
      viewBox=${`0 0 ${width} ${height + top + 30}`}
      width=${Math.min(width, 720)}
      preserveAspectRatio="xMinYMin meet"
    >
      ${rows.map((r, i) => {
        const h = Math.max(2, (r.credits / max) * height);
        const x = gap + i * (barWidth + gap);
        return html`<g>
          <rect x=${x} y=${top + height - h} width=${barWidth} height=${h} class="bar"></rect>
          <text x=${x + barWidth / 2} y=${top + height + 14} class="axis">${String(r.key ?? "—").slice(0, 16)}</text>
          <text x=${x + barWidth / 2} y=${top + height - h - 4} class="axis">${number(r.credits)}</text>
        </g>`;
      })}
    </svg>
    <figcaption>${title}</figcaption>
  </figure>`;
}
