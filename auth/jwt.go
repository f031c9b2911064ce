package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// Token uses. A TokenKey signs and verifies tokens of exactly one use, and
// each use has its own secret, so a refresh token can never pass as an
// access token (it fails the signature check before its claims are read).
const (
	UseAccess  = "access"
	UseRefresh = "refresh"
)

// Issuer is the iss claim of every corkboard token.
const Issuer = "corkboard"

// MaxTokenBytes caps the length of a token Verify will look at, so an
// attacker cannot make the server hash or decode megabytes per request.
// Real tokens are a few hundred bytes.
const MaxTokenBytes = 8 << 10

// ClockSkew is the leeway Verify allows for iat and nbf in the future, for
// tokens minted by another instance whose clock runs slightly ahead.
const ClockSkew = 30 * time.Second

// Errors returned by Verify. Every rejection wraps exactly one of them.
var (
	// ErrTokenInvalid: the token is malformed, forged, of the wrong kind,
	// or its claims break a rule. The error text names the rule but never
	// contains the token.
	ErrTokenInvalid = errors.New("invalid token")
	// ErrTokenExpired: the token is valid in every other respect, but its
	// exp is not after now. Clients answer it by refreshing.
	ErrTokenExpired = errors.New("token expired")
)

// Reasons for rejection. They are allocated once so that a flood of
// garbage tokens costs no allocations on the error path.
var (
	errTooLong     = fmt.Errorf("%w: longer than %d bytes", ErrTokenInvalid, MaxTokenBytes)
	errSegments    = fmt.Errorf("%w: not three non-empty segments", ErrTokenInvalid)
	errHeader      = fmt.Errorf("%w: unexpected header", ErrTokenInvalid)
	errEncoding    = fmt.Errorf("%w: not canonical base64url", ErrTokenInvalid)
	errSignature   = fmt.Errorf("%w: signature mismatch", ErrTokenInvalid)
	errClaimsJSON  = fmt.Errorf("%w: claims are not a valid JSON object", ErrTokenInvalid)
	errIssuer      = fmt.Errorf("%w: missing or wrong iss", ErrTokenInvalid)
	errSubject     = fmt.Errorf("%w: missing sub", ErrTokenInvalid)
	errSessionID   = fmt.Errorf("%w: missing sid", ErrTokenInvalid)
	errNoExpiry    = fmt.Errorf("%w: missing exp", ErrTokenInvalid)
	errNoIssuedAt  = fmt.Errorf("%w: missing iat", ErrTokenInvalid)
	errIssuedLater = fmt.Errorf("%w: iat in the future", ErrTokenInvalid)
	errNotYet      = fmt.Errorf("%w: nbf in the future", ErrTokenInvalid)
	errUse         = fmt.Errorf("%w: wrong token_use", ErrTokenInvalid)
	errGeneration  = fmt.Errorf("%w: refresh token without gen", ErrTokenInvalid)
	errExpired     = fmt.Errorf("%w: exp is past", ErrTokenExpired)
)

// headerB64 is base64url(`{"alg":"HS256","typ":"JWT"}`), the header of every
// token Sign makes. Verify compares the first segment with it byte for byte
// and only parses headers that differ (TestHeaderConstant checks the value).
const headerB64 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// sigB64Len is the length of base64url(HMAC-SHA256), 32 bytes unpadded.
const sigB64Len = (sha256.Size*8 + 5) / 6

// maxHeaderBytes caps the decoded size of a header that is not headerB64.
const maxHeaderBytes = 512

// tokenB64 is the one base64 flavour a token may use: URL alphabet, no padding,
// and strict, so that unused trailing bits must be zero. Without Strict,
// "...Q" and "...R" could decode to the same bytes, so one signature would
// have several spellings. It is never modified.
var tokenB64 = base64.RawURLEncoding.Strict()

// Claims of corkboard tokens. Times are Unix seconds. An access token carries
// sub, sid, roles, iss, iat and exp; a refresh token adds gen and token_use.
type Claims struct {
	Subject    string   `json:"sub"`
	SessionID  string   `json:"sid"`
	Roles      []string `json:"roles,omitempty"`
	Issuer     string   `json:"iss"`
	IssuedAt   int64    `json:"iat"`
	ExpiresAt  int64    `json:"exp"`
	NotBefore  int64    `json:"nbf,omitempty"`
	Generation uint64   `json:"gen,omitempty"`       // refresh tokens only
	Use        string   `json:"token_use,omitempty"` // "refresh" on refresh tokens; absent or "access" on access tokens
}

// TokenKey signs and verifies tokens of one use with one secret. It is safe
// for concurrent use.
type TokenKey struct {
	use string
	// scratch holds macScratch values: an HMAC-SHA256 state already keyed
	// with the secret, and buffers for the bytes it hashes and the sum. An
	// HMAC is not safe for concurrent use, so each call borrows one.
	// Keying a fresh HMAC per call costs two SHA-256 blocks and several
	// allocations; in BenchmarkMe (GET /api/users/me end to end, file
	// store) the first release took 12.8 µs, with the claims decoded by
	// encoding/json and a pool of keyed HMACs 13.9 µs, without the pool
	// 15.1 µs. The buffers came later, from the load driver's profiles:
	// with them and decodeClaims' fast path, Verify allocates only the
	// claims it returns, and Sign one buffer besides (see BenchmarkSign,
	// BenchmarkVerify).
	scratch sync.Pool
}

// macScratch is what a Sign or Verify borrows from TokenKey.scratch.
type macScratch struct {
	mac hash.Hash // keyed with the secret
	buf []byte    // the bytes to hash, then (Verify) the decoded claims
	sum []byte    // the MAC
}

// maxScratch caps the buffer a macScratch keeps for reuse: tokens are a
// few hundred bytes, and one long token (up to MaxTokenBytes) need not pin
// its buffer in the pool.
const maxScratch = 1 << 10

// NewTokenKey returns a key that signs and verifies tokens of the given use
// (UseAccess or UseRefresh) with secret, which it copies. It panics on an
// empty secret or an unknown use: both are programming errors, and an empty
// HMAC key would let anyone forge tokens.
func NewTokenKey(secret []byte, use string) *TokenKey {
	if len(secret) == 0 {
		panic("auth: NewTokenKey with an empty secret")
	}
	if use != UseAccess && use != UseRefresh {
		panic(fmt.Sprintf("auth: NewTokenKey with unknown use %q", use))
	}
	secret = bytes.Clone(secret)
	k := &TokenKey{use: use}
	k.scratch.New = func() any { return &macScratch{mac: hmac.New(sha256.New, secret)} }
	return k
}

// borrow returns a macScratch whose HMAC is reset; give it back with
// giveBack.
func (k *TokenKey) borrow() *macScratch {
	sc := k.scratch.Get().(*macScratch)
	sc.mac.Reset()
	return sc
}

func (k *TokenKey) giveBack(sc *macScratch) {
	if cap(sc.buf) > maxScratch {
		sc.buf = nil
	}
	k.scratch.Put(sc)
}

// Sign returns the compact JWS of c with header {"alg":"HS256","typ":"JWT"}.
// It sets c.Issuer to Issuer if empty. For a refresh key it sets c.Use to
// "refresh"; for an access key it clears c.Use, so access tokens carry
// exactly the claims API.md lists.
func (k *TokenKey) Sign(c Claims) string {
	if c.Issuer == "" {
		c.Issuer = Issuer
	}
	if k.use == UseRefresh {
		c.Use = UseRefresh
	} else {
		c.Use = ""
	}
	// The claims are encoded into the scratch buffer, by hand when they
	// are plain (see appendClaims), else by encoding/json.
	sc := k.borrow()
	defer k.giveBack(sc)
	payload, ok := appendClaims(sc.buf[:0], &c)
	if !ok {
		var err error
		if payload, err = json.Marshal(c); err != nil {
			// Claims holds only strings, integers and a string slice.
			panic("auth: marshal claims: " + err.Error())
		}
	} else {
		sc.buf = payload
	}
	// The token is built in one buffer: header, payload, then the
	// signature of the two, each base64url-encoded after a dot.
	n := len(headerB64) + 1 + tokenB64.EncodedLen(len(payload))
	token := make([]byte, 0, n+1+sigB64Len)
	token = append(token, headerB64...)
	token = append(token, '.')
	token = tokenB64.AppendEncode(token, payload)
	sc.mac.Write(token)
	sc.sum = sc.mac.Sum(sc.sum[:0])
	token = append(token, '.')
	token = tokenB64.AppendEncode(token, sc.sum)
	return string(token)
}

// Verify checks token at time now and returns its claims. A token that is
// valid except that exp is not after now yields an error wrapping
// ErrTokenExpired; every other rejection wraps ErrTokenInvalid.
//
// The checks run in the order of RFC 8725 practice: cheap shape checks
// first, then the header, then the signature, and only a token we signed has
// its claims decoded. So untrusted JSON never reaches a JSON parser, and no
// answer (not even "expired") reveals anything about a forged token.
func (k *TokenKey) Verify(token string, now time.Time) (Claims, error) {
	// 1. Size and shape.
	if len(token) > MaxTokenBytes {
		return Claims{}, errTooLong
	}
	header, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || header == "" || payload == "" || sig == "" || strings.IndexByte(sig, '.') >= 0 {
		return Claims{}, errSegments
	}

	// 2. Header. Ours is always the same bytes; anything else is parsed
	// strictly, and only alg HS256 and typ JWT may be in it.
	if header != headerB64 {
		if err := checkHeader(header); err != nil {
			return Claims{}, err
		}
	}

	// 3. Strict base64url. The alphabet check matters: Go's decoder skips
	// '\r' and '\n' even in strict mode, which would make the same token
	// spellable in many ways.
	if len(sig) != sigB64Len || !isBase64URL(sig) || !isBase64URL(payload) {
		return Claims{}, errEncoding
	}
	var gotMAC [sha256.Size]byte
	if n, err := tokenB64.Decode(gotMAC[:], []byte(sig)); err != nil || n != len(gotMAC) {
		return Claims{}, errEncoding
	}

	// 4. Signature, in constant time.
	sc := k.borrow()
	defer k.giveBack(sc)
	sc.buf = append(sc.buf[:0], token[:len(header)+1+len(payload)]...)
	sc.mac.Write(sc.buf)
	sc.sum = sc.mac.Sum(sc.sum[:0])
	if !hmac.Equal(sc.sum, gotMAC[:]) {
		return Claims{}, errSignature
	}

	// 5. Claims. Strict decoding still matters here: it keeps the claims
	// canonical, and it is what stands between a bug in Sign and the
	// JSON decoder.
	claimsJSON, err := tokenB64.AppendDecode(sc.buf[:0], []byte(payload))
	sc.buf = claimsJSON
	if err != nil {
		return Claims{}, errEncoding
	}
	var c Claims
	if !decodeClaims(claimsJSON, &c) {
		return Claims{}, errClaimsJSON
	}
	if err := k.checkClaims(&c, now); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// checkHeader accepts a header other than headerB64 only if it is canonical
// base64url of a JSON object with "alg":"HS256", optionally "typ":"JWT",
// and nothing else: no kid, jku, crit or any member we would have to honour.
// Other libraries may order or space the same header differently.
func checkHeader(h string) error {
	if len(h) > tokenB64.EncodedLen(maxHeaderBytes) || !isBase64URL(h) {
		return errHeader
	}
	var buf [maxHeaderBytes]byte
	n, err := tokenB64.Decode(buf[:], []byte(h))
	if err != nil {
		return errHeader
	}
	raw := buf[:n]
	// Valid rules out trailing data; the Decoder walk below then sees
	// exactly one value.
	if !json.Valid(raw) {
		return errHeader
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errHeader
	}
	var sawAlg, sawTyp bool
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return errHeader
		}
		valTok, err := dec.Token()
		if err != nil {
			return errHeader
		}
		key, _ := keyTok.(string)
		val, isString := valTok.(string)
		if !isString {
			return errHeader
		}
		// Duplicates are refused: parsers disagree on which one wins.
		switch {
		case key == "alg" && !sawAlg && val == "HS256":
			sawAlg = true
		case key == "typ" && !sawTyp && val == "JWT":
			sawTyp = true
		default:
			return errHeader
		}
	}
	if !sawAlg {
		return errHeader
	}
	return nil
}

// isBase64URL reports whether s uses only the unpadded base64url alphabet.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if !base64URLAlphabet[s[i]] {
			return false
		}
	}
	return true
}

// base64URLAlphabet[c] reports whether byte c is in the base64url alphabet.
// isBase64URL runs over every byte of every token, and one table lookup per
// byte is three times faster than comparing ranges. It is never modified.
var base64URLAlphabet = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// checkClaims applies the claim rules to a token whose signature is good.
// Expiry comes last, so that ErrTokenExpired is only ever returned for a
// token that is otherwise fully valid.
func (k *TokenKey) checkClaims(c *Claims, now time.Time) error {
	switch {
	case c.Issuer != Issuer:
		return errIssuer
	case c.Subject == "":
		return errSubject
	case c.SessionID == "":
		return errSessionID
	case c.ExpiresAt == 0:
		return errNoExpiry
	case c.IssuedAt == 0:
		return errNoIssuedAt
	}
	// Times are whole seconds; Unix() rounds down, so "t > latest" is
	// exactly "t is after now+ClockSkew".
	latest := now.Add(ClockSkew).Unix()
	if c.IssuedAt > latest {
		return errIssuedLater
	}
	if c.NotBefore != 0 && c.NotBefore > latest {
		return errNotYet
	}
	switch k.use {
	case UseAccess:
		if c.Use != "" && c.Use != UseAccess {
			return errUse
		}
	case UseRefresh:
		if c.Use != UseRefresh {
			return errUse
		}
		if c.Generation == 0 {
			return errGeneration
		}
	}
	// No leeway on exp (API.md allows up to 30 s). Leeway is for an issuer
	// and a verifier with different clocks; here both are this service,
	// so exp means exactly the lifetime Sign was given, and a leeway would
	// only stretch every token past it. If instances' clocks do differ, a
	// token refused a little early costs the client one refresh, whereas
	// one refused for iat or nbf (above, with ClockSkew) is a hard failure.
	// exp equal to now is expired: "exp" is the first instant the token
	// is no longer good.
	if c.ExpiresAt <= now.Unix() {
		return errExpired
	}
	return nil
}
