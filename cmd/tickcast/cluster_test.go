// Over 400 lines on purpose: one failover story (a 3-node cluster, the
// simulator, two gateways, two kills and restarts) told in order, with
// the cluster helpers it alone uses; its reconnecting SSE client is in
// cluster_client_test.go.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// TestCluster runs the simulator and two gateways as separate programs on
// a real three-node NATS cluster with the stream replicated three times,
// and shows: ids and data are the same on both gateways; a client resumes
// on the other gateway with nothing missed; and while ticks flow, with the
// stream's leader node and then the simulator's node killed and restarted,
// a client on each gateway (reconnecting like EventSource) sees no gap and
// no duplicate beyond the resume rule, and the stream holds every tick
// exactly once, also when ticks stored under a dead leader are published
// again (Nats-Msg-Id). It logs the time with no ticks and the latency
// around each failure.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node NATS cluster: not with -short")
	}
	c := startCluster(t, 3)
	urls := c.clientURLs()

	sim := launch(t, regexp.MustCompile(`simulating into`), "sim", "--nats", urls, "--replicas", "3", "--rate", "300", "--seed", "11")
	gwA := start(t, "gateway", "--nats", urls, "--addr", "127.0.0.1:0")
	gwB := start(t, "gateway", "--nats", urls, "--addr", "127.0.0.1:0")
	dump := func() {
		if t.Failed() {
			t.Logf("sim output:\n%s\ngateway A output:\n%s\ngateway B output:\n%s", sim.out, gwA.out, gwB.out)
		}
	}
	defer dump()

	for _, gw := range []*program{gwA, gwB} {
		waitHealthy(t, gw.url)
	}
	nc := c.connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	info := streamInfo(t, js, "")
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream not replicated three times: replicas %d, cluster %+v", info.Config.Replicas, info.Cluster)
	}

	t.Run("same ids on both gateways", func(t *testing.T) {
		id := snapshotID(t, gwA.url)
		// A gateway still reading the stream up to where the other is
		// (it started later, or the machine is loaded) merges for a
		// client that far behind its head: compare once B is there.
		deadline := time.Now().Add(30 * time.Second)
		for idSeq(t, snapshotID(t, gwB.url)) < idSeq(t, id) {
			if time.Now().After(deadline) {
				t.Fatalf("gateway B not at %s after 30s", id)
			}
			time.Sleep(50 * time.Millisecond)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		h := http.Header{}
		h.Set("Last-Event-ID", id)
		a := collect(t, readSSE(t, ctx, gwA.url+"/v1/stream", h), 300)
		b := collect(t, readSSE(t, ctx, gwB.url+"/v1/stream", h.Clone()), 300)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("event %d after %s differs:\nA: %+v\nB: %+v", i, id, a[i], b[i])
			}
		}
		if idSeq(t, a[0].id) <= idSeq(t, id) {
			t.Fatalf("first event %s does not follow %s", a[0].id, id)
		}
	})

	t.Run("resume on the other gateway", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		ch := readSSE(t, ctx, gwA.url+"/v1/stream", nil)
		seqs, id := snapshotOf(t, ch)
		id, last := checkTicks(t, ch, 200, seqs, id)
		cancel()
		// Straight to B with A's id, then back to A with B's: each
		// continues every symbol at seq+1 with ids after the last one.
		for i, gw := range []*program{gwB, gwA} {
			ctx, cancel := context.WithCancel(context.Background())
			h := http.Header{}
			h.Set("Last-Event-ID", last)
			id, last = checkTicks(t, readSSE(t, ctx, gw.url+"/v1/stream", h), 200, seqs, id)
			cancel()
			t.Logf("resume %d on %s: contiguous up to %s", i+1, gw.url, last)
		}
	})

	t.Run("nodes killed and restarted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		fa := follow(ctx, "A", gwA.url)
		fb := follow(ctx, "B", gwB.url)
		defer func() { cancel(); fa.wait(); fb.wait() }() // none outlives the test
		time.Sleep(2 * time.Second)

		// Kill the stream's leader, then the node the simulator is
		// connected to (or, if that is the new leader, the leader again):
		// a leader election, and clients moving to another node.
		var kills []time.Time
		var before []uint64 // the stream's last sequence before each kill
		var restartedAt time.Time
		for round := 1; round <= 2; round++ {
			leader := streamInfo(t, js, "").Cluster.Leader
			victim, why := c.index(leader), "the stream's leader"
			if round == 2 {
				if i := c.holding("tickcast sim"); i >= 0 && i != victim {
					victim, why = i, "the simulator's node"
				}
			}
			if victim < 0 {
				t.Fatalf("stream leader %q is not one of ours", leader)
			}
			t.Logf("kill %d: %s (%s); its clients: %v; stream consumers it hosts: %d of %d",
				round, c.name(victim), why, c.connNames(victim), c.consumersOn(t, js, c.name(victim)), c.consumersOn(t, js, ""))
			before = append(before, streamInfo(t, js, "").State.LastSeq)
			killed := time.Now()
			kills = append(kills, killed)
			c.kill(t, victim)
			newLeader := streamInfo(t, js, c.name(victim)).Cluster.Leader
			t.Logf("kill %d: new stream leader %s after %v", round, newLeader, time.Since(killed).Round(time.Millisecond))
			time.Sleep(time.Until(killed.Add(2 * time.Second)))
			c.restart(t, victim)
			restarted := time.Now()
			restartedAt = restarted
			waitCurrent(t, js)
			t.Logf("kill %d: restarted %s %v after the kill; every replica current %v after the restart",
				round, c.name(victim), restarted.Sub(killed).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
			// Recovered when the simulator stores ticks again and both
			// clients have one stored after the restart.
			target := streamInfo(t, js, "").State.LastSeq + 100
			eventually(t, 25*time.Second, fmt.Sprintf("kill %d: the simulator stores sequence %d", round, target), func() (bool, error) {
				return streamInfo(t, js, "").State.LastSeq >= target, nil
			})
			eventually(t, 25*time.Second, fmt.Sprintf("kill %d: both clients get sequence %d", round, target), func() (bool, error) {
				return fa.lastSeq() >= target && fb.lastSeq() >= target, fmt.Errorf("A has %d, B %d", fa.lastSeq(), fb.lastSeq())
			})
			t.Logf("kill %d: both clients up to date %v after the kill", round, time.Since(killed).Round(time.Millisecond))
			time.Sleep(time.Second)
		}
		cancel()
		fa.wait()
		fb.wait()

		for _, f := range []*follower{fa, fb} {
			r := f.report(kills)
			t.Logf("client on gateway %s: %s", r.name, r)
			for _, p := range r.problems {
				t.Errorf("gateway %s: %s", r.name, p)
			}
			for k, n := range r.ticksIn[1:] {
				if n == 0 {
					t.Errorf("gateway %s: no tick after kill %d", r.name, k+1)
				}
			}
			// Ticks came after the last node was back (the eventually
			// above saw a sequence stored after it reach both clients);
			// not "within the last second": under load a client may
			// read a second late, and that is no failure to recover.
			if r.lastTick.Before(restartedAt) {
				t.Errorf("gateway %s: last tick at %v, before the restart at %v: the stream did not recover", r.name, r.lastTick.Format(time.StampMilli), restartedAt.Format(time.StampMilli))
			}
		}

		// Both gateways said the same thing about every id they share,
		// and that is what the stream holds at that sequence.
		stream := streamTicks(t, urls)
		shared := 0
		bySeq := fa.ticksBySeq()
		for seq, tb := range fb.ticksBySeq() {
			if ta, ok := bySeq[seq]; ok {
				shared++
				if ta != tb {
					t.Errorf("id %d: gateway A sent %s, B sent %s", seq, ta, tb)
				}
			}
		}
		for _, f := range []*follower{fa, fb} {
			for seq, data := range f.ticksBySeq() {
				tk := decodeTick(t, data)
				if s, ok := stream[seq]; !ok || s != (symSeq{tk.Symbol, tk.Seq}) {
					t.Errorf("gateway %s: id %d is %s %d, the stream holds %v there", f.name, seq, tk.Symbol, tk.Seq, s)
				}
			}
		}
		if shared == 0 {
			t.Error("the two clients share no id")
		}

		// Publish again ticks stored under the leaders since killed, as
		// the simulator does when an ack is lost: the new leaders drop
		// them (Nats-Msg-Id), which checkStream below verifies.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel2()
		conn, err := feed.Connect(ctx2, feed.ConnConfig{URL: urls, Name: "cluster test"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, seq := range before {
			// Right after the kills a read can hang on a consumer whose
			// node just came back: try again, each attempt bounded.
			var tk market.Tick
			var err error
			for attempt := 0; attempt < 4 && tk.Symbol == ""; attempt++ {
				actx, acancel := context.WithTimeout(ctx2, 4*time.Second)
				// The newest tick at or before seq (the stream holds
				// other event types too).
				err = conn.Replay(actx, seq-min(seq-1, 500), seq, nil, func(m feed.Msg) error { tk = m.Tick; return nil })
				acancel()
				if err != nil {
					t.Logf("reading stream sequence %d, attempt %d: %v", seq, attempt+1, err)
				}
			}
			if tk.Symbol == "" {
				t.Fatalf("reading stream sequence %d: %v", seq, err)
			}
			if err := conn.Publish(ctx2, tk); err != nil {
				t.Fatalf("publishing %s %d again: %v", tk.Symbol, tk.Seq, err)
			}
		}
	})

	// The stream itself: every symbol's ticks exactly once, in order,
	// whatever the simulator had to retry while the leader moved.
	checkStream(t, urls)
}

// natsCluster is a cluster of embedded NATS servers with JetStream on
// loopback. Ports are fixed at the start so a node restarts where the
// others expect it.
type natsCluster struct {
	nodes               []*server.Server // nil while a node is down
	ports, clusterPorts []int
	dirs                []string
	routes              []string
}

func startCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	c := &natsCluster{nodes: make([]*server.Server, n), ports: ports[:n], clusterPorts: ports[n:]}
	for i := range n {
		c.dirs = append(c.dirs, t.TempDir())
		c.routes = append(c.routes, fmt.Sprintf("nats-route://127.0.0.1:%d", c.clusterPorts[i]))
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			if c.nodes[i] != nil {
				c.nodes[i].Shutdown()
				c.nodes[i].WaitForShutdown()
			}
		}
	})
	for i := range n {
		c.restart(t, i)
	}
	// Ready when the cluster can place a stream on all three nodes: the
	// meta leader is elected and knows every peer.
	nc := c.connect(t)
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, fmt.Sprintf("the NATS cluster places an R%d stream", n), func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe.>"}, Replicas: n, Storage: jetstream.MemoryStorage})
		if err == nil {
			err = js.DeleteStream(ctx, "PROBE")
		}
		return err == nil, err
	})
	return c
}

func (c *natsCluster) name(i int) string { return "n" + strconv.Itoa(i+1) }

func (c *natsCluster) index(name string) int {
	for i := range c.nodes {
		if c.name(i) == name {
			return i
		}
	}
	return -1
}

// restart starts node i (again) on its ports and store directory.
func (c *natsCluster) restart(t *testing.T, i int) {
	t.Helper()
	opts := &server.Options{
		ServerName: c.name(i),
		Host:       "127.0.0.1",
		Port:       c.ports[i],
		JetStream:  true,
		StoreDir:   c.dirs[i],
		NoSigs:     true,
		NoLog:      true,
		Cluster: server.ClusterOpts{
			Name: "tickcast-test",
			Host: "127.0.0.1",
			Port: c.clusterPorts[i],
		},
		// Every node lists every route, itself included: a server drops
		// a route to itself.
		Routes: server.RoutesFromStr(strings.Join(c.routes, ",")),
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("node %s: %v", c.name(i), err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatalf("node %s not ready after 10s", c.name(i))
	}
	c.nodes[i] = ns
}

// kill shuts node i down, as a crash would for its peers and clients.
func (c *natsCluster) kill(t *testing.T, i int) {
	t.Helper()
	c.nodes[i].Shutdown()
	c.nodes[i].WaitForShutdown()
	c.nodes[i] = nil
}

// connNames lists the names of the client connections on node i.
func (c *natsCluster) connNames(i int) []string {
	cz, err := c.nodes[i].Connz(&server.ConnzOptions{})
	if err != nil {
		return []string{err.Error()}
	}
	var names []string
	for _, ci := range cz.Conns {
		names = append(names, ci.Name)
	}
	slices.Sort(names)
	return names
}

// consumersOn counts the stream's consumers whose leader is node name
// (all consumers when name is "").
func (c *natsCluster) consumersOn(t *testing.T, js jetstream.JetStream, name string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, feed.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	l := s.ListConsumers(ctx)
	for ci := range l.Info() {
		if name == "" || ci.Cluster != nil && ci.Cluster.Leader == name {
			n++
		}
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// holding returns the node a client connection named name is on, or -1.
func (c *natsCluster) holding(name string) int {
	for i := range c.nodes {
		if c.nodes[i] != nil && slices.Contains(c.connNames(i), name) {
			return i
		}
	}
	return -1
}

func (c *natsCluster) clientURLs() string {
	var urls []string
	for _, p := range c.ports {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	return strings.Join(urls, ",")
}

func (c *natsCluster) connect(t *testing.T) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(c.clientURLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// checkStream reads the whole stream and checks that every symbol's seq
// counts up by exactly one: no tick lost, none stored twice.
func checkStream(t *testing.T, urls string) {
	t.Helper()
	ticks := streamTicks(t, urls)
	bad := 0
	last := map[string]uint64{}
	at := map[symSeq]uint64{}
	for _, seq := range slices.Sorted(maps.Keys(ticks)) {
		tk := ticks[seq]
		if first, ok := at[tk]; ok {
			bad++
			t.Errorf("%s %d stored twice: stream sequences %d and %d", tk.sym, tk.seq, first, seq)
		}
		at[tk] = seq
		if p, ok := last[tk.sym]; ok && tk.seq != p+1 {
			bad++
			t.Errorf("stream seq %d: %s %d after %d (duplicate or gap)", seq, tk.sym, tk.seq, p)
		}
		last[tk.sym] = tk.seq
	}
	if bad == 0 {
		t.Logf("stream: %d ticks of %d symbols, each exactly once", len(ticks), len(last))
	}
}

type symSeq struct {
	sym string
	seq uint64
}

// streamTicks returns the symbol and seq of every tick in the stream by
// stream sequence, read directly from JetStream (other event types left
// out).
func streamTicks(t *testing.T, urls string) map[uint64]symSeq {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := feed.Connect(ctx, feed.ConnConfig{URL: urls, Name: "cluster test"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st, err := conn.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[uint64]symSeq, st.LastSeq)
	err = conn.Replay(ctx, st.FirstSeq, st.LastSeq, nil, func(m feed.Msg) error {
		out[m.Seq] = symSeq{m.Tick.Symbol, m.Tick.Seq}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	// The stream holds quotes, bars, status and clock events too; that
	// no tick is missing, checkStream checks by each symbol's seq.
	if len(out) == 0 || uint64(len(out)) > st.LastSeq-st.FirstSeq+1 {
		t.Fatalf("read %d ticks from the stream, it holds %d..%d", len(out), st.FirstSeq, st.LastSeq)
	}
	return out
}

// eventually calls cond until it returns true, and fails the test if it
// has not after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s (last error: %v)", d, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamInfo returns the stream's info once it has a leader other than
// not (which may be "").
func streamInfo(t *testing.T, js jetstream.JetStream, not string) *jetstream.StreamInfo {
	t.Helper()
	var info *jetstream.StreamInfo
	eventually(t, 20*time.Second, "the stream has a leader other than "+not, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := js.Stream(ctx, feed.DefaultStream)
		if err == nil {
			info, err = s.Info(ctx)
		}
		return err == nil && info.Cluster != nil && info.Cluster.Leader != "" && info.Cluster.Leader != not, err
	})
	return info
}

// waitCurrent waits until both followers of the stream are current.
func waitCurrent(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	eventually(t, 20*time.Second, "every replica current", func() (bool, error) {
		info := streamInfo(t, js, "")
		ok := len(info.Cluster.Replicas) == 2
		for _, r := range info.Cluster.Replicas {
			ok = ok && r.Current && !r.Offline
		}
		return ok, nil
	})
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// launch runs tickcast in this process like start, for commands that
// print no URL: it waits for ready in the output.
func launch(t *testing.T, ready *regexp.Regexp, args ...string) *program {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &program{t: t, cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}}
	go func() { p.done <- run(ctx, args, p.out, p.out) }()
	deadline := time.Now().Add(20 * time.Second)
	for !ready.MatchString(p.out.String()) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("%v not ready after 20s; output:\n%s", args, p.out)
		}
		select {
		case err := <-p.done:
			t.Fatalf("tickcast %v exited: %v\n%s", args, err, p.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Cleanup(p.stop)
	return p
}

// waitHealthy waits until the gateway at base reads the stream.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	start := time.Now()
	eventually(t, 30*time.Second, base+" healthy", func() (bool, error) {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, fmt.Errorf("status %d", resp.StatusCode)
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Logf("gateway %s healthy only after %v", base, took.Round(time.Millisecond))
	}
}

func snapshotID(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/v1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil || resp.StatusCode != 200 {
		t.Fatalf("snapshot: %d %v", resp.StatusCode, err)
	}
	return snap.ID
}

// collect reads n events, which must be ticks.
func collect(t *testing.T, ch <-chan sse, n int) []sse {
	t.Helper()
	out := make([]sse, 0, n)
	for len(out) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended after %d events", len(out))
			}
			if ev.name != "tick" {
				t.Fatalf("event %d is %q, want tick: %s", len(out), ev.name, ev.data)
			}
			out = append(out, ev)
		case <-time.After(10 * time.Second):
			t.Fatalf("no event within 10s (got %d)", len(out))
		}
	}
	return out
}

func decodeTick(t *testing.T, data string) tick {
	t.Helper()
	var tk tick
	if err := json.Unmarshal([]byte(data), &tk); err != nil {
		t.Fatalf("tick %s: %v", data, err)
	}
	return tk
}
