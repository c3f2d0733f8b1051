// Package access decides what a request's credential allows: the
// gateway's shared token (everything, every route) or a scoped access
// token, a JSON Web Token whose claims name its symbols and its expiry
// (JWTConfig, docs/api.md "Access tokens"). A Checker turns a credential
// into a Grant; the gateway turns a refusal into a 401 or 403 and keeps
// the Grant in the request's context (WithGrant, GrantOf).
//
// Tokens are never logged or echoed: a refusal's text is fixed.
package access
