// useTickcast: the tickcast reference client (the `tickcast` package's
// Feed) in a React hook. docs/clients.md explains it; test/examples
// type-checks it with tsc --strict.
//
//   const { ticks, state } = useTickcast('http://127.0.0.1:8080/', ['AAPL', 'MSFT']);
//
// Two things React makes easy to get wrong:
//
//   - StrictMode (development) runs every effect twice: mount, cleanup,
//     mount. The cleanup must close the Feed (else two streams stay open),
//     and the second mount should not start over with a new snapshot.
//   - So the last id lives outside the effect, in a ref (it survives the
//     StrictMode re-run and re-renders; it is not state, since changing it
//     must not render). The cleanup saves feed.lastId into it and the next
//     effect opens from it: a resume, nothing missed, no snapshot. To keep
//     it across unmounts (a route change), keep it in a module or a store
//     instead of a ref.
//
// The state a resume continues (ticks here) must outlive the Feed too: it
// is React state, replaced on every snapshot (a reset above all).

import { useEffect, useRef, useState } from "react";
import { Feed, type FeedState, type Tick } from "tickcast";

export interface TickcastView {
  /** The latest tick of every symbol, by symbol. */
  ticks: Record<string, Tick>;
  state: FeedState;
  text: string;
  /** Ticks missed (gaps) since the last snapshot; 0 on a healthy stream. */
  missed: number;
}

export function useTickcast(base: string, symbols: string[] | null, throttle = "250ms"): TickcastView {
  const lastId = useRef(""); // the resume point across effect runs
  const [ticks, setTicks] = useState<Record<string, Tick>>({});
  const [conn, setConn] = useState<{ state: FeedState; text: string }>({ state: "connecting", text: "connecting" });
  const [missed, setMissed] = useState(0);
  const key = symbols ? symbols.join(",") : "*"; // effects compare by value, not by array identity

  useEffect(() => {
    const feed = new Feed(base, {
      status: (state, text) => setConn({ state, text }),
      snapshot: (snap, { partial }) => {
        const next: Record<string, Tick> = {};
        for (const t of snap) next[t.symbol] = t;
        if (partial) setTicks((prev) => ({ ...prev, ...next })); // symbols added to a resumed request
        else {
          setTicks(next); // a snapshot replaces the state
          setMissed(0);
        }
      },
      tick: (t) => setTicks((prev) => ({ ...prev, [t.symbol]: t })),
      gap: (g) => setMissed((n) => n + g.missed),
    });
    feed.open({ symbols: key === "*" ? null : key.split(","), throttle, lastId: lastId.current });
    return () => {
      lastId.current = feed.lastId; // the next run (StrictMode, or new symbols) resumes from here
      feed.stop("idle");
    };
  }, [base, key, throttle]);

  return { ticks, state: conn.state, text: conn.text, missed };
}
