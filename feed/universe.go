package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

// The simulator stores its universe (symbols, names, sectors, previous
// closes) in a key-value bucket, so gateways on other machines can list
// and validate symbols without sharing a file.
const (
	universeBucket = "tickcast_universe"
	universeKey    = "symbols"
)

// ErrNoUniverse is returned by Universe when no simulator has stored one.
var ErrNoUniverse = errors.New("feed: no universe stored yet")

func (c *Conn) universeKV(ctx context.Context, create bool, replicas int) (jetstream.KeyValue, error) {
	if !create {
		return c.js.KeyValue(ctx, universeBucket)
	}
	if replicas <= 0 {
		replicas = 1
	}
	return c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      universeBucket,
		Description: "tickcast symbol universe",
		History:     1,
		Replicas:    replicas,
	})
}

// PutUniverse stores the simulated universe for gateways to read.
func (c *Conn) PutUniverse(ctx context.Context, syms []market.SymbolInfo, replicas int) error {
	kv, err := c.universeKV(ctx, true, replicas)
	if err != nil {
		return fmt.Errorf("feed: universe bucket: %w", err)
	}
	data, err := json.Marshal(syms)
	if err != nil {
		return fmt.Errorf("feed: universe: %w", err)
	}
	if _, err := kv.Put(ctx, universeKey, data); err != nil {
		return fmt.Errorf("feed: put universe: %w", err)
	}
	return nil
}

// Universe returns the stored universe, or ErrNoUniverse.
func (c *Conn) Universe(ctx context.Context) ([]market.SymbolInfo, error) {
	kv, err := c.universeKV(ctx, false, 0)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, ErrNoUniverse
	}
	if err != nil {
		return nil, fmt.Errorf("feed: universe bucket: %w", err)
	}
	e, err := kv.Get(ctx, universeKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNoUniverse
	}
	if err != nil {
		return nil, fmt.Errorf("feed: get universe: %w", err)
	}
	var syms []market.SymbolInfo
	if err := json.Unmarshal(e.Value(), &syms); err != nil {
		return nil, fmt.Errorf("feed: universe: %w", err)
	}
	out := syms[:0]
	for _, s := range syms {
		if market.ValidSymbol(s.Symbol) {
			out = append(out, s)
		}
	}
	return out, nil
}
