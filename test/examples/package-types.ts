// Type-checks the `tickcast` package as an app imports it: Feed with its
// options, the payload types re-exported from api/tickcast.d.ts, and the
// options a Node client passes (an EventSource class).
import { EventSource } from "eventsource";
import { Feed, missed, type Bar, type FeedOptions, type Gap, type ResetEvent, type Tick } from "tickcast";

const options: FeedOptions = {
  EventSource,
  status: (state, text) => console.log(state, text),
  snapshot: (ticks: Tick[], { reset, bars }) => console.log(ticks.length, reset, bars?.length),
  tick: (t: Tick) => console.log(t.symbol, t.seq, t.merged ?? 1),
  bar: (b: Bar) => console.log(b.interval, b.open, b.close),
  gap: (g: Gap) => console.log(g.type, g.missed),
  reset: (r: ResetEvent) => console.log(r.reason, r.requested),
  tokenProvider: async () => "token",
};
const feed = new Feed("http://127.0.0.1:8080/", options);
feed.open({ symbols: ["AAPL"], events: ["tick", "bar"], bars: ["1m"], lastId: "abc-1" });
const n: number = missed(1, { seq: 3, merged: 2 });
const id: string = feed.lastId;
feed.stop("idle");
export { n, id };
