// The live channel: a WebSocket to /v1/live that says when something changed, reconnecting
// with backoff; the console then refetches what it shows.

export class Live {
  constructor(token, { onChange, onState }) {
    this.token = token;
    this.onChange = onChange;
    this.onState = onState;
    this.socket = null;
    this.retry = 0;
    this.timer = null;
    this.stopped = false;
    this.seq = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    this.onState("connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/v1/live?token=${encodeURIComponent(this.token)}`);
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      let notice;
      try { notice = JSON.parse(event.data); } catch { return; }
      if (notice.type === "ready") {
        this.retry = 0;
        this.onState("live");
        // Anything committed while we were away shows now.
        if (this.seq !== null && notice.seq !== this.seq) this.onChange(notice.seq);
        this.seq = notice.seq;
      } else if (notice.type === "changed") {
        this.seq = notice.seq;
        this.onChange(notice.seq);
      }
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.onState("offline");
      const delay = Math.min(30000, 1000 * 2 ** this.retry) * (0.75 + Math.random() * 0.5);
      this.retry = Math.min(this.retry + 1, 5);
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) {
      const s = this.socket;
      this.socket = null;
      s.close();
    }
    this.onState("off");
  }
}
