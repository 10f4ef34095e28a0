/**
 * Live generation on the arena page: a listener writes a prompt (and optional lyrics) or takes one from the bank;
 * the page polls the request, shows a progress bar while two systems generate, and hands over the battle only once
 * both clips are in (the server never answers half a battle). A failure is said plainly.
 */
import { getJson, postJson } from "./api.js";

export function setupGeneration({ root, onBattle, onError, onStart }) {
  const form = document.getElementById("own-prompt-form");
  if (!form) return;
  const url = root.dataset.generationsUrl;
  const pollMs = parseInt(root.dataset.generationPollMs || "500", 10);
  const text = document.getElementById("own-prompt-text");
  const lyrics = document.getElementById("own-prompt-lyrics");
  const submit = document.getElementById("own-prompt-submit");
  const bank = document.getElementById("bank-take");
  const box = document.getElementById("generation-progress");
  const bar = document.getElementById("generation-bar");
  const status = document.getElementById("generation-status");
  let running = false;

  function busy(on) {
    running = on;
    submit.disabled = on;
    bank.disabled = on;
    text.disabled = on;
    lyrics.disabled = on;
  }

  function show(progress, words) {
    const percent = Math.round(Math.max(0, Math.min(1, progress)) * 100);
    box.hidden = false;
    bar.setAttribute("aria-valuenow", String(percent));
    bar.firstElementChild.style.width = `${percent}%`;
    status.textContent = words;
  }

  const STAGES = {
    queued: "Waiting for the systems…",
    generating: "Two systems are making music for your prompt…",
    finishing: "One clip is in; waiting for the other…",
    ready: "Ready!",
  };

  async function follow(request) {
    let current = request;
    while (current.status === "generating" && !current.battle) {
      show(current.progress, STAGES[current.stage] || STAGES.generating);
      // Once one clip is in or the expected time is spent, the battle can open any moment: ask five times as often,
      // so the wait the page adds after it opens is a fifth of the polling interval.
      const soon = current.stage === "finishing" || current.progress >= 0.85;
      await new Promise((resolve) => window.setTimeout(resolve, soon ? Math.max(100, pollMs / 5) : pollMs));
      current = await getJson(`${url}${current.id}/`);
    }
    if (current.battle) {
      show(1, STAGES.ready);
      box.hidden = true;
      onBattle(current.battle);
      return;
    }
    box.hidden = true;
    onError(current.message || "This battle could not be made. Try again, or take a prompt from the bank.");
  }

  async function start(body) {
    if (running) return;
    busy(true);
    onStart();
    show(0, "Sending your prompt…");
    try {
      await follow(await postJson(url, body));
    } catch (error) {
      box.hidden = true;
      onError(error.message);
    } finally {
      busy(false);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start({ prompt: text.value, lyrics: lyrics.value });
  });
  bank.addEventListener("click", () => start({ bank: true }));
}
