/**
 * A campaign's dashboard: progress, raters, one board per axis and the agreement table, drawn from the dashboard
 * API's JSON. It follows ws/leaderboards/<scope>/ of each of the campaign's scopes; every newer snapshot pushed
 * there (a recompute after votes) triggers one debounced refetch of the dashboard, and a slow refresh catches what
 * moves no board (skips, leases).
 */
import {
  formatSeparation, ratingsChartConfig, separationTitle, systemNameCell, upsertChart,
} from "../scoring/rating_chart.js";

const root = document.getElementById("dashboard");
const REFETCH_DEBOUNCE_MS = 400;
const SLOW_REFRESH_MS = 60_000;
const RECONNECT_MAX_MS = 15_000;
const DASH = "—";

const state = {
  data: null,
  charts: {},
  sockets: new Map(), // scope -> {socket, delay, timer, open}
  seen: new Map(), // scope -> the newest snapshot id this page has drawn or asked for
  refetchTimer: null,
  fetching: false,
  again: false,
  refreshes: 0,
};

const $ = (id) => document.getElementById(id);

function formatNumber(value, digits = 0) {
  return value === null || value === undefined ? DASH : Number(value).toFixed(digits);
}

function formatPercent(value) {
  return value === null || value === undefined ? DASH : `${(100 * value).toFixed(1)}%`;
}

function formatSeconds(value) {
  if (value === null || value === undefined) return DASH;
  return value >= 90 ? `${(value / 60).toFixed(1)} min` : `${value.toFixed(1)} s`;
}

function showError(message) {
  $("dashboard-error-message").textContent = message;
  $("dashboard-error").hidden = !message;
}

function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function setBar(id, done, total) {
  const bar = $(id);
  const share = total > 0 ? Math.min(1, done / total) : 0;
  bar.firstElementChild.style.width = `${(100 * share).toFixed(2)}%`;
  bar.setAttribute("aria-valuemax", String(total));
  bar.setAttribute("aria-valuenow", String(done));
  bar.setAttribute("aria-valuetext", `${done} of ${total}`);
}

// ---------------------------------------------------------------------------------------------------------
// Progress and raters

function renderProgress(data) {
  const { progress, times } = data;
  $("pairs-complete").textContent = String(progress.pairs_complete);
  $("pairs-total").textContent = String(progress.pairs_total);
  setBar("pairs-bar", progress.pairs_complete, progress.pairs_total);
  $("votes-done").textContent = String(progress.votes_done);
  $("votes-wanted").textContent = String(progress.votes_wanted);
  setBar("votes-bar", progress.votes_done, progress.votes_wanted);
  $("median-time").textContent = formatSeconds(times.median_seconds);
  $("median-decision").textContent = times.votes
    ? `over ${times.votes} vote${times.votes === 1 ? "" : "s"}; ${formatSeconds(times.median_decision_seconds)} `
      + "from when voting was allowed (as the page reported)"
    : "no vote yet";
  $("raters-count").textContent = String(progress.raters);
  $("raters-detail").textContent = `${progress.raters_completed} finished · ${progress.raters_excluded} left out · `
    + `${progress.live_leases} item${progress.live_leases === 1 ? "" : "s"} in hand · ${progress.skips} skips`;
  root.dataset.pairsComplete = progress.pairs_complete;
  root.dataset.votesDone = progress.votes_done;
}

function standing(rater) {
  if (rater.override === "include") return "counted (admin)";
  if (rater.override === "exclude") return "left out (admin)";
  return rater.excluded ? "left out" : "counted";
}

function renderRaters(data) {
  const most = Math.max(data.progress.pairs_total, 1);
  const rows = data.raters.map((rater) => {
    const tr = document.createElement("tr");
    tr.dataset.memberId = rater.member_id;
    if (rater.excluded) tr.classList.add("excluded");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = rater.label;
    name.title = rater.crowd_id ? `crowd id ${rater.crowd_id} · rater ${rater.rater_id}` : `rater ${rater.rater_id}`;
    if (rater.completed) {
      const badge = document.createElement("span");
      badge.className = "badge badge-done";
      badge.textContent = "done";
      name.append(" ", badge);
    }
    tr.appendChild(name);
    const votes = document.createElement("td");
    votes.className = "votes-col";
    const bar = document.createElement("span");
    bar.className = "bar bar-inline";
    bar.setAttribute("aria-hidden", "true");
    const fill = document.createElement("span");
    fill.style.width = `${(100 * Math.min(1, rater.votes / most)).toFixed(2)}%`;
    bar.appendChild(fill);
    const count = document.createElement("span");
    count.className = "votes";
    count.textContent = String(rater.votes);
    votes.append(bar, count);
    tr.appendChild(votes);
    tr.appendChild(cell(String(rater.skips), "num"));
    tr.appendChild(cell(rater.gold_answered
      ? `${formatPercent(rater.gold_accuracy)} (${rater.gold_correct}/${rater.gold_answered})` : DASH, "num"));
    tr.appendChild(cell(String(rater.fast_decisions), "num optional"));
    const flags = cell("");
    if (rater.flags.length) {
      for (const flag of rater.flags) {
        const badge = document.createElement("span");
        badge.className = "badge badge-flag";
        badge.textContent = flag.replaceAll("_", " ");
        flags.append(badge, " ");
      }
    } else {
      flags.textContent = DASH;
    }
    tr.appendChild(flags);
    tr.appendChild(cell(standing(rater), "standing"));
    tr.appendChild(cell(formatNumber(rater.reliability, 2), "num reliability"));
    return tr;
  });
  $("rater-rows").replaceChildren(...rows);
  $("raters-empty").hidden = rows.length > 0;
}

// ---------------------------------------------------------------------------------------------------------
// Boards, one per axis

function boardSection(board) {
  let section = document.querySelector(`section.board[data-axis="${board.axis}"]`);
  if (section) return section;
  section = document.createElement("section");
  section.className = "card board";
  section.dataset.axis = board.axis;
  section.setAttribute("aria-label", `${board.label} board`);
  section.innerHTML = `
    <h3></h3>
    <p class="muted small board-meta"></p>
    <div class="board-body">
    <div class="table-scroll">
      <table class="leaderboard-table">
        <thead><tr>
          <th scope="col">Rank</th><th scope="col">System</th><th scope="col" class="num">Rating</th>
          <th scope="col" class="num">95% interval</th><th scope="col" class="num">Votes</th>
          <th scope="col" class="num separate-col" title="Votes still needed to separate this system from the next one down">Votes to separate</th>
        </tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <div class="chart-box board-chart"><canvas role="img"></canvas></div>
    </div>
    <p class="muted board-empty" hidden>No system has enough votes on this axis yet.</p>`;
  section.querySelector("h3").textContent = board.label;
  section.querySelector("canvas").setAttribute("aria-label", `${board.label}: ratings with interval bars`);
  $("boards").appendChild(section);
  return section;
}

function renderBoard(board) {
  const section = boardSection(board);
  section.dataset.scope = board.scope;
  section.dataset.snapshotId = board.snapshot_id ?? "";
  section.dataset.voteCount = board.vote_count;
  section.querySelector(".board-meta").textContent = board.snapshot_id
    ? `${board.vote_count} vote${board.vote_count === 1 ? "" : "s"} · ${board.scope} · updated `
      + new Date(board.computed_at).toLocaleString()
    : `${board.scope} · no votes counted yet`;
  const projected = board.rows.some((row) => row.votes_to_separate !== null && row.votes_to_separate !== undefined);
  section.classList.toggle("with-projection", projected);
  const rows = board.rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.systemId = row.system_id;
    tr.appendChild(cell(String(row.rank), "rank"));
    const name = systemNameCell(row);
    tr.appendChild(name);
    tr.appendChild(cell(formatNumber(row.rating), "num rating"));
    tr.appendChild(cell(`${formatNumber(row.ci_low)} – ${formatNumber(row.ci_high)}`, "num interval"));
    tr.appendChild(cell(String(row.n), "num votes"));
    const separation = cell(formatSeparation(row), "num separate-col");
    separation.title = separationTitle(row);
    tr.appendChild(separation);
    return tr;
  });
  section.querySelector("tbody").replaceChildren(...rows);
  section.querySelector(".board-empty").hidden = rows.length > 0;
  section.querySelector(".board-chart").hidden = rows.length === 0;
  upsertChart(state.charts, board.axis, section.querySelector("canvas"), ratingsChartConfig(board.rows));
}

// ---------------------------------------------------------------------------------------------------------
// Agreement

function estimateCell(estimate, format) {
  const td = cell("", "num");
  if (estimate.value === null) {
    td.textContent = DASH;
    td.title = estimate.reason || "";
    return td;
  }
  td.append(format(estimate.value));
  if (estimate.low !== null && estimate.high !== null) {
    const interval = document.createElement("span");
    interval.className = "muted small interval";
    interval.textContent = ` [${format(estimate.low)}, ${format(estimate.high)}]`;
    td.append(interval);
  }
  td.title = `${estimate.method}; n = ${estimate.n}`;
  return td;
}

function renderAgreement(data) {
  const kappa = (value) => value.toFixed(2);
  const rows = data.agreement.map((entry) => {
    const tr = document.createElement("tr");
    tr.dataset.axis = entry.axis;
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = entry.label;
    tr.appendChild(name);
    tr.appendChild(cell(String(entry.n_items), "num pairs"));
    tr.appendChild(cell(String(entry.n_votes), "num"));
    tr.appendChild(estimateCell(entry.pairwise_agreement, formatPercent));
    tr.appendChild(estimateCell(entry.fleiss_kappa, kappa));
    tr.appendChild(estimateCell(entry.krippendorff_alpha, kappa));
    tr.appendChild(estimateCell(entry.majority_agreement, formatPercent));
    return tr;
  });
  $("agreement-rows").replaceChildren(...rows);
}

function render(data) {
  state.data = data;
  renderProgress(data);
  renderRaters(data);
  data.boards.forEach(renderBoard);
  renderAgreement(data);
  for (const board of data.boards) {
    if (board.snapshot_id && board.snapshot_id > (state.seen.get(board.scope) || 0)) {
      state.seen.set(board.scope, board.snapshot_id);
    }
  }
  $("dashboard-meta").textContent = `figures of ${new Date(data.computed_at).toLocaleTimeString()}`;
  root.dataset.refreshes = state.refreshes;
}

// ---------------------------------------------------------------------------------------------------------
// Live updates: the campaign's leaderboard sockets say when to refetch.

async function refetch() {
  if (state.fetching) {
    state.again = true;
    return;
  }
  state.fetching = true;
  try {
    const response = await fetch(root.dataset.apiUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      showError(body && body.message ? body.message : `Could not refresh the dashboard (HTTP ${response.status}).`);
    } else {
      showError("");
      state.refreshes += 1;
      const before = state.data ? state.data.progress.votes_done : null;
      render(body);
      if (before !== null && body.progress.votes_done !== before) {
        $("dashboard-announce").textContent = `Dashboard updated: ${body.progress.votes_done} votes done, `
          + `${body.progress.pairs_complete} of ${body.progress.pairs_total} pairs complete.`;
      }
    }
  } catch (error) {
    showError(`Could not refresh the dashboard: ${error.message}`);
  } finally {
    state.fetching = false;
    if (state.again) {
      state.again = false;
      scheduleRefetch();
    }
  }
}

function scheduleRefetch() {
  clearTimeout(state.refetchTimer);
  state.refetchTimer = setTimeout(refetch, REFETCH_DEBOUNCE_MS);
}

function updateLive() {
  const links = [...state.sockets.values()];
  const open = links.filter((link) => link.open).length;
  const badge = $("live-status");
  const live = links.length > 0 && open === links.length;
  badge.dataset.state = live ? "live" : (open === 0 && links.some((link) => link.gaveUp) ? "offline" : "connecting");
  badge.textContent = live ? "Live" : badge.dataset.state === "offline" ? "Not live" : "Connecting…";
}

function socketUrl(scope) {
  const protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${protocol}//${window.location.host}${root.dataset.wsPath}${encodeURIComponent(scope)}/`;
}

function follow(scope) {
  const link = state.sockets.get(scope) || { delay: 500, timer: null, open: false, gaveUp: false };
  state.sockets.set(scope, link);
  const socket = new WebSocket(socketUrl(scope));
  link.socket = socket;
  socket.addEventListener("open", () => {
    link.open = true;
    link.delay = 500;
    updateLive();
  });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "error") {
      showError(frame.message);
      return;
    }
    // Sent on connect and after every recompute; only a snapshot newer than the one drawn calls for a refetch.
    if (frame.type === "snapshot" && frame.snapshot && frame.snapshot.id > (state.seen.get(scope) || 0)) {
      state.seen.set(scope, frame.snapshot.id);
      scheduleRefetch();
    }
  });
  socket.addEventListener("close", (event) => {
    link.open = false;
    if (event.code >= 4400 && event.code < 4500) {
      link.gaveUp = true;
      updateLive();
      return;
    }
    updateLive();
    link.timer = setTimeout(() => follow(scope), link.delay);
    link.delay = Math.min(link.delay * 2, RECONNECT_MAX_MS);
  });
}

const initial = JSON.parse($("dashboard-data").textContent);
render(initial);
initial.campaign.scopes.forEach(follow);
updateLive();
setInterval(() => {
  if (document.visibilityState === "visible") scheduleRefetch();
}, SLOW_REFRESH_MS);
root.dataset.ready = "true";
