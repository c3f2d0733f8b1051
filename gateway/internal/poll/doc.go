// Package poll is the gateway's epoll poller (Linux): the event loop's
// streams are hijacked TCP connections that no goroutine reads or waits
// to write on. Get returns the process's Poller; Add registers a
// connection with two callbacks, gone (the client closed) and writable
// (a full socket drained, after ArmOut); Conn.Write writes without
// blocking; Conn.End half-closes and closes once the client has;
// Conn.Detach makes the descriptor the poller's own and closes the
// net.TCPConn, so the runtime releases what it held for it.
//
// On other systems Get fails and the gateway serves every stream from
// goroutines of its own.
package poll
