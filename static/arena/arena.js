/**
 * The rater's arena page: fetch a blind battle, play clips A and B (switching at the same position), open the
 * vote after enough listening, send telemetry and the vote, reveal the systems, then load the next battle.
 *
 * Campaign mode (data-mode="campaign", /c/<slug>/): the battle is the campaign's next item (its /next/ endpoint),
 * with progress and a practice label; the vote asks no `next` battle; systems stay hidden unless the campaign
 * reveals them; an item can be skipped with a reason; when nothing is left the page goes to the completion page.
 */
import { ApiError, postJson } from "./api.js";
import { setupGeneration } from "./generate.js";
import { ClipPlayer } from "./player.js";
import { Telemetry } from "./telemetry.js";

const SIDES = ["a", "b"];
const CHOICE_KEYS = { 1: "a", 2: "b", 3: "tie", 4: "both_bad" };
const SIDE_NAMES = { a: "A", b: "B" };

const root = document.getElementById("arena");
const config = {
  battlesUrl: root.dataset.battlesUrl,
  eventsUrl: root.dataset.eventsUrl, // with {id} for the battle's id
  voteUrl: root.dataset.voteUrl,
  minListenMs: Math.round(parseFloat(root.dataset.minListenSeconds || "0") * 1000),
  progressIntervalMs: parseInt(root.dataset.progressIntervalMs || "1000", 10),
  flushIntervalMs: parseInt(root.dataset.flushIntervalMs || "4000", 10),
  campaign: root.dataset.mode === "campaign",
  nextUrl: root.dataset.nextUrl,
  skipUrl: root.dataset.skipUrl,
  doneUrl: root.dataset.doneUrl,
};

const el = {
  error: document.getElementById("arena-error"),
  errorMessage: document.getElementById("arena-error-message"),
  retry: document.getElementById("arena-retry"),
  announce: document.getElementById("arena-announce"),
  promptText: document.getElementById("prompt-text"),
  lyrics: document.getElementById("prompt-lyrics"),
  lyricsText: document.getElementById("prompt-lyrics-text"),
  reference: document.getElementById("prompt-reference"),
  referenceAudio: document.getElementById("reference-audio"),
  gate: document.getElementById("vote-gate"),
  suggestion: document.getElementById("suggestion"),
  voteButtons: [...document.querySelectorAll(".vote-button")],
  axisButtons: [...document.querySelectorAll(".axis-option")],
  details: document.getElementById("vote-details"),
  reason: document.getElementById("reason"),
  reveal: document.getElementById("reveal"),
  revealSummary: document.getElementById("reveal-summary"),
  next: document.getElementById("next-battle"),
  switchButtons: [...document.querySelectorAll(".switch-button")],
  progress: document.getElementById("campaign-progress"),
  practice: document.getElementById("campaign-practice"),
  skip: document.getElementById("skip"),
  skipForm: document.getElementById("skip-form"),
  skipReason: document.getElementById("skip-reason"),
  skipNote: document.getElementById("skip-note"),
};

const state = {
  battle: null,
  telemetry: null,
  current: "a",
  phase: "loading", // loading | listening | voting | revealed | failed
  startedAt: 0,
  axes: {},
  announcedReady: new Set(),
};

const players = {};
for (const side of SIDES) {
  players[side] = new ClipPlayer({
    side,
    progressIntervalMs: config.progressIntervalMs,
    onEvent: (type, eventSide, position) => state.telemetry?.record(type, eventSide, position),
    onChange: onPlayerChange,
    onError: (message) => showError(message),
  });
  players[side].playButton.addEventListener("click", () => playButtonPressed(side));
}

function announce(text) {
  el.announce.textContent = "";
  // A fresh text node makes screen readers read the same sentence again.
  window.setTimeout(() => {
    el.announce.textContent = text;
  }, 30);
}

function showError(message, { offerNewBattle = false } = {}) {
  el.errorMessage.textContent = message;
  el.retry.hidden = !offerNewBattle;
  el.error.hidden = false;
}

function clearError() {
  el.errorMessage.textContent = "";
  el.retry.hidden = true;
  el.error.hidden = true;
}

function other(side) {
  return side === "a" ? "b" : "a";
}

function markCurrent(side) {
  state.current = side;
  for (const s of SIDES) players[s].card.classList.toggle("is-current", s === side && state.phase !== "revealed");
}

function playButtonPressed(side) {
  const player = players[side];
  if (player.playing) {
    player.pause();
    return;
  }
  players[other(side)].pause();
  markCurrent(side);
  player.play();
}

function togglePlay() {
  const player = players[state.current];
  if (player.playing) player.pause();
  else {
    players[other(state.current)].pause();
    player.play();
  }
}

/** Jump to `target` at the position the listener is at now: pause one clip, seek the other there, play it. */
function switchTo(target) {
  const from = players[other(target)];
  const to = players[target];
  if (!to.ready) return;
  if (state.current === target) {
    if (!to.playing) to.play();
    return;
  }
  const position = from.currentTime;
  from.pause();
  to.moveTo(position);
  state.telemetry?.record("switch", target, to.currentTime);
  markCurrent(target);
  to.play();
}

function listeningDone() {
  return SIDES.every((side) => players[side].enoughListening);
}

function onPlayerChange(player) {
  if (player.enoughListening && player.everPlayed && !state.announcedReady.has(player.side)) {
    state.announcedReady.add(player.side);
    announce(`Clip ${player.label}: listened long enough.`);
  }
  for (const button of el.switchButtons) button.disabled = !players[button.dataset.target].ready;
  if (player.playing) el.referenceAudio.pause();
  updateGate();
}

function updateGate() {
  const open = state.phase === "listening" && listeningDone();
  for (const button of el.voteButtons) button.disabled = !open;
  for (const button of el.axisButtons) button.disabled = state.phase !== "listening";
  el.reason.disabled = state.phase !== "listening";
  if (state.phase === "listening") {
    el.gate.classList.toggle("is-open", open);
    const needed = (Math.max(...SIDES.map((s) => players[s].minListenMs)) / 1000).toFixed(1);
    el.gate.textContent = open
      ? "You can vote now."
      : `Listen to both clips for at least ${needed} s each to vote.`;
  } else if (state.phase === "voting") {
    el.gate.textContent = "Sending your vote…";
  } else if (state.phase === "revealed") {
    el.gate.classList.add("is-open");
    el.gate.textContent = "Vote recorded. Thank you!";
  }
}

function resetVoteControls() {
  state.axes = {};
  for (const button of el.voteButtons) button.setAttribute("aria-pressed", "false");
  for (const button of el.axisButtons) button.setAttribute("aria-pressed", "false");
  el.reason.value = "";
  el.details.open = false;
  for (const side of SIDES) {
    const box = document.getElementById(`reveal-${side}`);
    box.hidden = true;
    box.replaceChildren();
    players[side].card.classList.remove("is-picked");
  }
  el.reveal.hidden = true;
  el.revealSummary.textContent = "";
}

function renderPrompt(prompt) {
  el.promptText.textContent = prompt.text;
  const lyrics = (prompt.lyrics || "").trim();
  el.lyrics.hidden = !lyrics;
  el.lyricsText.textContent = lyrics;
  el.lyrics.open = Boolean(lyrics);
  el.reference.hidden = !prompt.reference_audio_url;
  if (prompt.reference_audio_url) el.referenceAudio.src = prompt.reference_audio_url;
  else el.referenceAudio.removeAttribute("src");
}

function renderAxes(axes) {
  for (const fieldset of document.querySelectorAll(".axis")) {
    fieldset.hidden = !axes.includes(fieldset.dataset.axis);
  }
  // A campaign asks its axes: they are shown open, not behind "add detail".
  if (config.campaign) el.details.open = axes.length > 0;
}

function renderSuggestion(suggestion) {
  if (!suggestion) {
    el.suggestion.hidden = true;
    el.suggestion.textContent = "";
    return;
  }
  const percent = Math.round(suggestion.p * 100);
  el.suggestion.textContent =
    `Our reward model expects most listeners to prefer clip ${SIDE_NAMES[suggestion.side]} ` +
    `(${percent}% likely). Trust your own ears.`;
  el.suggestion.hidden = false;
}

async function finishTelemetry() {
  const telemetry = state.telemetry;
  state.telemetry = null;
  if (!telemetry) return;
  telemetry.close();
  await telemetry.flush().catch(() => {});
}

function renderProgress(progress) {
  if (!el.progress) return;
  el.practice.hidden = !progress.practice;
  el.progress.textContent = progress.practice
    ? `Practice item ${progress.number} of ${progress.about}`
    : `Item ${progress.number} of about ${Math.max(progress.about, progress.number)}`;
}

/** The campaign's current or next item (null when the rater is done: the page goes to the completion page). */
async function campaignBattle() {
  const item = await postJson(config.nextUrl, {});
  if (item.done) {
    window.location.assign(config.doneUrl);
    return null;
  }
  renderProgress(item.progress);
  return item.battle;
}

async function loadBattle() {
  state.phase = "loading";
  root.setAttribute("aria-busy", "true");
  clearError();
  for (const side of SIDES) players[side].pause();
  await finishTelemetry();
  resetVoteControls();
  el.promptText.textContent = "Loading a battle…";
  updateGate();
  let battle = state.nextBattle;
  state.nextBattle = null;
  try {
    if (config.campaign) battle = await campaignBattle();
    else if (!battle || Date.parse(battle.expires_at) <= Date.now()) battle = await postJson(config.battlesUrl, {});
  } catch (error) {
    state.phase = "failed";
    root.setAttribute("aria-busy", "false");
    el.promptText.textContent = "No battle loaded.";
    showError(error.message, { offerNewBattle: true });
    return;
  }
  if (battle === null) return; // on the way to the completion page
  state.battle = battle;
  state.announcedReady = new Set();
  state.telemetry = new Telemetry({
    url: config.eventsUrl.replace("{id}", battle.id),
    flushIntervalMs: config.flushIntervalMs,
    onError: telemetryFailed,
  });
  renderPrompt(battle.prompt);
  renderAxes(battle.axes || []);
  renderSuggestion(battle.suggestion);
  for (const side of SIDES) {
    const minimum = battle.min_listen_ms?.[side] ?? config.minListenMs;
    players[side].load(battle.clips[side].audio_url, minimum);
  }
  markCurrent("a");
  state.phase = "listening";
  state.startedAt = performance.now();
  root.setAttribute("aria-busy", "false");
  updateGate();
  announce(config.campaign ? "New item loaded. Listen to clips A and B." : "New battle loaded. Listen to clips A and B.");
}

function telemetryFailed(error) {
  if (!(error instanceof ApiError)) return;
  if (error.status === 404 || error.status === 410) {
    state.telemetry?.close();
    showError(error.message, { offerNewBattle: true });
  }
}

function uaFamily() {
  const brands = navigator.userAgentData?.brands?.map((b) => b.brand) ?? [];
  const named = brands.find((b) => !/not.?a.?brand|chromium/i.test(b));
  if (named) return named.replace(/^Google /, "");
  const ua = navigator.userAgent;
  if (/Edg\//.test(ua)) return "Edge";
  if (/OPR\//.test(ua)) return "Opera";
  if (/Firefox\//.test(ua)) return "Firefox";
  if (/Chrome\/|Chromium\//.test(ua)) return brands.length ? "Chromium" : "Chrome";
  if (/Safari\//.test(ua)) return "Safari";
  return "other";
}

function clientHints() {
  return {
    viewport: `${window.innerWidth}x${window.innerHeight}`,
    ua_family: uaFamily(),
    mobile: navigator.userAgentData?.mobile ?? /Mobi/i.test(navigator.userAgent),
    pointer: window.matchMedia("(pointer: coarse)").matches ? "coarse" : "fine",
  };
}

async function vote(choice) {
  if (state.phase !== "listening" || !listeningDone()) return;
  state.phase = "voting";
  const battle = state.battle;
  const decisionMs = Math.round(performance.now() - state.startedAt);
  for (const button of el.voteButtons) {
    button.setAttribute("aria-pressed", String(button.dataset.choice === choice));
  }
  updateGate();
  clearError();
  for (const side of SIDES) players[side].pause();
  // The last listening events travel with the vote, and the answer brings the next battle: one round trip.
  let events = [];
  try {
    events = (await state.telemetry?.drain()) ?? [];
  } catch (error) {
    // The vote itself answers for the battle; a telemetry hiccup only matters if the server then finds too little.
    if (error.status === 404 || error.status === 410) return voteFailed(error);
  }
  const body = { choice, decision_ms: decisionMs, client_hints: clientHints(), events, next: !config.campaign };
  for (const [axis, value] of Object.entries(state.axes)) {
    if (value && !document.getElementById(`axis-${axis}`).hidden) body[axis] = value;
  }
  const reason = el.reason.value.trim();
  if (reason) body.reason = reason;
  let result;
  try {
    result = await postJson(config.voteUrl.replace("{id}", battle.id), body);
  } catch (error) {
    // Refused for too little listening, the server kept the events; otherwise they go with the next try.
    if (error.code !== "listening_too_short" && error.code !== "battle_too_young") state.telemetry?.requeue(events);
    return voteFailed(error);
  }
  if (battle !== state.battle) return;
  state.telemetry?.close();
  state.telemetry = null;
  state.nextBattle = result.next_battle ?? null;
  reveal(result, choice);
}

function voteFailed(error) {
  const required = error.details?.required_ms;
  if (required) {
    // The server wants more listening than the page was told (the minimum changed): show its figure.
    for (const side of SIDES) {
      const player = players[side];
      if (Number.isFinite(required[side])) player.minListenMs = Math.max(player.minListenMs, required[side]);
      player.renderListening();
    }
  }
  const final = error.status === 404 || error.status === 409 || error.status === 410;
  state.phase = final ? "failed" : "listening";
  if (!final) for (const button of el.voteButtons) button.setAttribute("aria-pressed", "false");
  updateGate();
  showError(error.message, { offerNewBattle: final });
}

function ratingText(system) {
  if (system.rating === null || system.rating === undefined) return "Not yet rated";
  const rating = Math.round(system.rating);
  if (system.ci_low === null || system.ci_low === undefined || system.ci_high === null || system.ci_high === undefined) {
    return `Rating ${rating}`;
  }
  return `Rating ${rating} (95% CI ${Math.round(system.ci_low)}–${Math.round(system.ci_high)})`;
}

function reveal(result, choice) {
  state.phase = "revealed";
  markCurrent(state.current);
  updateGate();
  const systems = result.systems;
  const picked = result.choice || choice;
  if (!systems) return revealHidden(picked);
  for (const side of SIDES) {
    const system = systems[side];
    const box = document.getElementById(`reveal-${side}`);
    const line = document.createElement("p");
    line.className = "system-line";
    const name = document.createElement("span");
    name.className = "system-name";
    name.textContent = system.name;
    line.append(name);
    if (picked === side) {
      const tag = document.createElement("span");
      tag.className = "picked-tag";
      tag.textContent = "Your pick";
      line.append(tag);
    }
    const rating = document.createElement("p");
    rating.className = "system-rating";
    rating.textContent = ratingText(system);
    box.replaceChildren(line, rating);
    box.hidden = false;
    players[side].card.classList.toggle("is-picked", picked === side);
  }
  const [a, b] = [systems.a.name, systems.b.name];
  let summary;
  if (picked === "a" || picked === "b") {
    summary = `You picked clip ${SIDE_NAMES[picked]}: ${systems[picked].name}, over ${systems[other(picked)].name}.`;
  } else if (picked === "tie") {
    summary = `You called it a tie: A was ${a}, B was ${b}.`;
  } else {
    summary = `You found both bad: A was ${a}, B was ${b}.`;
  }
  el.revealSummary.textContent = summary;
  el.reveal.hidden = false;
  announce(`${summary} Press n for the next battle.`);
  el.next.focus();
}

/** The vote of a campaign that keeps the systems hidden: say what was recorded, offer the next item. */
function revealHidden(picked) {
  for (const side of SIDES) players[side].card.classList.toggle("is-picked", picked === side);
  let summary;
  if (picked === "a" || picked === "b") summary = `You picked clip ${SIDE_NAMES[picked]}.`;
  else if (picked === "tie") summary = "You called it a tie.";
  else summary = "You found both bad.";
  el.revealSummary.textContent = `${summary} Your answer is recorded.`;
  el.reveal.hidden = false;
  announce(`${summary} Press n for the next item.`);
  el.next.focus();
}

async function skipItem(event) {
  event.preventDefault();
  const battle = state.battle;
  if (!battle || (state.phase !== "listening" && state.phase !== "failed")) return;
  state.phase = "voting";
  updateGate();
  try {
    await postJson(config.skipUrl, { battle: battle.id, reason: el.skipReason.value, note: el.skipNote.value.trim() });
  } catch (error) {
    // The item is no longer this rater's (voted, skipped or run out): the next one is all that is left to do.
    state.phase = error.status === 409 ? "failed" : "listening";
    updateGate();
    showError(error.message, { offerNewBattle: error.status === 409 });
    return;
  }
  el.skip.open = false;
  el.skipNote.value = "";
  loadBattle();
}

function toggleAxis(button) {
  if (state.phase !== "listening") return;
  const axis = button.dataset.axis;
  const value = state.axes[axis] === button.dataset.value ? "" : button.dataset.value;
  state.axes[axis] = value;
  for (const option of el.axisButtons) {
    if (option.dataset.axis === axis) option.setAttribute("aria-pressed", String(option.dataset.value === value));
  }
}

function onKeyDown(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target instanceof Element ? event.target : document.body;
  if (target.closest("textarea, input, select, [contenteditable='true'], audio")) return;
  const onControl = Boolean(target.closest("button, a, summary"));
  const key = event.key;
  if (key === " " || key === "Spacebar") {
    if (onControl) return; // the focused control answers space itself
    event.preventDefault();
    if (state.phase !== "listening" && state.phase !== "revealed") return;
    const card = target.closest(".player");
    if (card) playButtonPressed(card.dataset.side); // space on a clip's waveform plays that clip
    else togglePlay();
    return;
  }
  if (key === "Enter") {
    if (onControl || state.phase !== "revealed") return;
    event.preventDefault();
    loadBattle();
    return;
  }
  if (event.repeat) return;
  const lower = key.toLowerCase();
  if (lower === "a" || lower === "b") {
    if (state.phase === "listening" || state.phase === "revealed") {
      event.preventDefault();
      switchTo(lower);
    }
  } else if (CHOICE_KEYS[key]) {
    event.preventDefault();
    vote(CHOICE_KEYS[key]);
  } else if (lower === "n" && (state.phase === "revealed" || state.phase === "failed")) {
    event.preventDefault();
    loadBattle();
  }
}

for (const button of el.voteButtons) button.addEventListener("click", () => vote(button.dataset.choice));
for (const button of el.axisButtons) button.addEventListener("click", () => toggleAxis(button));
for (const button of el.switchButtons) button.addEventListener("click", () => switchTo(button.dataset.target));
el.next.addEventListener("click", () => loadBattle());
el.referenceAudio.addEventListener("play", () => SIDES.forEach((side) => players[side].pause()));
el.retry.addEventListener("click", () => loadBattle());
el.skipForm?.addEventListener("submit", skipItem);
document.addEventListener("keydown", onKeyDown);
window.addEventListener("pagehide", () => {
  state.telemetry?.flush({ keepalive: true }).catch(() => {});
});

setupGeneration({
  root,
  onStart: () => clearError(),
  onBattle: (battle) => {
    // The generated battle, whole: shown like a prefetched one.
    state.nextBattle = battle;
    loadBattle();
  },
  onError: (message) => showError(message),
});

loadBattle();
