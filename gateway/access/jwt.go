package access

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tickcast/tickcast/market"
)

// JWTConfig turns on scoped access tokens: JSON Web Tokens whose claims
// say which symbols their holder may stream ("symbols") and until when
// ("exp", required). A token is checked with the HS256 secret, or with
// the public keys (RS256 for RSA keys, ES256 for P-256 keys); the
// algorithm in its header must be one of those configured and match the
// key's type. The zero JWTConfig is off.
type JWTConfig struct {
	// HS256Secret verifies HS256 tokens; at least 32 bytes.
	HS256Secret []byte
	// PublicKeys verify RS256 (*rsa.PublicKey, at least 2048 bits) and
	// ES256 (*ecdsa.PublicKey on P-256) tokens; a token may be signed by
	// any of them (key rotation). ParsePublicKeys reads them from PEM.
	PublicKeys []crypto.PublicKey
	// Audience, if set, must be in the token's "aud".
	Audience string
	// Issuer, if set, must be the token's "iss".
	Issuer string
}

// Enabled reports whether tokens are checked as JWTs.
func (c JWTConfig) Enabled() bool { return len(c.HS256Secret) > 0 || len(c.PublicKeys) > 0 }

// MaxTokenBytes bounds an access token; a longer one is 401 unread.
const MaxTokenBytes = 8 << 10

// SymbolsClaim is the "symbols" claim: a list of symbols, or "*" (alone,
// or as an element) for every symbol.
type SymbolsClaim struct {
	All  bool
	List []string // upper case, valid symbols only, without duplicates
}

// UnmarshalJSON reads "*" or ["AAPL", "MSFT"] (case-insensitive).
func (s *SymbolsClaim) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if one != "*" {
			return errors.New(`symbols: want "*" or a list`)
		}
		*s = SymbolsClaim{All: true}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New(`symbols: want "*" or a list of strings`)
	}
	*s = SymbolsClaim{}
	for _, v := range list {
		v = strings.ToUpper(strings.TrimSpace(v))
		switch {
		case v == "*":
			s.All = true
		case market.ValidSymbol(v) && !slices.Contains(s.List, v):
			s.List = append(s.List, v)
		}
	}
	if s.All {
		s.List = nil
	}
	return nil
}

// MarshalJSON writes "*" or the list.
func (s SymbolsClaim) MarshalJSON() ([]byte, error) {
	if s.All {
		return []byte(`"*"`), nil
	}
	return json.Marshal(append([]string{}, s.List...))
}

// Claims are what a tickcast access token says.
type Claims struct {
	jwt.RegisteredClaims
	Symbols *SymbolsClaim `json:"symbols"`
}

// tokenError is why a token was refused: a fixed text, never the token.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }

// verifier checks JWTs against a JWTConfig.
type verifier struct {
	cfg     JWTConfig
	parser  *jwt.Parser
	rsaKeys []jwt.VerificationKey
	ecKeys  []jwt.VerificationKey
}

func newVerifier(cfg JWTConfig) (*verifier, error) {
	v := &verifier{cfg: cfg}
	var methods []string
	if len(cfg.HS256Secret) > 0 {
		if len(cfg.HS256Secret) < 32 {
			return nil, errors.New("the HS256 secret must be at least 32 bytes")
		}
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	for _, k := range cfg.PublicKeys {
		switch k := k.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < 2048 {
				return nil, fmt.Errorf("an RSA key of %d bits: at least 2048 are needed", k.N.BitLen())
			}
			v.rsaKeys = append(v.rsaKeys, k)
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				return nil, fmt.Errorf("an EC key on %s: ES256 needs P-256", k.Curve.Params().Name)
			}
			v.ecKeys = append(v.ecKeys, k)
		default:
			return nil, fmt.Errorf("a public key of type %T: want RSA or EC (P-256)", k)
		}
	}
	if len(v.rsaKeys) > 0 {
		methods = append(methods, jwt.SigningMethodRS256.Alg())
	}
	if len(v.ecKeys) > 0 {
		methods = append(methods, jwt.SigningMethodES256.Alg())
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithExpirationRequired()}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// keyFor returns the keys that may verify t: the secret for HS256 only,
// the RSA keys for RS256 only, the EC keys for ES256 only. A public key
// is never handed to HMAC, and "none" is never accepted.
func (v *verifier) keyFor(t *jwt.Token) (any, error) {
	switch t.Method {
	case jwt.SigningMethodHS256:
		if len(v.cfg.HS256Secret) > 0 {
			return v.cfg.HS256Secret, nil
		}
	case jwt.SigningMethodRS256:
		if len(v.rsaKeys) > 0 {
			return jwt.VerificationKeySet{Keys: v.rsaKeys}, nil
		}
	case jwt.SigningMethodES256:
		if len(v.ecKeys) > 0 {
			return jwt.VerificationKeySet{Keys: v.ecKeys}, nil
		}
	}
	return nil, errors.New("algorithm not accepted")
}

// verify checks a token and returns what it grants.
func (v *verifier) verify(tok string) (*Grant, error) {
	if len(tok) > MaxTokenBytes {
		return nil, &tokenError{fmt.Sprintf("the access token is longer than %d bytes", MaxTokenBytes)}
	}
	var c Claims
	_, err := v.parser.ParseWithClaims(tok, &c, v.keyFor)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, &tokenError{"the access token has expired"}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, &tokenError{"the access token is not valid yet (nbf)"}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, &tokenError{"the access token has no expiry (exp)"}
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return nil, &tokenError{"the access token is for another audience (aud)"}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return nil, &tokenError{"the access token is from another issuer (iss)"}
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, &tokenError{"the access token is malformed"}
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, &tokenError{"the access token's signature does not verify (wrong key or algorithm)"}
	default:
		return nil, &tokenError{"the access token is invalid"}
	}
	if c.Symbols == nil {
		return nil, &tokenError{`the access token has no "symbols" claim`}
	}
	return newGrant(c.Symbols, c.ExpiresAt.Time), nil
}

// ParsePublicKeys reads every public key in a PEM file: "PUBLIC KEY"
// (PKIX), "RSA PUBLIC KEY" (PKCS #1) or "CERTIFICATE" blocks. Other
// blocks (a private key by mistake) are an error.
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var k any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				k = c.PublicKey
			}
		default:
			return nil, fmt.Errorf("a PEM block of type %q: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("a %s block: %w", b.Type, err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return out, nil
}

// Check reports whether the configuration is usable (key sizes and
// types, the secret's length), as the gateway will check it.
func (c JWTConfig) Check() error {
	if !c.Enabled() {
		return nil
	}
	_, err := newVerifier(c)
	return err
}
