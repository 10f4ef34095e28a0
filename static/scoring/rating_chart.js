/**
 * What the leaderboard and the campaign dashboard draw alike: a system's colour, its name cell in a board's table,
 * the "votes to separate" figure, the charts' theme, and the plot of ratings with their 95% intervals (Chart.js with
 * chartjs-chart-error-bars).
 */
import { Chart, registerables } from "chart.js";
import { LineWithErrorBarsController, PointWithErrorBar } from "chartjs-chart-error-bars";

Chart.register(...registerables, LineWithErrorBarsController, PointWithErrorBar);

const PALETTE = ["#3f4bd1", "#0e7c72", "#9a4bd8", "#c2410c", "#1d7a3a", "#b42318", "#0369a1", "#a16207",
  "#be185d", "#4d7c0f", "#6d28d9", "#0f766e"];

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function colourOf(systemId) {
  return PALETTE[Math.abs(Number(systemId)) % PALETTE.length];
}

export function baseOptions() {
  const text = cssVar("--text") || "#1c1e22";
  const grid = cssVar("--border") || "#dedcd5";
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: { duration: 250 },
    color: text,
    scales: {},
    plugins: { legend: { labels: { color: text } } },
    _grid: grid,
    _text: text,
  };
}

/** A Chart.js config of the rows' ratings as points with their 95% interval bars, one colour per system. */
export function ratingsChartConfig(rows) {
  const options = baseOptions();
  return {
    type: "lineWithErrorBars",
    data: {
      labels: rows.map((row) => row.name),
      datasets: [{
        label: "Rating (95% interval)",
        data: rows.map((row) => ({ y: row.rating, yMin: row.ci_low, yMax: row.ci_high })),
        showLine: false,
        pointRadius: 6,
        pointHoverRadius: 7,
        backgroundColor: rows.map((row) => colourOf(row.system_id)),
        pointBackgroundColor: rows.map((row) => colourOf(row.system_id)),
        borderColor: options._text,
        errorBarColor: options._text,
        errorBarWhiskerColor: options._text,
      }],
    },
    options: {
      ...options,
      plugins: { legend: { display: false } },
      scales: {
        x: { ticks: { color: options._text }, grid: { display: false } },
        y: { title: { display: true, text: "Elo scale", color: options._text },
          ticks: { color: options._text }, grid: { color: options._grid } },
      },
    },
  };
}

/** Draw `config` on `canvas`, updating the chart already there when it is of the same type. */
export function upsertChart(charts, key, canvas, config) {
  const existing = charts[key];
  if (existing && existing.config.type === config.type) {
    existing.data = config.data;
    existing.options = config.options;
    existing.update();
    return;
  }
  if (existing) existing.destroy();
  charts[key] = new Chart(canvas, config);
}

/** A board row's system: its colour swatch, its name and, under the preliminary vote count, a badge. */
export function systemNameCell(row) {
  const name = document.createElement("th");
  name.scope = "row";
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = colourOf(row.system_id);
  swatch.setAttribute("aria-hidden", "true");
  name.append(swatch, document.createTextNode(row.name));
  if (row.preliminary) {
    const badge = document.createElement("span");
    badge.className = "badge badge-preliminary";
    badge.textContent = "preliminary";
    badge.title = "Few votes so far: this rating may still move a lot";
    name.append(" ", badge);
  }
  return name;
}

/** The votes still needed to separate a row's system from the next one down, as a board's cell shows it. */
export function formatSeparation(row) {
  if (row.separation === "separated") return "separated";
  if (row.separation === "projected") return `≈ ${Number(row.votes_to_separate).toLocaleString("en")}`;
  if (row.separation === "beyond_budget") return "too close";
  return "–";
}

export function separationTitle(row) {
  if (row.separation === "separated") return "Its interval already lies above the next system's";
  if (row.separation === "projected") return "Projected further votes, at the current mix of pairs, until its "
    + "interval and the next system's separate";
  if (row.separation === "beyond_budget") return "Too close to the next system to separate within the vote budget";
  return "";
}
