/**
 * The live leaderboard page: renders a scope's snapshot (table, ratings with intervals, win-rate heatmap,
 * ratings over time) and follows ws/leaderboards/<scope>/, redrawing whenever a newer snapshot is pushed.
 */
import { Chart } from "chart.js";
import { MatrixController, MatrixElement } from "chartjs-chart-matrix";
import {
  baseOptions, colourOf, cssVar, formatSeparation, ratingsChartConfig, separationTitle, systemNameCell,
  upsertChart as drawChart,
} from "./rating_chart.js";

Chart.register(MatrixController, MatrixElement);

const root = document.getElementById("leaderboard");
const RECONNECT_MAX_MS = 15000;

const state = {
  scope: root.dataset.scope,
  snapshot: null,
  history: [],
  socket: null,
  reconnectDelay: 500,
  reconnectTimer: null,
  charts: {},
};

const $ = (id) => document.getElementById(id);

function formatNumber(value, digits = 0) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function formatPercent(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
}

function showError(message) {
  $("leaderboard-error-message").textContent = message;
  $("leaderboard-error").hidden = !message;
}

function setLive(stateName, text) {
  const badge = $("live-status");
  badge.dataset.state = stateName;
  badge.textContent = text;
}

// ---------------------------------------------------------------------------------------------------------
// Table

// The pair (this row, the next row down): further votes at the current mix until their intervals separate.


function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderTable(snapshot) {
  const body = $("leaderboard-rows");
  const rows = snapshot ? snapshot.rows : [];
  const fresh = rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.systemId = row.system_id;
    tr.appendChild(cell(String(row.rank), "rank"));
    const name = systemNameCell(row);
    tr.appendChild(name);
    tr.appendChild(cell(formatNumber(row.rating), "num rating"));
    tr.appendChild(cell(`${formatNumber(row.ci_low)} – ${formatNumber(row.ci_high)}`, "num interval"));
    tr.appendChild(cell(String(row.n), "num votes"));
    const separation = cell(formatSeparation(row), "num separation optional");
    separation.title = separationTitle(row);
    tr.appendChild(separation);
    tr.appendChild(cell(formatPercent(row.win_rate), "num optional"));
    tr.appendChild(cell(formatNumber(row.elo), "num optional"));
    tr.appendChild(cell(formatNumber(row.controlled_rating), "num optional"));
    return tr;
  });
  body.replaceChildren(...fresh);
  $("leaderboard-empty").hidden = rows.length > 0;

  const hidden = snapshot ? snapshot.extra.hidden || [] : [];
  const minVotes = snapshot && snapshot.extra.method ? snapshot.extra.method.min_votes : null;
  const note = $("leaderboard-hidden");
  note.hidden = hidden.length === 0;
  note.textContent = hidden.length
    ? `${hidden.length} system${hidden.length === 1 ? "" : "s"} below the minimum of ${minVotes} votes `
      + `not shown yet: ${hidden.map((h) => `${h.name} (${h.n})`).join(", ")}.`
    : "";

  const meta = $("snapshot-meta");
  meta.textContent = snapshot
    ? `${snapshot.vote_count} vote${snapshot.vote_count === 1 ? "" : "s"} · updated `
      + new Date(snapshot.computed_at).toLocaleString()
    : "No votes counted yet.";
  $("leaderboard").dataset.voteCount = snapshot ? snapshot.vote_count : 0;
  $("leaderboard").dataset.snapshotId = snapshot ? snapshot.id : "";
}

// ---------------------------------------------------------------------------------------------------------
// Charts

function upsertChart(key, canvasId, config) {
  drawChart(state.charts, key, $(canvasId), config);
}

function renderRatingsChart(snapshot) {
  upsertChart("ratings", "ratings-chart", ratingsChartConfig(snapshot ? snapshot.rows : []));
}

// Writes each cell's win rate on the heatmap, dark or light to stay readable on its colour.
const cellLabels = {
  id: "earshotCellLabels",
  afterDatasetsDraw(chart) {
    const meta = chart.getDatasetMeta(0);
    if (!meta || chart.config.type !== "matrix") return;
    const { ctx } = chart;
    ctx.save();
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.font = "600 12px system-ui, sans-serif";
    meta.data.forEach((element, index) => {
      const raw = chart.data.datasets[0].data[index];
      if (!raw || raw.v === null || raw.v === undefined) return;
      const { x, y, width, height } = element.getProps(["x", "y", "width", "height"], true);
      if (width < 28 || height < 16) return;
      ctx.fillStyle = Math.abs(raw.v - 0.5) > 0.3 ? "#ffffff" : cssVar("--text") || "#1c1e22";
      ctx.fillText(`${Math.round(100 * raw.v)}%`, x + width / 2, y + height / 2);
    });
    ctx.restore();
  },
};

function renderHeatmap(snapshot) {
  const matrix = snapshot ? snapshot.win_rate : { systems: [], win_rate: [], battles: [] };
  const names = Object.fromEntries((snapshot ? snapshot.rows : []).map((row) => [row.system_id, row.name]));
  const labels = matrix.systems.map((id) => names[id] || String(id));
  const cells = [];
  matrix.systems.forEach((_, i) => {
    matrix.systems.forEach((__, j) => {
      if (i !== j) cells.push({ x: labels[j], y: labels[i], v: matrix.win_rate[i][j], n: matrix.battles[i][j] });
    });
  });
  const options = baseOptions();
  const size = Math.max(labels.length, 1);
  upsertChart("heatmap", "winrate-chart", {
    type: "matrix",
    plugins: [cellLabels],
    data: {
      datasets: [{
        label: "Win rate",
        data: cells,
        backgroundColor: (context) => {
          const value = context.raw ? context.raw.v : null;
          if (value === null || value === undefined) return "rgba(128,128,128,0.15)";
          // Blue where the row system wins, orange where it loses, pale near 50%.
          const strength = Math.min(1, Math.abs(value - 0.5) * 2);
          return value >= 0.5 ? `rgba(63,75,209,${0.15 + 0.8 * strength})` : `rgba(194,65,12,${0.15 + 0.8 * strength})`;
        },
        borderWidth: 1,
        borderColor: options._grid,
        width: ({ chart }) => (chart.chartArea || {}).width / size - 2,
        height: ({ chart }) => (chart.chartArea || {}).height / size - 2,
      }],
    },
    options: {
      ...options,
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: () => "",
            label: (context) => {
              const raw = context.raw;
              return `${raw.y} vs ${raw.x}: ${formatPercent(raw.v)} of ${raw.n} vote${raw.n === 1 ? "" : "s"}`;
            },
          },
        },
      },
      scales: {
        x: { type: "category", labels, offset: true, ticks: { color: options._text }, grid: { display: false } },
        y: { type: "category", labels, offset: true, reverse: false, ticks: { color: options._text },
          grid: { display: false } },
      },
    },
  });
}

function renderHistory() {
  const series = new Map();
  for (const point of state.history) {
    for (const rating of point.ratings) {
      if (!series.has(rating.system_id)) series.set(rating.system_id, { name: rating.name, points: [] });
      const entry = series.get(rating.system_id);
      entry.name = rating.name;
      entry.points.push({ x: point.vote_count, y: rating.rating });
    }
  }
  const options = baseOptions();
  upsertChart("history", "history-chart", {
    type: "line",
    data: {
      datasets: [...series.entries()].map(([systemId, entry]) => ({
        label: entry.name,
        data: entry.points,
        borderColor: colourOf(systemId),
        backgroundColor: colourOf(systemId),
        pointRadius: 2,
        tension: 0.2,
      })),
    },
    options: {
      ...options,
      scales: {
        x: { type: "linear", title: { display: true, text: "Votes counted", color: options._text },
          ticks: { color: options._text, precision: 0 }, grid: { color: options._grid } },
        y: { title: { display: true, text: "Rating", color: options._text }, ticks: { color: options._text },
          grid: { color: options._grid } },
      },
    },
  });
}

function historyPoint(snapshot) {
  return {
    computed_at: snapshot.computed_at,
    vote_count: snapshot.vote_count,
    ratings: snapshot.rows.map(({ system_id, name, rating, ci_low, ci_high }) => ({
      system_id, name, rating, ci_low, ci_high,
    })),
  };
}

function render() {
  renderTable(state.snapshot);
  renderRatingsChart(state.snapshot);
  renderHeatmap(state.snapshot);
  renderHistory();
}

// ---------------------------------------------------------------------------------------------------------
// Live updates

function accept(snapshot) {
  // The socket sends the current snapshot on connect and every new one after; keep only what is newer.
  if (!snapshot || snapshot.scope !== state.scope) return false;
  if (snapshot.method && snapshot.method !== "bradley_terry") return false;
  if (state.snapshot && snapshot.id <= state.snapshot.id) return false;
  const isUpdate = state.snapshot !== null;
  state.snapshot = snapshot;
  updatePickerCount(snapshot);
  state.history.push(historyPoint(snapshot));
  const limit = Number(root.dataset.historyLength) || 100;
  if (state.history.length > limit) state.history.splice(0, state.history.length - limit);
  render();
  if (isUpdate) {
    $("leaderboard-announce").textContent = `Leaderboard updated: ${snapshot.vote_count} votes counted.`;
    const table = $("leaderboard-table");
    table.classList.remove("just-updated");
    void table.offsetWidth; // restart the highlight animation
    table.classList.add("just-updated");
  }
  return true;
}

function updatePickerCount(snapshot) {
  const option = [...$("scope-picker").options].find((entry) => entry.value === snapshot.scope);
  if (option) option.textContent = `${snapshot.label} (${snapshot.vote_count} vote${snapshot.vote_count === 1 ? "" : "s"})`;
}

function socketUrl(scope) {
  const protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${protocol}//${window.location.host}${root.dataset.wsPath}${encodeURIComponent(scope)}/`;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  const scope = state.scope;
  const socket = new WebSocket(socketUrl(scope));
  state.socket = socket;
  setLive("connecting", "Connecting…");
  socket.addEventListener("open", () => {
    state.reconnectDelay = 500;
    setLive("live", "Live");
  });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "snapshot") {
      if (frame.snapshot) accept(frame.snapshot);
    } else if (frame.type === "error") {
      showError(frame.message);
    }
  });
  socket.addEventListener("close", (event) => {
    if (state.socket !== socket) return; // replaced by a scope change
    if (event.code >= 4400 && event.code < 4500) {
      setLive("offline", "Not live");
      return;
    }
    setLive("offline", "Reconnecting…");
    state.reconnectTimer = setTimeout(connect, state.reconnectDelay);
    state.reconnectDelay = Math.min(state.reconnectDelay * 2, RECONNECT_MAX_MS);
  });
}

async function loadScope(scope) {
  showError("");
  const response = await fetch(`${root.dataset.apiUrl}${encodeURIComponent(scope)}/?history=${root.dataset.historyLength}`,
    { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    showError(body && body.message ? body.message : `Could not load the leaderboard (HTTP ${response.status}).`);
    return;
  }
  start(body);
}

function start(detail) {
  if (state.socket) {
    const old = state.socket;
    state.socket = null;
    old.close();
  }
  state.scope = detail.scope;
  state.snapshot = null;
  state.history = detail.history.slice();
  root.dataset.scope = detail.scope;
  if (detail.snapshot) {
    state.snapshot = detail.snapshot;
    const last = state.history[state.history.length - 1];
    if (!last || last.vote_count !== detail.snapshot.vote_count) state.history.push(historyPoint(detail.snapshot));
  }
  render();
  connect();
}

$("scope-picker").addEventListener("change", (event) => {
  const scope = event.target.value;
  const url = new URL(window.location.href);
  url.searchParams.set("scope", scope);
  window.history.replaceState(null, "", url);
  loadScope(scope);
});

start(JSON.parse($("leaderboard-data").textContent));
root.dataset.ready = "true";
