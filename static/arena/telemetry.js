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

  /**
   * Hand over what is queued, to travel with the vote (at most one batch: anything beyond is flushed first).
   * Batches already on their way are awaited, so the server sees the events in order.
   */
  async drain() {
    if (this.queue.length > MAX_BATCH) {
      const keep = this.queue.splice(this.queue.length - MAX_BATCH);
      await this.flush();
      this.queue = keep;
    } else {
      await this.chain;
    }
    return this.queue.splice(0);
  }

  /** Put events back at the front of the queue (a vote that carried them did not go through). */
  requeue(events) {
    this.queue.unshift(...events);
  }

  /** Stop recording and the periodic flush; what is still queued can be sent with one last flush(). */
  close() {
    this.closed = true;
    window.clearInterval(this.timer);
  }
}
