/**
 * Listening telemetry of one battle: play, pause, seek, switch, ended and progress events are queued and posted
 * in batches, in order; the server turns them into milliseconds played per clip, which the vote is checked against.
 */
import { postJson } from "./api.js";

const MAX_BATCH = 100;

export class Telemetry {
  constructor({ url, flushIntervalMs, onError = () => {} }) {
    this.url = url;
    this.queue = [];
    this.origin = performance.now();
    this.chain = Promise.resolve();
    this.closed = false;
    this.onError = onError;
    this.timer = window.setInterval(() => {
      this.flush().catch((error) => this.onError(error));
    }, flushIntervalMs);
  }

  record(type, side, positionSeconds) {
    if (this.closed) return;
    this.queue.push({
      type,
      side,
      position_ms: Math.max(0, Math.round((positionSeconds || 0) * 1000)),
      client_ms: Math.round(performance.now() - this.origin),
    });
  }

  /** Send everything queued; batches go one after another so the server sees events in the order they happened. */
  flush({ keepalive = false } = {}) {
    const run = this.chain.then(() => this.send(keepalive));
    this.chain = run.catch(() => {});
    return run;
  }

  async send(keepalive) {
    let last = null;
    while (this.queue.length) {
      const events = this.queue.splice(0, MAX_BATCH);
      try {
        last = await postJson(this.url, { events }, { keepalive });
      } catch (error) {
        // Worth retrying later: no connection, a server error or a rate limit. Anything else is final.
        if (error.status === 0 || error.status === 429 || error.status >= 500) this.queue.unshift(...events);
        throw error;
      }
    }
    return last;
  }

  /** Stop recording and the periodic flush; what is still queued can be sent with one last flush(). */
  close() {
    this.closed = true;
    window.clearInterval(this.timer);
  }
}
