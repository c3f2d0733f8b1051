// TypeScript declarations for the tickcast API: the data of the SSE
// events of GET /v1/stream (asyncapi.yaml) and the JSON bodies of the
// REST endpoints (openapi.yaml). They match the JSON Schemas in schemas/;
// test/api checks both against a running gateway.
//
// Objects may gain fields (the API adds, never renames), so the
// interfaces of what the server sends allow unknown ones.

/** A resume cursor `<epoch>-<seq>`, e.g. "r9t1bgh3-1442" (schemas/event-id.json). Opaque to clients. */
export type EventId = string;

/** A trade's aggressor (Tick.side, Trade.side): a buyer took the offer, or a seller hit the bid. */
export type Side = "buy" | "sell";

/** A trading status change (Tick.status). */
export type TradingStatus = "halted" | "open";

/** One price update for one symbol (schemas/tick.json): the data of a `tick` event. */
export interface Tick {
  /** 1 to 16 of A-Z, 0-9, '-'. */
  symbol: string;
  /** The symbol's tick number, from 1, up by one per tick: seq - previous seq == (merged ?? 1). */
  seq: number;
  /** RFC 3339 UTC, up to nanoseconds, e.g. "2026-11-23T14:30:00.123456789Z". */
  time: string;
  price: number;
  bid: number;
  ask: number;
  /** Shares in this tick (summed over a merged tick); an integer >= 0. */
  size: number;
  /** Cumulative shares in the current session; an integer >= 0. */
  volume: number;
  /** Only on merged ticks: how many ticks it stands for (>= 2); high and low come with it. */
  merged?: number;
  /** Only on merged ticks: the highest price over them. */
  high?: number;
  /** Only on merged ticks: the lowest price over them. */
  low?: number;
  /** Only when the trading status changes. */
  status?: TradingStatus;
  /** The simulated market time (RFC 3339 UTC); see GET /v1/market. */
  marketTime?: string;
  /** Trade conditions where they matter: "O" opening, "6" closing, "T" extended hours. */
  conditions?: ("O" | "6" | "T")[];
  /** The aggressor; absent on a halt's ticks (size 0) and the closing cross. */
  side?: Side;
  /** Fields added later. */
  [field: string]: unknown;
}

/** A merged tick: a Tick with merged, high and low set. */
export type MergedTick = Tick & { merged: number; high: number; low: number };

/** The data of a `snapshot` event (schemas/snapshot-event.json). */
export interface SnapshotEvent {
  /** The newest tick of every requested symbol, sorted by symbol. */
  ticks: Tick[];
  /** With events=quote. */
  quotes?: Quote[];
  /** With events=bar: the newest per symbol and interval. */
  bars?: Bar[];
  /** With events=status. */
  statuses?: Status[];
  /** With events=status. */
  clock?: Clock;
  /** With events=book: the newest book per symbol, at the requested depth. */
  books?: Book[];
  [field: string]: unknown;
}

/** Why a requested id cannot be resumed exactly. */
export type ResetReason = "malformed" | "epoch" | "ahead" | "expired" | "too_far";

/** The data of a `reset` event (schemas/reset-event.json); a snapshot follows. */
export interface ResetEvent {
  reason: ResetReason;
  /** The reason in words. */
  detail: string;
  /** The id the client sent, or with ?from= (no id) the moment asked for (RFC 3339 UTC), cut to 128 bytes. */
  requested: string;
  [field: string]: unknown;
}

/** The SSE event names of GET /v1/stream. */
export type StreamEventName = "snapshot" | "tick" | "reset" | "quote" | "trade" | "bar" | "status" | "clock" | "book";

/** The event types of events= (status brings clock). */
export type EventType = "tick" | "trade" | "quote" | "bar" | "status" | "book";

/** Bar intervals (bars=). */
export type BarInterval = "1s" | "1m";

/** A best bid and offer (schemas/quote.json): the data of a `quote` event. */
export interface Quote {
  symbol: string;
  /** The symbol's quote number: seq - previous seq == (merged ?? 1). */
  seq: number;
  time: string;
  marketTime: string;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  /** Only on merged quotes (>= 2). */
  merged?: number;
  [field: string]: unknown;
}

/** A price level of a book: [price, shares resting there]. */
export type Level = [price: number, size: number];

/**
 * A symbol's depth of book (schemas/book.json): the data of a `book` event
 * (events=book, ?depth=N levels a side, default 10), a whole state: bids
 * best (highest) first, asks best (lowest) first, never crossed, the top
 * level the quote of the same moment.
 */
export interface Book {
  symbol: string;
  /** The symbol's book number: seq - previous seq == (merged ?? 1). */
  seq: number;
  time: string;
  marketTime: string;
  bids: Level[];
  asks: Level[];
  /** Only on merged books (>= 2): the newest of that many. */
  merged?: number;
  [field: string]: unknown;
}

/** A trade (schemas/trade.json): the data of a `trade` event, a tick rendered as a trade. */
export interface Trade {
  symbol: string;
  seq: number;
  time: string;
  marketTime?: string;
  price: number;
  size: number;
  /** O opening, 6 closing, T extended hours. */
  conditions?: ("O" | "6" | "T")[];
  side?: Side;
  merged?: number;
  high?: number;
  low?: number;
  [field: string]: unknown;
}

/** OHLCV over [start, end) (schemas/bar.json): a `bar` event, an element of GET /v1/bars. Never merged. */
export interface Bar {
  symbol: string;
  interval: BarInterval;
  /** The symbol's bar number of that interval, up by one per bar. */
  seq: number;
  start: string;
  end: string;
  marketStart: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades: number;
  [field: string]: unknown;
}

/** A trading state (Status.state). */
export type TradingState = "open" | "halted" | "limit_up" | "limit_down";

/** A trading state change (schemas/status.json): a `status` event. Never merged. */
export interface Status {
  symbol: string;
  seq: number;
  time: string;
  marketTime: string;
  state: TradingState;
  reason: string;
  bandLow: number;
  bandHigh: number;
  [field: string]: unknown;
}

/** A market phase. */
export type MarketPhase = "pre" | "regular" | "after" | "closed";

/** The market clock (schemas/clock.json): a `clock` event (with events=status). */
export interface Clock {
  seq: number;
  time: string;
  marketTime: string;
  phase: MarketPhase;
  /** Market seconds per wall second. */
  speed: number;
  nextPhase: MarketPhase;
  nextPhaseAt: string;
  tz: "America/New_York";
  [field: string]: unknown;
}

/** GET /v1/bars (schemas/bars-response.json). */
export interface BarsResponse {
  symbol: string;
  interval: BarInterval;
  /** Oldest first. */
  bars: Bar[];
  /** Stream with events=bar&lastEventId=id to continue with nothing missed or doubled. */
  id: EventId;
  [field: string]: unknown;
}

/** GET /v1/market (schemas/market-response.json). */
export interface MarketResponse {
  /** The newest clock extrapolated to now; null before the first. */
  clock: Clock | null;
  /** The newest status of every symbol not open. */
  statuses: Status[];
  [field: string]: unknown;
}

/** One SSE event as a client sees it: its name, id (none on reset) and parsed data. */
export type StreamEvent =
  | { event: "snapshot"; id: EventId; data: SnapshotEvent }
  | { event: "tick"; id: EventId; data: Tick }
  | { event: "quote"; id: EventId; data: Quote }
  | { event: "trade"; id: EventId; data: Trade }
  | { event: "bar"; id: EventId; data: Bar }
  | { event: "status"; id: EventId; data: Status }
  | { event: "clock"; id: EventId; data: Clock }
  | { event: "book"; id: EventId; data: Book }
  | { event: "reset"; id?: undefined; data: ResetEvent };

/** One element of GET /v1/symbols (schemas/symbol-info.json). */
export interface SymbolInfo {
  symbol: string;
  /** "" for a symbol seen only on the stream. */
  name: string;
  /** "" for a symbol seen only on the stream. */
  sector: string;
  /** The previous session's close; null for a symbol seen only on the stream (unknown). */
  prevClose: number | null;
  /** The price grid, e.g. 0.01; 0 for a symbol seen only on the stream. */
  tickSize: number;
  /** Annualised, e.g. 0.3; 0 for a symbol seen only on the stream. */
  volatility: number;
  [field: string]: unknown;
}

/** The body of GET /v1/symbols (schemas/symbols.json). */
export type SymbolsResponse = SymbolInfo[];

/** The body of GET /v1/snapshot (schemas/snapshot-response.json). */
export interface SnapshotResponse {
  /** Resume a stream from here with nothing missed. */
  id: EventId;
  /** The oldest id that still resumes with nothing lost. */
  first: EventId;
  /** The newest tick per requested symbol, sorted by symbol. */
  ticks: Tick[];
  [field: string]: unknown;
}

/** Every JSON error: 400, 401, 404, 405, 500, 503 (schemas/error.json). */
export interface ErrorBody {
  error: string;
  /** On a 403: the symbol the scoped token does not allow. */
  symbol?: string;
  [field: string]: unknown;
}

/** The 200 body of GET /healthz (schemas/health.json). */
export interface HealthResponse {
  status: "ok";
  /** The stream's epoch tag, as in event ids. */
  epoch: string;
  /** The newest stream sequence JetStream holds. */
  lastSeq: number;
  /** The newest stream sequence this gateway has read. */
  hubSeq: number;
  [field: string]: unknown;
}

/** The 503 body of GET /healthz (schemas/health-unavailable.json). */
export interface HealthUnavailableResponse {
  status: "starting" | "stream unreadable";
  error?: string;
  [field: string]: unknown;
}

/** The body of GET /readyz (schemas/ready.json): "ready" with 200, else 503. */
export interface ReadyResponse {
  status: "ready" | "starting" | "shutting down";
  [field: string]: unknown;
}

/** Scenario names of POST /v1/sim/scenario. */
export type ScenarioName = "normal" | "flash-crash" | "halt" | "gap" | "burst" | "quiet";

/** A Go duration ("30s", "1m30s") or, in requests, a number of seconds (schemas/duration.json). */
export type Duration = string | number;

/** The body of POST /v1/sim/scenario (schemas/scenario.json); unknown fields are refused. */
export interface ScenarioRequest {
  name: ScenarioName;
  /** A halt's or gap's symbol; omitted: chosen at random (halt) or every symbol (gap). */
  symbol?: string;
  /** 1s to 24h; omitted: the scenario's default. */
  duration?: Duration;
  /** Relative price move (flash-crash, halt, gap only). */
  size?: number;
}

/** The scenario in force (schemas/scenario-state.json). */
export interface ScenarioState {
  name: ScenarioName;
  symbol?: string;
  /** As Go prints it: "30s", "1m0s". */
  duration?: string;
  size?: number;
  /** Only for a scenario scripted with --scenario. */
  at?: string;
  /** Set, but no tick made since. */
  pending?: true;
  /** RFC 3339: the time of the tick it started on. */
  started?: string;
  /** RFC 3339: started plus duration. */
  ends?: string;
  [field: string]: unknown;
}

/** The 200 body of GET and POST /v1/sim/scenario (schemas/scenario-reply.json). */
export interface ScenarioReply {
  scenario: ScenarioState;
  [field: string]: unknown;
}
