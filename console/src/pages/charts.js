// A bar chart as SVG, drawn from rows; the same numbers are in a table beside it for screen
// readers (the chart itself is marked as an image with a summary). Bars run across, each with
// its label in a column sized to the longest one: labels are never cut or drawn over each other
// (operation names and dates are longer than a vertical bar is wide).
import { html } from "../html.js";
import { number } from "../ui.js";

const ROW = 26; // px per bar
const FONT = 12; // px, the labels and figures
const CHAR = 7.2; // px, a generous average glyph width at FONT
const WIDTH = 560;

/** What a row's key reads as: `content_generation` → `content generation`. */
export function keyLabel(key) {
  return String(key ?? "—").replace(/_/g, " ");
}

export function BarChart({ title, rows, label }) {
  if (!rows.length) return html`<p class="empty">No usage yet: credits are used when a run works.</p>`;
  const max = Math.max(...rows.map((r) => r.credits), 1);
  const labels = rows.map((r) => keyLabel(r.key));
  const labelWidth = Math.ceil(Math.max(...labels.map((l) => l.length)) * CHAR) + 12;
  const figureWidth = Math.ceil(Math.max(...rows.map((r) => number(r.credits).length)) * CHAR) + 8;
  const width = Math.max(WIDTH, labelWidth + figureWidth + 120);
  const room = width - labelWidth - figureWidth;
  const height = rows.length * ROW + 8;
  const total = rows.reduce((sum, r) => sum + r.credits, 0);
  return html`<figure class="chart">
    <svg
      role="img"
      aria-label=${`${title}: ${number(total)} credits over ${rows.length} ${label}`}
      viewBox=${`0 0 ${width} ${height}`}
      width=${width}
      height=${height}
      preserveAspectRatio="xMinYMin meet"
    >
      ${rows.map((r, i) => {
        const w = Math.max(2, (r.credits / max) * room);
        const y = 4 + i * ROW;
        return html`<g>
          <text x=${labelWidth - 8} y=${y + ROW / 2} class="axis label">${labels[i]}</text>
          <rect x=${labelWidth} y=${y + 3} width=${w} height=${ROW - 6} class="bar"></rect>
          <text x=${labelWidth + w + 6} y=${y + ROW / 2} class="axis figure">${number(r.credits)}</text>
        </g>`;
      })}
    </svg>
    <figcaption>${title}</figcaption>
  </figure>`;
}
