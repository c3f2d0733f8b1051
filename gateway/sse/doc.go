// Package sse writes the gateway's Server-Sent Events: the event ids
// ("<epoch>-<seq>", the resume cursors of docs/api.md) and the frames
// (an optional event name, an optional id, data, a blank line), appended
// to a caller's buffer so the hot path allocates nothing.
//
// It knows nothing of ticks, hubs or clients: a frame's data is JSON the
// caller encoded (one line; AppendEvent splits any other into data lines
// so the event stays well-formed).
package sse
