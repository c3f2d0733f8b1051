// TypeScript declarations for web/static/feed.js, the reference client,
// as the `tickcast` package exports it (package.json at the repository's
// root; docs/clients.md). The payload types come from tickcast.d.ts and
// are re-exported here, so `import type { Tick, Bar } from 'tickcast'`
// works. test/examples type-checks this file and a React hook that uses
// it with tsc --noEmit --strict.

import type {
  Bar,
  BarInterval,
  Clock,
  EventId,
  EventType,
  Quote,
  ResetEvent,
  Status,
  Tick,
  Trade,
} from "./tickcast.js";

export * from "./tickcast.js";

/** The connection's state, as status() reports it. */
export type FeedState = "connecting" | "live" | "reconnecting" | "resumed" | "reset" | "error" | "idle";

/** A seq that jumped: `missed` events of `type` (and `symbol`, and `interval` for bars) never came. */
export interface Gap {
  type: "tick" | "quote" | "trade" | "bar" | "status" | "clock";
  symbol: string;
  interval?: BarInterval;
  missed: number;
  prev: number;
  next: number;
}

/** The second argument of snapshot(). */
export interface SnapshotExtra {
  /** True when a reset came first: replace all your state (history too). */
  reset: boolean;
  /** True for symbols added to a resumed request, filled from GET /v1/snapshot. */
  partial: boolean;
  /** With events= beyond tick: the newest of each type asked for. */
  quotes?: Quote[];
  bars?: Bar[];
  statuses?: Status[];
  clock?: Clock | null;
}

/** An EventSource class: the browser's, or the npm `eventsource` package's in Node. */
export interface EventSourceClass {
  new (url: string): EventSourceLike;
}

/** What feed.js uses of an EventSource. */
export interface EventSourceLike {
  readonly url: string;
  readonly readyState: number;
  onopen: ((ev: any) => unknown) | null;
  onerror: ((ev: any) => unknown) | null;
  addEventListener(type: string, listener: (ev: { data: string; lastEventId: string }) => unknown): void;
  close(): void;
}

/** The handlers and options of new Feed(base, options). Every one is optional. */
export interface FeedOptions {
  /** The connection's state changed; text says it in words ("resumed · 12 ticks caught up"). */
  status?(state: FeedState, text: string): void;
  /** The latest tick per symbol (and, with events=, the other types'): replace your state with it. */
  snapshot?(ticks: Tick[], extra: SnapshotExtra): void;
  /** A new tick, in order per symbol; repeats after a resume never come here. */
  tick?(t: Tick): void;
  /** A tick event not passed to tick(): a repeat or overlap after a resume. */
  ignored?(t: unknown): void;
  /** A seq jumped; the event itself follows in its handler. */
  gap?(g: Gap): void;
  /** The stream cannot resume exactly: a snapshot with reset: true follows. */
  reset?(r: ResetEvent): void;
  /** With events=quote. */
  quote?(q: Quote): void;
  /** With events=trade. */
  trade?(t: Trade): void;
  /** With events=bar: a closed bar, never merged. */
  bar?(b: Bar): void;
  /** With events=status: a symbol's trading state (status() is the connection's). */
  symbolStatus?(s: Status): void;
  /** With events=status: the market clock. */
  clock?(c: Clock): void;
  /** A line for a connection log. */
  log?(text: string): void;
  /** A fixed access token (sent as access_token= on streams, Authorization: Bearer on fetches). */
  token?: string;
  /** Asked for a token before every connection (tokens that expire). */
  tokenProvider?: () => string | Promise<string>;
  /** The EventSource class; default globalThis.EventSource (pass the npm `eventsource` one in Node). */
  EventSource?: EventSourceClass;
}

/** What a connection asks for; fields left out keep their value. */
export interface FeedRequest {
  /** null: every symbol. */
  symbols?: string[] | null;
  /** A Go duration: '0' (every event), '250ms', ... */
  throttle?: string;
  /** null: ticks only (no events=). */
  events?: EventType[] | null;
  /** Bar intervals with events including 'bar'; null: the server's default (both). */
  bars?: BarInterval[] | null;
  /** An id to resume from (e.g. GET /v1/bars's id, or one kept across a remount); '' starts over with a snapshot. */
  lastId?: EventId;
}

/** The gap rule: events missing between the previous seq held and v (> 0 a gap, < 0 an overlap). */
export function missed(prevSeq: number, v: { seq: number; merged?: number }): number;

/** The reference client: one EventSource with resume, the gap rule per type, resets and reconnects. */
export class Feed {
  /** base: the gateway's URL (the API is at base + 'v1/...'), e.g. document.baseURI or 'http://127.0.0.1:8080/'. */
  constructor(base: string | URL, options?: FeedOptions);
  /** The id of the last event handled: keep it to resume later (open({lastId})). */
  lastId: EventId;
  readonly state: FeedState;
  readonly text: string;
  /** Connections opened so far. */
  readonly connections: number;
  /** The open stream's URL, its token redacted; '' when none. */
  readonly streamURL: string;
  /** (Re)connect with the given request; with an id held it resumes from it (no snapshot). */
  open(request?: FeedRequest): void;
  /** Record the next connection's request without connecting. */
  set(request?: FeedRequest): void;
  /** Close on purpose; the next open() starts over unless given a lastId. */
  stop(text?: string): void;
  /** The last tick held for symbol. */
  latest(symbol: string): Tick | undefined;
  /** The Authorization header for your own fetches of the API ({} without a token). */
  authHeaders(): Record<string, string>;
}
