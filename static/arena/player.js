/**
 * One clip's player on the arena page: a wavesurfer.js waveform (click or arrow keys to seek), play/pause,
 * the time display, and the listening time that opens the vote.
 */
import WaveSurfer from "wavesurfer.js";

const SEEK_STEP_S = 5;
// Between two updates the playhead may run ahead of the wall clock by a reading that was late (as the server
// allows for); a jump beyond that which is not a seek is not counted as listening.
const CLOCK_TOLERANCE_S = 0.25;

export function formatClock(seconds) {
  const whole = Math.max(0, Math.floor(seconds || 0));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function withAlpha(color, alpha) {
  const hex = color.trim().replace("#", "");
  if (!/^[0-9a-f]{6}$/i.test(hex)) return color;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

export class ClipPlayer {
  /**
   * side: "a" | "b"; onEvent(type, side, positionSeconds) receives telemetry; onChange(player) runs whenever
   * the playing state or the listening time changed; onError(message) reports a clip that cannot load.
   */
  constructor({ side, progressIntervalMs, onEvent, onChange, onError }) {
    this.side = side;
    this.label = side.toUpperCase();
    this.progressIntervalMs = progressIntervalMs;
    this.onEvent = onEvent;
    this.onChange = onChange;
    this.onError = onError;
    this.card = document.getElementById(`player-${side}`);
    this.waveform = document.getElementById(`waveform-${side}`);
    this.playButton = document.getElementById(`play-${side}`);
    this.stateText = document.getElementById(`state-${side}`);
    this.timeText = document.getElementById(`time-${side}`);
    this.listenBox = document.getElementById(`listen-${side}`);
    this.listenBar = document.getElementById(`listen-${side}-bar`);
    this.listenText = document.getElementById(`listen-${side}-text`);
    this.wavesurfer = null;
    this.waveform.addEventListener("keydown", (event) => this.onWaveformKey(event));
    this.reset(0);
  }

  reset(minListenMs) {
    this.minListenMs = minListenMs;
    this.listenedMs = 0;
    this.lastTime = 0;
    this.lastWall = 0;
    this.playedTo = 0;
    this.lastProgressAt = 0;
    this.ready = false;
    this.playing = false;
    this.everPlayed = false;
    this.pauseAlreadyRecorded = false;
    this.render();
  }

  load(url, minListenMs) {
    this.destroy();
    this.reset(minListenMs);
    this.waveform.classList.add("is-loading");
    const style = getComputedStyle(this.card);
    const sideColor = style.getPropertyValue("--side").trim() || "#3f4bd1";
    const ws = WaveSurfer.create({
      container: this.waveform,
      url,
      height: 76,
      waveColor: withAlpha(sideColor, 0.35),
      progressColor: sideColor,
      cursorColor: style.getPropertyValue("--text").trim() || "#1c1e22",
      cursorWidth: 2,
      barWidth: 2,
      barGap: 1,
      barRadius: 2,
      normalize: true,
      dragToSeek: false,
    });
    this.wavesurfer = ws;
    ws.on("ready", () => {
      this.ready = true;
      this.waveform.classList.remove("is-loading");
      this.render();
      this.onChange(this);
    });
    ws.on("play", () => {
      this.playing = true;
      this.everPlayed = true;
      this.pauseAlreadyRecorded = false;
      this.lastTime = ws.getCurrentTime();
      this.playedTo = this.lastTime;
      this.lastWall = performance.now();
      this.lastProgressAt = this.lastWall;
      this.onEvent("play", this.side, this.lastTime);
      this.render();
      this.onChange(this);
    });
    ws.on("pause", () => {
      const wasPlaying = this.playing;
      // At the end the media pauses before it reports "ended": count the last stretch while still playing.
      if (wasPlaying) this.countListening(ws.getCurrentTime());
      this.playing = false;
      if (wasPlaying && !this.pauseAlreadyRecorded && !this.atEnd()) this.onEvent("pause", this.side, ws.getCurrentTime());
      this.pauseAlreadyRecorded = false;
      this.render();
      this.onChange(this);
    });
    ws.on("finish", () => {
      this.countListening(ws.getDuration());
      this.playing = false;
      this.onEvent("ended", this.side, ws.getDuration());
      this.render();
      this.onChange(this);
    });
    ws.on("timeupdate", (time) => {
      if (this.playing) this.countListening(time);
      else this.lastTime = this.playedTo = time;
      this.renderTime();
    });
    ws.on("interaction", (time) => this.userSeeked(time));
    ws.on("error", () => {
      this.waveform.classList.remove("is-loading");
      this.onError(`Clip ${this.label} could not be loaded. Try the next battle.`);
    });
  }

  atEnd() {
    const ws = this.wavesurfer;
    return ws !== null && ws.getDuration() > 0 && ws.getCurrentTime() >= ws.getDuration() - 0.05;
  }

  /** Count the audio heard since the last update: how far the playhead moved, unless it moved by a seek. */
  countListening(time) {
    const now = performance.now();
    const step = time - this.lastTime;
    const wall = (now - this.lastWall) / 1000;
    this.lastTime = time;
    this.lastWall = now;
    if (step <= 0 || this.wavesurfer?.isSeeking()) return;
    this.playedTo = time;
    const before = this.listenedMs;
    this.listenedMs += Math.min(step, wall + CLOCK_TOLERANCE_S) * 1000;
    if (now - this.lastProgressAt >= this.progressIntervalMs) {
      this.lastProgressAt = now;
      this.onEvent("progress", this.side, time);
    }
    if (Math.floor(before / 100) !== Math.floor(this.listenedMs / 100)) {
      this.renderListening();
      this.onChange(this);
    }
  }

  /** A seek the listener made: close the span played so far, then record where playing resumes. */
  userSeeked(time) {
    if (this.playing) this.onEvent("progress", this.side, this.playedTo);
    this.lastTime = this.playedTo = time;
    this.lastWall = performance.now();
    this.onEvent("seek", this.side, time);
    this.renderTime();
  }

  get enoughListening() {
    // Whole milliseconds, as the server counts them: a sum of float steps can fall a hair short of the clip.
    return Math.round(this.listenedMs) >= this.minListenMs;
  }

  get currentTime() {
    return this.wavesurfer ? this.wavesurfer.getCurrentTime() : 0;
  }

  get duration() {
    return this.wavesurfer ? this.wavesurfer.getDuration() : 0;
  }

  async play() {
    if (!this.wavesurfer || !this.ready) return;
    try {
      await this.wavesurfer.play();
    } catch (error) {
      if (error && error.name === "NotAllowedError") {
        this.onError(`The browser blocked playback: press the play button of clip ${this.label}.`);
      } else if (!error || error.name !== "AbortError") {
        this.onError(`Clip ${this.label} could not be played.`);
      }
    }
  }

  /** Pause now and record it at once, so a switch's events arrive in the order the listener acted. */
  pause() {
    if (!this.wavesurfer || !this.playing) return;
    this.countListening(this.wavesurfer.getCurrentTime());
    this.onEvent("pause", this.side, this.wavesurfer.getCurrentTime());
    this.pauseAlreadyRecorded = true;
    this.wavesurfer.pause();
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  /** Move the playhead without recording a seek (a switch records itself). */
  moveTo(seconds) {
    if (!this.wavesurfer || !this.ready) return;
    const duration = this.wavesurfer.getDuration();
    const target = Math.min(Math.max(0, seconds), Math.max(0, duration - 0.05));
    this.wavesurfer.setTime(target);
    this.lastTime = this.playedTo = target;
    this.lastWall = performance.now();
    this.renderTime();
  }

  onWaveformKey(event) {
    if (!this.ready) return;
    let target = null;
    if (event.key === "ArrowRight") target = this.currentTime + SEEK_STEP_S;
    else if (event.key === "ArrowLeft") target = this.currentTime - SEEK_STEP_S;
    else if (event.key === "Home") target = 0;
    else if (event.key === "End") target = this.duration - 0.05;
    if (target === null) return;
    event.preventDefault();
    const heardTo = this.playedTo;
    this.moveTo(target);
    if (this.playing) this.onEvent("progress", this.side, heardTo);
    this.onEvent("seek", this.side, this.currentTime);
  }

  render() {
    const label = this.playing ? "Pause" : "Play";
    this.playButton.setAttribute("aria-pressed", String(this.playing));
    this.playButton.setAttribute("aria-label", `${label} clip ${this.label}`);
    this.playButton.querySelector(".play-label").textContent = label;
    this.playButton.querySelector(".icon").textContent = this.playing ? "❚❚" : "▶";
    this.playButton.disabled = !this.ready;
    this.card.classList.toggle("is-playing", this.playing);
    if (!this.ready && this.wavesurfer) this.stateText.textContent = "Loading…";
    else if (this.playing) this.stateText.textContent = "Playing";
    else if (this.everPlayed) this.stateText.textContent = "Paused";
    else this.stateText.textContent = "Not played yet";
    this.renderTime();
    this.renderListening();
  }

  renderTime() {
    const current = this.currentTime;
    const duration = this.duration;
    this.timeText.textContent = `${formatClock(current)} / ${formatClock(duration)}`;
    this.waveform.setAttribute("aria-valuemax", String(Math.round(duration)));
    const now = String(Math.round(current));
    if (this.waveform.getAttribute("aria-valuenow") !== now) {
      this.waveform.setAttribute("aria-valuenow", now);
      this.waveform.setAttribute("aria-valuetext", `${formatClock(current)} of ${formatClock(duration)}`);
    }
  }

  renderListening() {
    const needed = this.minListenMs / 1000;
    const listened = this.listenedMs / 1000;
    const share = this.minListenMs > 0 ? Math.min(1, this.listenedMs / this.minListenMs) : 1;
    this.listenText.textContent = `${listened.toFixed(1)} / ${needed.toFixed(1)} s`;
    this.listenBar.firstElementChild.style.width = `${(share * 100).toFixed(1)}%`;
    this.listenBar.setAttribute("aria-valuenow", String(Math.round(share * 100)));
    this.listenBar.setAttribute("aria-valuetext", `${listened.toFixed(1)} of ${needed.toFixed(1)} seconds`);
    this.listenBox.classList.toggle("is-done", this.enoughListening);
  }

  destroy() {
    if (this.wavesurfer) {
      this.wavesurfer.destroy();
      this.wavesurfer = null;
    }
    this.waveform.replaceChildren();
  }
}
