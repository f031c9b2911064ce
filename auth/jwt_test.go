package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every token test runs at this instant, so the fuzz corpus and the table
// stay valid forever.
var jwtNow = time.Unix(1_767_225_600, 0) // 2026-01-01T00:00:00Z

var (
	jwtAccessSecret  = []byte("access-secret-for-tests-only-0123456789")
	jwtRefreshSecret = []byte("refresh-secret-for-tests-only-987654321")
)

const jwtStdHeader = `{"alg":"HS256","typ":"JWT"}`

func jwtKeys() map[string]*TokenKey {
	return map[string]*TokenKey{
		UseAccess:  NewTokenKey(jwtAccessSecret, UseAccess),
		UseRefresh: NewTokenKey(jwtRefreshSecret, UseRefresh),
	}
}

// jwtSeg is the base64url of s, as a token segment.
func jwtSeg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jwtSignSegments joins already-encoded header and payload segments and signs
// them with secret, whatever bytes they hold, so a case can present a
// correctly signed token that breaks exactly one rule.
func jwtSignSegments(secret []byte, header64, payload64 string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(header64 + "." + payload64))
	return header64 + "." + payload64 + "." + jwtSeg(string(mac.Sum(nil)))
}

// jwtSignJSON signs arbitrary header and payload text with secret.
func jwtSignJSON(secret []byte, header, payload string) string {
	return jwtSignSegments(secret, jwtSeg(header), jwtSeg(payload))
}

// jwtAccessClaims is a valid access token's claims at jwtNow, as a map so a
// case can change one member, or give it a value of the wrong type.
func jwtAccessClaims() map[string]any {
	return map[string]any{
		"sub":   "0123456789abcdef01234567",
		"sid":   "89abcdef0123456789abcdef",
		"roles": []string{RoleUser},
		"iss":   Issuer,
		"iat":   jwtNow.Unix() - 10,
		"exp":   jwtNow.Unix() + 900,
	}
}

// jwtRefreshClaims is a valid refresh token's claims at jwtNow.
func jwtRefreshClaims() map[string]any {
	return map[string]any{
		"sub":       "0123456789abcdef01234567",
		"sid":       "89abcdef0123456789abcdef",
		"iss":       Issuer,
		"iat":       jwtNow.Unix() - 10,
		"exp":       jwtNow.Add(7 * 24 * time.Hour).Unix(),
		"gen":       3,
		"token_use": UseRefresh,
	}
}

// jwtWith returns a copy of m with the members of kv set, in key, value pairs.
func jwtWith(m map[string]any, kv ...any) map[string]any {
	m = maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// jwtWithout returns a copy of m without keys.
func jwtWithout(m map[string]any, keys ...string) map[string]any {
	m = maps.Clone(m)
	for _, k := range keys {
		delete(m, k)
	}
	return m
}

func jwtMustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("json.Marshal(%v): %v", v, err)
	}
	return string(b)
}

// jwtSplit returns a token's three segments.
func jwtSplit(tb testing.TB, token string) (header, payload, sig string) {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("test setup: %q has %d segments, want 3", token, len(parts))
	}
	return parts[0], parts[1], parts[2]
}

const jwtURLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// jwtSetTrailingBits returns s with the unused low bits of its last character
// set: a lenient decoder reads the same bytes from it, a strict one refuses.
func jwtSetTrailingBits(tb testing.TB, s string) string {
	tb.Helper()
	if len(s)%4 == 0 {
		tb.Fatalf("test setup: %q has no unused bits", s)
	}
	i := strings.IndexByte(jwtURLAlphabet, s[len(s)-1])
	t := s[:len(s)-1] + string(jwtURLAlphabet[i|1])
	a, errA := base64.RawURLEncoding.DecodeString(s)
	b, errB := base64.RawURLEncoding.DecodeString(t)
	if errA != nil || errB != nil || string(a) != string(b) {
		tb.Fatalf("test setup: %q and %q should decode alike leniently", s, t)
	}
	return t
}

// jwtPadTo returns payload JSON with spaces before its closing brace until
// its length mod 3 is mod, so its base64url has unused bits (mod 1 or 2).
func jwtPadTo(payload string, mod int) string {
	for len(payload)%3 != mod {
		payload = payload[:len(payload)-1] + " }"
	}
	return payload
}

// jwtPayloadWithURLChars returns a valid access payload whose base64url
// contains '-' or '_', so a case can swap in '+' or '/'.
func jwtPayloadWithURLChars(tb testing.TB) (payload, payload64 string) {
	tb.Helper()
	for pad := range 3 {
		p := jwtMustJSON(tb, jwtWith(jwtAccessClaims(), "note", strings.Repeat(" ", pad)+"???~~~>>>"))
		if p64 := jwtSeg(p); strings.ContainsAny(p64, "-_") {
			return p, p64
		}
	}
	tb.Fatal("test setup: no payload with '-' or '_' in its base64url")
	return "", ""
}

// jwtTokenOfLength returns a validly signed access token exactly n bytes long,
// padded with an unknown claim.
func jwtTokenOfLength(tb testing.TB, n int) string {
	tb.Helper()
	base := len(jwtSignJSON(jwtAccessSecret, jwtStdHeader, jwtMustJSON(tb, jwtWith(jwtAccessClaims(), "pad", ""))))
	for pad := max(0, (n-base)*3/4-8); pad < n; pad++ {
		tok := jwtSignJSON(jwtAccessSecret, jwtStdHeader, jwtMustJSON(tb, jwtWith(jwtAccessClaims(), "pad", strings.Repeat("x", pad))))
		if len(tok) == n {
			return tok
		}
		if len(tok) > n {
			break
		}
	}
	tb.Fatalf("test setup: cannot build a token of exactly %d bytes", n)
	return ""
}

type jwtCase struct {
	name  string
	use   string // which key verifies: UseAccess or UseRefresh
	token string
	want  error // nil means accepted; else the exact rule, checked with errors.Is
}

// jwtCases is the table of Verify's rules. Each rejected token is
// correctly signed unless the case is about the signature or comes before
// it, so that it proves the rule it names rejects it and nothing earlier.
func jwtCases(tb testing.TB) []jwtCase {
	tb.Helper()
	A, R := jwtAccessSecret, jwtRefreshSecret
	access := jwtMustJSON(tb, jwtAccessClaims())
	refresh := jwtMustJSON(tb, jwtRefreshClaims())
	good := jwtSignJSON(A, jwtStdHeader, access)
	h64, p64, s64 := jwtSplit(tb, good)
	accessWith := func(kv ...any) string {
		return jwtSignJSON(A, jwtStdHeader, jwtMustJSON(tb, jwtWith(jwtAccessClaims(), kv...)))
	}
	accessWithout := func(keys ...string) string {
		return jwtSignJSON(A, jwtStdHeader, jwtMustJSON(tb, jwtWithout(jwtAccessClaims(), keys...)))
	}
	refreshWith := func(kv ...any) string {
		return jwtSignJSON(R, jwtStdHeader, jwtMustJSON(tb, jwtWith(jwtRefreshClaims(), kv...)))
	}
	header := func(h string) string { return jwtSignJSON(A, h, access) }
	payload := func(p string) string { return jwtSignJSON(A, jwtStdHeader, p) }

	sigBytes, _ := base64.RawURLEncoding.DecodeString(s64)
	sigBytes[0] ^= 1
	flipped := h64 + "." + p64 + "." + jwtSeg(string(sigBytes))

	odd := jwtPadTo(access, 1)      // base64url ends with 4 unused bits
	oddHeader := `{"alg":"HS256" }` // 16 bytes: base64url ends with 4 unused bits
	urlPayload, urlP64 := jwtPayloadWithURLChars(tb)
	plusSlash := strings.NewReplacer("-", "+", "_", "/").Replace(urlP64)
	now := jwtNow.Unix()

	return []jwtCase{
		// Accepted, as boundaries for the rejections below.
		{"access token", UseAccess, good, nil},
		{"refresh token", UseRefresh, jwtSignJSON(R, jwtStdHeader, refresh), nil},
		{"access with token_use access", UseAccess, accessWith("token_use", UseAccess), nil},
		{"access without roles", UseAccess, accessWithout("roles"), nil},
		{"header without typ", UseAccess, header(`{"alg":"HS256"}`), nil},
		{"header members reordered", UseAccess, header(`{"typ":"JWT","alg":"HS256"}`), nil},
		{"header with spaces", UseAccess, header(` { "alg" : "HS256" , "typ" : "JWT" } `), nil},
		{"header with odd length", UseAccess, header(oddHeader), nil},
		{"payload with odd length", UseAccess, payload(odd), nil},
		{"payload with - or _", UseAccess, payload(urlPayload), nil},
		{"unknown claim", UseAccess, accessWith("jti", "x"), nil},
		{"unknown claims of every kind", UseAccess, accessWith("x", map[string]any{"a": []any{1.5, "]}", nil, true}}, "y", -2e-3, "z", `\"`), nil},
		{"escapes in values", UseAccess, accessWith("sub", "\"\\/\b\f\n\r\t\x01é😀<>&\u2028"), nil},
		{"empty roles", UseAccess, accessWith("roles", []string{}), nil},
		{"payload with spaces", UseAccess, payload(" {\n\t" + access[1:len(access)-1] + " \r\n} "), nil},
		{"exp at int64 limit", UseAccess, accessWith("exp", json.Number("9223372036854775807")), nil},
		{"iat within skew", UseAccess, accessWith("iat", now+30), nil},
		{"nbf within skew", UseAccess, accessWith("nbf", now+30), nil},
		{"nbf past", UseAccess, accessWith("nbf", now-60), nil},
		{"exp one second ahead", UseAccess, accessWith("exp", now+1), nil},
		{"exactly 8 KiB", UseAccess, jwtTokenOfLength(tb, MaxTokenBytes), nil},

		// 1. Size and shape.
		{"over 8 KiB", UseAccess, jwtTokenOfLength(tb, MaxTokenBytes+1), errTooLong},
		{"empty", UseAccess, "", errSegments},
		{"one segment", UseAccess, h64, errSegments},
		{"two segments", UseAccess, h64 + "." + p64, errSegments},
		{"four segments", UseAccess, good + "." + s64, errSegments},
		{"trailing dot", UseAccess, good + ".", errSegments},
		{"only dots", UseAccess, "..", errSegments},
		{"empty header", UseAccess, "." + p64 + "." + s64, errSegments},
		{"empty payload", UseAccess, h64 + ".." + s64, errSegments},
		{"empty signature", UseAccess, h64 + "." + p64 + ".", errSegments},
		{"alg none unsigned", UseAccess, jwtSeg(`{"alg":"none","typ":"JWT"}`) + "." + p64 + ".", errSegments},

		// 2. Header.
		{"alg none", UseAccess, header(`{"alg":"none","typ":"JWT"}`), errHeader},
		{"alg HS512", UseAccess, header(`{"alg":"HS512","typ":"JWT"}`), errHeader},
		{"alg RS256", UseAccess, header(`{"alg":"RS256","typ":"JWT"}`), errHeader},
		{"alg hs256", UseAccess, header(`{"alg":"hs256","typ":"JWT"}`), errHeader},
		{"alg empty", UseAccess, header(`{"alg":"","typ":"JWT"}`), errHeader},
		{"alg not a string", UseAccess, header(`{"alg":["HS256"],"typ":"JWT"}`), errHeader},
		{"alg null", UseAccess, header(`{"alg":null,"typ":"JWT"}`), errHeader},
		{"alg missing", UseAccess, header(`{"typ":"JWT"}`), errHeader},
		{"alg twice", UseAccess, header(`{"alg":"none","alg":"HS256"}`), errHeader},
		{"alg twice, both HS256", UseAccess, header(`{"alg":"HS256","alg":"HS256"}`), errHeader},
		{"ALG upper case", UseAccess, header(`{"ALG":"HS256"}`), errHeader},
		{"typ JWS", UseAccess, header(`{"alg":"HS256","typ":"JWS"}`), errHeader},
		{"typ jwt", UseAccess, header(`{"alg":"HS256","typ":"jwt"}`), errHeader},
		{"typ null", UseAccess, header(`{"alg":"HS256","typ":null}`), errHeader},
		{"header with kid", UseAccess, header(`{"alg":"HS256","typ":"JWT","kid":"1"}`), errHeader},
		{"header with crit", UseAccess, header(`{"alg":"HS256","crit":["exp"]}`), errHeader},
		{"header with jku", UseAccess, header(`{"alg":"HS256","jku":"https://evil.example/jwks"}`), errHeader},
		{"header empty object", UseAccess, header(`{}`), errHeader},
		{"header null", UseAccess, header(`null`), errHeader},
		{"header array", UseAccess, header(`["HS256"]`), errHeader},
		{"header trailing data", UseAccess, header(`{"alg":"HS256"}{}`), errHeader},
		{"header not JSON", UseAccess, header(`alg=HS256`), errHeader},
		{"header over 512 bytes", UseAccess, header(`{"alg":"HS256"` + strings.Repeat(" ", 500) + `}`), errHeader},
		{"header padded", UseAccess, jwtSignSegments(A, jwtSeg(oddHeader)+"==", p64), errHeader},
		{"header trailing bits", UseAccess, jwtSignSegments(A, jwtSetTrailingBits(tb, jwtSeg(oddHeader)), p64), errHeader},
		{"header with LF", UseAccess, jwtSignSegments(A, h64[:10]+"\n"+h64[10:], p64), errHeader},

		// 3. Strict base64url.
		{"payload padded", UseAccess, jwtSignSegments(A, h64, jwtSeg(odd)+"=="), errEncoding},
		{"payload with + or /", UseAccess, jwtSignSegments(A, h64, plusSlash), errEncoding},
		{"payload trailing bits", UseAccess, jwtSignSegments(A, h64, jwtSetTrailingBits(tb, jwtSeg(odd))), errEncoding},
		{"payload with CR", UseAccess, jwtSignSegments(A, h64, p64[:8]+"\r"+p64[8:]), errEncoding},
		{"payload with LF", UseAccess, jwtSignSegments(A, h64, p64[:8]+"\n"+p64[8:]), errEncoding},
		{"payload with CRLF", UseAccess, jwtSignSegments(A, h64, p64[:8]+"\r\n"+p64[8:]), errEncoding},
		{"payload with space", UseAccess, jwtSignSegments(A, h64, p64[:8]+" "+p64[8:]), errEncoding},
		{"payload impossible length", UseAccess, jwtSignSegments(A, h64, p64+strings.Repeat("A", (5-len(p64)%4)%4)), errEncoding},
		{"signature padded", UseAccess, good + "=", errEncoding},
		{"signature trailing bits", UseAccess, h64 + "." + p64 + "." + jwtSetTrailingBits(tb, s64), errEncoding},
		{"signature with +", UseAccess, h64 + "." + p64 + ".+" + s64[1:], errEncoding},
		{"signature with /", UseAccess, h64 + "." + p64 + "./" + s64[1:], errEncoding},
		{"signature with LF", UseAccess, h64 + "." + p64 + "." + s64[:20] + "\n" + s64[20:], errEncoding},
		{"signature with LF, 43 bytes", UseAccess, h64 + "." + p64 + "." + s64[:20] + "\n" + s64[20:42], errEncoding},
		{"signature truncated by one", UseAccess, good[:len(good)-1], errEncoding},
		{"signature truncated to 32 chars", UseAccess, h64 + "." + p64 + "." + s64[:32], errEncoding},
		{"signature non-ASCII", UseAccess, h64 + "." + p64 + "." + s64[:41] + "é", errEncoding},

		// 4. Signature.
		{"signature one bit flipped", UseAccess, flipped, errSignature},
		{"signature of another token", UseAccess, h64 + "." + jwtSeg(refresh) + "." + s64, errSignature},
		{"access claims, refresh secret", UseAccess, jwtSignJSON(R, jwtStdHeader, access), errSignature},
		{"refresh token to access key", UseAccess, jwtSignJSON(R, jwtStdHeader, refresh), errSignature},
		{"access token to refresh key", UseRefresh, good, errSignature},
		{"refresh claims, access secret, refresh key", UseRefresh, jwtSignJSON(A, jwtStdHeader, refresh), errSignature},
		{"expired and forged", UseAccess, h64 + "." + jwtSeg(jwtMustJSON(tb, jwtWith(jwtAccessClaims(), "exp", now-60))) + "." + s64, errSignature},

		// 5. Claims JSON.
		{"payload not JSON", UseAccess, payload(`not json`), errClaimsJSON},
		{"payload truncated JSON", UseAccess, payload(`{"sub":`), errClaimsJSON},
		{"payload array", UseAccess, payload(`[]`), errClaimsJSON},
		{"payload string", UseAccess, payload(`"corkboard"`), errClaimsJSON},
		{"payload trailing data", UseAccess, payload(access + `{}`), errClaimsJSON},
		{"exp string", UseAccess, accessWith("exp", fmt.Sprint(now+900)), errClaimsJSON},
		{"exp float", UseAccess, accessWith("exp", json.Number(fmt.Sprint(now+900)+".5")), errClaimsJSON},
		{"exp exponent", UseAccess, accessWith("exp", json.Number("1.8e9")), errClaimsJSON},
		{"iat float", UseAccess, accessWith("iat", json.Number(fmt.Sprint(now)+".0")), errClaimsJSON},
		{"sub number", UseAccess, accessWith("sub", 42), errClaimsJSON},
		{"roles string", UseAccess, accessWith("roles", RoleAdmin), errClaimsJSON},
		{"gen negative", UseRefresh, refreshWith("gen", -1), errClaimsJSON},
		{"gen float", UseRefresh, refreshWith("gen", json.Number("1.0")), errClaimsJSON},
		{"gen over uint64", UseRefresh, refreshWith("gen", json.Number("18446744073709551616")), errClaimsJSON},
		{"exp over int64", UseAccess, accessWith("exp", json.Number("9223372036854775808")), errClaimsJSON},
		{"exp under int64", UseAccess, accessWith("exp", json.Number("-9223372036854775809")), errClaimsJSON},
		{"exp null", UseAccess, accessWith("exp", nil), errNoExpiry},
		{"roles with a number", UseAccess, accessWith("roles", []any{RoleUser, 1}), errClaimsJSON},
		{"raw control character", UseAccess, payload(strings.Replace(access, `"sub":"`, "\"sub\":\"\x01", 1)), errClaimsJSON},

		// 5. Claims rules.
		{"payload null", UseAccess, payload(`null`), errIssuer},
		{"payload empty object", UseAccess, payload(`{}`), errIssuer},
		{"iss missing", UseAccess, accessWithout("iss"), errIssuer},
		{"iss wrong", UseAccess, accessWith("iss", "corkboard2"), errIssuer},
		{"iss other case", UseAccess, accessWith("iss", "Corkboard"), errIssuer},
		{"sub missing", UseAccess, accessWithout("sub"), errSubject},
		{"sub empty", UseAccess, accessWith("sub", ""), errSubject},
		{"sid missing", UseAccess, accessWithout("sid"), errSessionID},
		{"sid empty", UseAccess, accessWith("sid", ""), errSessionID},
		{"exp missing", UseAccess, accessWithout("exp"), errNoExpiry},
		{"exp zero", UseAccess, accessWith("exp", 0), errNoExpiry},
		{"iat missing", UseAccess, accessWithout("iat"), errNoIssuedAt},
		{"iat beyond skew", UseAccess, accessWith("iat", now+31), errIssuedLater},
		{"nbf beyond skew", UseAccess, accessWith("nbf", now+31), errNotYet},
		{"token_use refresh to access key", UseAccess, accessWith("token_use", UseRefresh), errUse},
		{"token_use other to access key", UseAccess, accessWith("token_use", "id"), errUse},
		{"token_use missing to refresh key", UseRefresh, jwtSignJSON(R, jwtStdHeader, jwtMustJSON(tb, jwtWithout(jwtRefreshClaims(), "token_use"))), errUse},
		{"token_use access to refresh key", UseRefresh, refreshWith("token_use", UseAccess), errUse},
		{"refresh without gen", UseRefresh, jwtSignJSON(R, jwtStdHeader, jwtMustJSON(tb, jwtWithout(jwtRefreshClaims(), "gen"))), errGeneration},
		{"refresh with gen 0", UseRefresh, refreshWith("gen", 0), errGeneration},
		{"expired and wrong iss", UseAccess, accessWith("exp", now-60, "iss", "other"), errIssuer},
		{"expired and iat missing", UseAccess, jwtSignJSON(A, jwtStdHeader, jwtMustJSON(tb, jwtWith(jwtWithout(jwtAccessClaims(), "iat"), "exp", now-60))), errNoIssuedAt},
		{"expired refresh without gen", UseRefresh, jwtSignJSON(R, jwtStdHeader, jwtMustJSON(tb, jwtWith(jwtWithout(jwtRefreshClaims(), "gen"), "exp", now-60))), errGeneration},

		// Expiry, last of all.
		{"expired", UseAccess, accessWith("exp", now-60), errExpired},
		{"exp == now", UseAccess, accessWith("exp", now), errExpired},
		{"exp negative", UseAccess, accessWith("exp", -1), errExpired},
		{"exp at int64 minimum", UseAccess, accessWith("exp", json.Number("-9223372036854775808")), errExpired},
		{"expired refresh", UseRefresh, refreshWith("exp", now-1), errExpired},
	}
}

// jwtClaimsEqual compares claims, treating nil and empty Roles alike.
func jwtClaimsEqual(a, b Claims) bool {
	ra, rb := a.Roles, b.Roles
	a.Roles, b.Roles = nil, nil
	return reflect.DeepEqual(a, b) && slices.Equal(ra, rb)
}

func TestVerify(t *testing.T) {
	keys := jwtKeys()
	for _, tc := range jwtCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keys[tc.use].Verify(tc.token, jwtNow)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("%s key Verify(%.300q) = %v; want accepted", tc.use, tc.token, err)
				}
				if got.Issuer != Issuer || got.Subject == "" || got.SessionID == "" {
					t.Fatalf("%s key Verify(%.300q) = %+v; want the token's claims", tc.use, tc.token, got)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("%s key Verify(%.300q) = %v; want %v", tc.use, tc.token, err, tc.want)
			}
			// Exactly one of the two public errors, and expired only when
			// the rule is expiry.
			expired := errors.Is(tc.want, ErrTokenExpired)
			if errors.Is(err, ErrTokenExpired) != expired || errors.Is(err, ErrTokenInvalid) == expired {
				t.Errorf("%s key Verify(%.300q) = %v: ErrTokenExpired %v, ErrTokenInvalid %v; want %v, %v",
					tc.use, tc.token, err, errors.Is(err, ErrTokenExpired), errors.Is(err, ErrTokenInvalid), expired, !expired)
			}
			if !jwtClaimsEqual(got, Claims{}) {
				t.Errorf("%s key Verify(%.300q) returned claims %+v with error %v; want zero claims", tc.use, tc.token, got, err)
			}
		})
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	keys := jwtKeys()
	tests := []struct {
		use  string
		in   Claims
		want Claims
	}{
		{
			use:  UseAccess,
			in:   Claims{Subject: "u1", SessionID: "s1", Roles: []string{RoleUser, RoleAdmin}, IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 900},
			want: Claims{Subject: "u1", SessionID: "s1", Roles: []string{RoleUser, RoleAdmin}, Issuer: Issuer, IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 900},
		},
		{
			// An access key never writes token_use, even if asked to.
			use:  UseAccess,
			in:   Claims{Subject: "u1", SessionID: "s1", IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 900, Use: UseRefresh},
			want: Claims{Subject: "u1", SessionID: "s1", Issuer: Issuer, IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 900},
		},
		{
			use:  UseAccess,
			in:   Claims{Subject: `"quoted" \ <tag> & ünïcødé` + "\x00\n", SessionID: "s1", Roles: []string{}, IssuedAt: 1, ExpiresAt: jwtNow.Unix() + 1, NotBefore: jwtNow.Unix() + 30},
			want: Claims{Subject: `"quoted" \ <tag> & ünïcødé` + "\x00\n", SessionID: "s1", Issuer: Issuer, IssuedAt: 1, ExpiresAt: jwtNow.Unix() + 1, NotBefore: jwtNow.Unix() + 30},
		},
		{
			use:  UseRefresh,
			in:   Claims{Subject: "u1", SessionID: "s1", IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 3600, Generation: 7},
			want: Claims{Subject: "u1", SessionID: "s1", Issuer: Issuer, IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 3600, Generation: 7, Use: UseRefresh},
		},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %s", tc.use, tc.in.Subject), func(t *testing.T) {
			token := keys[tc.use].Sign(tc.in)
			got, err := keys[tc.use].Verify(token, jwtNow)
			if err != nil || !jwtClaimsEqual(got, tc.want) {
				t.Fatalf("Verify(Sign(%+v)) = %+v, %v; want %+v, nil", tc.in, got, err, tc.want)
			}
			if h, _, _ := jwtSplit(t, token); h != headerB64 {
				t.Errorf("Sign(%+v) header = %q; want %q", tc.in, h, headerB64)
			}
			// The other key refuses it at the signature.
			other := UseRefresh
			if tc.use == UseRefresh {
				other = UseAccess
			}
			if got, err := keys[other].Verify(token, jwtNow); !errors.Is(err, errSignature) {
				t.Errorf("%s key Verify(%s token %q) = %+v, %v; want %v", other, tc.use, token, got, err, errSignature)
			}
		})
	}
}

// TestSignAccessClaims checks that an access token carries exactly the
// claims API.md lists, and a refresh token also gen and token_use.
func TestSignAccessClaims(t *testing.T) {
	keys := jwtKeys()
	c := Claims{Subject: "u", SessionID: "s", Roles: []string{RoleUser}, IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 60}
	tests := []struct {
		use  string
		in   Claims
		want []string
	}{
		{UseAccess, c, []string{"exp", "iat", "iss", "roles", "sid", "sub"}},
		{UseRefresh, Claims{Subject: "u", SessionID: "s", IssuedAt: 1, ExpiresAt: 2, Generation: 1}, []string{"exp", "gen", "iat", "iss", "sid", "sub", "token_use"}},
	}
	for _, tc := range tests {
		token := keys[tc.use].Sign(tc.in)
		_, p, _ := jwtSplit(t, token)
		raw, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			t.Fatalf("Sign(%+v) payload %q: %v", tc.in, p, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("Sign(%+v) payload %s: %v", tc.in, raw, err)
		}
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, tc.want) {
			t.Errorf("%s key Sign(%+v) claims = %v; want %v", tc.use, tc.in, got, tc.want)
		}
	}
}

// TestSignKeepsIssuer: Sign fills in Issuer only when it is empty, and a
// token with another issuer does not verify.
func TestSignKeepsIssuer(t *testing.T) {
	k := NewTokenKey(jwtAccessSecret, UseAccess)
	in := Claims{Subject: "u", SessionID: "s", Issuer: "elsewhere", IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 60}
	if got, err := k.Verify(k.Sign(in), jwtNow); !errors.Is(err, errIssuer) {
		t.Errorf("Verify(Sign(%+v)) = %+v, %v; want %v", in, got, err, errIssuer)
	}
}

// TestExpiredOnlyAfterSignature: an expired token whose signature is wrong
// is invalid, not expired, so "expired" never vouches for a forgery.
func TestExpiredOnlyAfterSignature(t *testing.T) {
	k := NewTokenKey(jwtAccessSecret, UseAccess)
	c := Claims{Subject: "u", SessionID: "s", IssuedAt: jwtNow.Unix() - 120, ExpiresAt: jwtNow.Unix() - 60}
	expired := k.Sign(c)
	if _, err := k.Verify(expired, jwtNow); !errors.Is(err, ErrTokenExpired) || errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("Verify(%q) = %v; want only %v", expired, err, ErrTokenExpired)
	}
	forged := []struct{ name, token string }{
		{"other secret", NewTokenKey([]byte("attacker"), UseAccess).Sign(c)},
		{"refresh kind with the access secret", NewTokenKey(jwtAccessSecret, UseRefresh).Sign(Claims{Subject: "u", SessionID: "s", IssuedAt: 1, ExpiresAt: 2, Generation: 1})},
		{"signature of another token", expired[:strings.LastIndexByte(expired, '.')+1] + strings.Repeat("A", 43)},
	}
	for _, f := range forged {
		_, err := k.Verify(f.token, jwtNow)
		if !errors.Is(err, ErrTokenInvalid) || errors.Is(err, ErrTokenExpired) {
			t.Errorf("%s: Verify(%q) = %v; want only %v", f.name, f.token, err, ErrTokenInvalid)
		}
	}
}

// TestVerifyFreshRoles: each Verify returns a Roles slice of its own, which
// a later call does not overwrite.
func TestVerifyFreshRoles(t *testing.T) {
	k := NewTokenKey(jwtAccessSecret, UseAccess)
	mk := func(roles ...string) string {
		return k.Sign(Claims{Subject: "u", SessionID: "s", Roles: roles, IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 60})
	}
	first, err := k.Verify(mk(RoleUser, RoleModerator), jwtNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Verify(mk(RoleAdmin), jwtNow); err != nil {
		t.Fatal(err)
	}
	if want := []string{RoleUser, RoleModerator}; !slices.Equal(first.Roles, want) {
		t.Errorf("first Verify roles became %v after a second Verify; want %v", first.Roles, want)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	keys := jwtKeys()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				use := UseAccess
				if (g+i)%2 == 1 {
					use = UseRefresh
				}
				in := Claims{Subject: fmt.Sprint("u", g), SessionID: fmt.Sprint("s", i), Roles: []string{fmt.Sprint(i)},
					IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 60, Generation: uint64(i + 1)}
				token := keys[use].Sign(in)
				got, err := keys[use].Verify(token, jwtNow)
				if err != nil || got.Subject != in.Subject || got.SessionID != in.SessionID || !slices.Equal(got.Roles, in.Roles) {
					t.Errorf("%s Verify(Sign(%+v)) = %+v, %v", use, in, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestHeaderConstant(t *testing.T) {
	if got := jwtSeg(jwtStdHeader); got != headerB64 {
		t.Errorf("base64url(%s) = %q; headerB64 = %q", jwtStdHeader, got, headerB64)
	}
	if got := base64.RawURLEncoding.EncodedLen(sha256.Size); got != sigB64Len {
		t.Errorf("encoded signature length = %d; sigB64Len = %d", got, sigB64Len)
	}
}

func TestIsBase64URL(t *testing.T) {
	for c := range 256 {
		want := strings.IndexByte(jwtURLAlphabet, byte(c)) >= 0
		if got := isBase64URL(string([]byte{byte(c)})); got != want {
			t.Errorf("isBase64URL(%q) = %v; want %v", byte(c), got, want)
		}
	}
	if !isBase64URL("") {
		t.Errorf("isBase64URL(\"\") = false; want true")
	}
}

func TestNewTokenKeyPanics(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		use    string
	}{
		{"empty secret", nil, UseAccess},
		{"unknown use", []byte("s"), "id"},
		{"empty use", []byte("s"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewTokenKey(%q, %q) did not panic", tc.secret, tc.use)
				}
			}()
			NewTokenKey(tc.secret, tc.use)
		})
	}
}

// TestNewTokenKeyCopiesSecret: changing the caller's slice afterwards
// does not change the key.
func TestNewTokenKeyCopiesSecret(t *testing.T) {
	secret := []byte("secret-0123456789")
	k := NewTokenKey(secret, UseAccess)
	token := k.Sign(Claims{Subject: "u", SessionID: "s", IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 60})
	secret[0] = 'X'
	if _, err := k.Verify(token, jwtNow); err != nil {
		t.Errorf("Verify after the caller changed the secret: %v", err)
	}
}

// FuzzVerify feeds Verify arbitrary text. It must never panic, every error
// must wrap exactly one of the two public errors, and whatever it accepts
// must be canonical, re-verify identically and satisfy the claim rules.
// Since the fuzzer cannot forge HMAC, accepted inputs are mutations that
// Verify should have refused and did not.
func FuzzVerify(f *testing.F) {
	for _, tc := range jwtCases(f) {
		f.Add(tc.token)
	}
	keys := jwtKeys()
	f.Add(keys[UseAccess].Sign(Claims{Subject: "u", SessionID: "s", Roles: []string{RoleUser}, IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 900}))
	f.Add(keys[UseRefresh].Sign(Claims{Subject: "u", SessionID: "s", IssuedAt: jwtNow.Unix(), ExpiresAt: jwtNow.Unix() + 900, Generation: 2}))

	f.Fuzz(func(t *testing.T, token string) {
		for _, use := range []string{UseAccess, UseRefresh} {
			k := keys[use]
			c, err := k.Verify(token, jwtNow)
			if err != nil {
				if errors.Is(err, ErrTokenInvalid) == errors.Is(err, ErrTokenExpired) {
					t.Fatalf("%s key Verify(%q) = %v; want exactly one of ErrTokenInvalid, ErrTokenExpired", use, token, err)
				}
				if !jwtClaimsEqual(c, Claims{}) {
					t.Fatalf("%s key Verify(%q) = %+v with error %v; want zero claims", use, token, c, err)
				}
				continue
			}
			again, err := k.Verify(token, jwtNow)
			if err != nil || !jwtClaimsEqual(again, c) {
				t.Fatalf("%s key Verify(%q) twice: %+v then %+v, %v", use, token, c, again, err)
			}
			now := jwtNow.Unix()
			switch {
			case len(token) > MaxTokenBytes,
				c.Issuer != Issuer, c.Subject == "", c.SessionID == "",
				c.ExpiresAt <= now, c.IssuedAt == 0, c.IssuedAt > now+30, c.NotBefore > now+30,
				use == UseAccess && c.Use != "" && c.Use != UseAccess,
				use == UseRefresh && (c.Use != UseRefresh || c.Generation == 0):
				t.Fatalf("%s key Verify(%q) accepted claims %+v", use, token, c)
			}
			segs := strings.Split(token, ".")
			for _, s := range segs {
				b, err := base64.RawURLEncoding.DecodeString(s)
				if err != nil || jwtSeg(string(b)) != s {
					t.Fatalf("%s key Verify(%q) accepted non-canonical segment %q", use, token, s)
				}
			}
			jwtCheckSignable(t, k, use, token, segs, c)
		}
	})
}

// jwtCheckSignable checks that an accepted token is one the signer could
// have produced: its header says exactly alg HS256 (and perhaps typ JWT),
// in whatever order or spacing, and its claims, re-signed by k, verify
// to the same claims and carry the same members, up to the JSON spelling,
// the members RFC 7519 has a verifier ignore, and what Sign leaves out: a
// token_use of "access" on an access token, an empty roles list.
func jwtCheckSignable(t *testing.T, k *TokenKey, use, token string, segs []string, c Claims) {
	t.Helper()
	var header map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(segs[0])
	if err := json.Unmarshal(raw, &header); err != nil || header["alg"] != "HS256" ||
		len(header) != 1 && (len(header) != 2 || header["typ"] != "JWT") {
		t.Fatalf("%s key Verify(%q) accepted header %s", use, token, raw)
	}
	again := k.Sign(c)
	want := c
	if use == UseAccess {
		want.Use = "" // Sign leaves "access" out
	}
	c2, err := k.Verify(again, jwtNow)
	if err != nil || !jwtClaimsEqual(c2, want) {
		t.Fatalf("%s key: the claims of %q, signed again, verify to %+v, %v; want %+v", use, token, c2, err, want)
	}
	members := func(tok string) map[string]any {
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("%s key Verify(%q) accepted claims %s: %v", use, tok, payload, err)
		}
		for name := range m {
			if !slices.Contains([]string{"sub", "sid", "roles", "iss", "iat", "exp", "nbf", "gen", "token_use"}, name) {
				delete(m, name)
			}
		}
		if use == UseAccess && m["token_use"] == UseAccess {
			delete(m, "token_use")
		}
		if roles, ok := m["roles"].([]any); ok && len(roles) == 0 {
			delete(m, "roles") // Sign leaves an empty list out
		}
		return m
	}
	if got, want := members(token), members(again); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s key Verify(%q) accepted claims %v, which the signer writes as %v", use, token, got, want)
	}
}

// FuzzClaimsRoundTrip checks that decodeClaims reads back whatever
// json.Marshal writes for Claims, as Sign uses it.
func FuzzClaimsRoundTrip(f *testing.F) {
	f.Add("0123456789abcdef01234567", "s", "user", "", int64(1), int64(2), int64(0), uint64(0))
	f.Add("\"<&>\\\x00\xff\u2028", "\xed\xa0\x80", "a,b]", "refresh", int64(-1<<63), int64(1<<63-1), int64(-1), uint64(1<<64-1))
	f.Add(`\ud83d\ude00`, `\\uDC00`, "null", "n", int64(0), int64(0), int64(0), uint64(0))
	f.Fuzz(func(t *testing.T, sub, sid, role, use string, iat, exp, nbf int64, gen uint64) {
		in := Claims{Subject: sub, SessionID: sid, Roles: []string{role, role}, Issuer: Issuer, IssuedAt: iat, ExpiresAt: exp, NotBefore: nbf, Generation: gen, Use: use}
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		// json.Marshal replaces invalid UTF-8, so compare with what
		// encoding/json reads back rather than with in.
		var want Claims
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		var got Claims
		if !decodeClaims(data, &got) || !jwtClaimsEqual(got, want) {
			t.Fatalf("decodeClaims(%s) = %#v; want %#v", data, got, want)
		}
		// Sign's encoder, where it does not leave the claims to
		// json.Marshal, writes the same bytes; and it does not leave
		// plain ones to it.
		// Roles nil, empty, one, and several, as Sign meets them.
		for _, c := range []Claims{in, {Subject: sub, SessionID: sid, Issuer: use, IssuedAt: iat, ExpiresAt: exp},
			{Subject: sub, Roles: []string{}, Issuer: Issuer, ExpiresAt: exp, Use: use},
			{Subject: sub, Roles: []string{role}, NotBefore: nbf, Generation: gen},
			{Subject: sub, SessionID: sid, Roles: strings.Split(role, ","), Issuer: Issuer, IssuedAt: iat, ExpiresAt: exp, Use: use}} {
			want, _ := json.Marshal(c)
			enc, ok := appendClaims([]byte("x"), &c)
			if ok && string(enc) != "x"+string(want) {
				t.Fatalf("appendClaims(%#v) = %s; json.Marshal gives x%s", c, enc, want)
			}
			if !ok && !strings.ContainsAny(sub+sid+role+use, "\\\"<>&") && isPrintableASCII(sub+sid+role+use) {
				t.Fatalf("appendClaims(%#v) declined plain claims", c)
			}
		}
	})
}

// isPrintableASCII reports whether s is all bytes 0x20 to 0x7e.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func jwtBenchClaims() Claims {
	return Claims{
		Subject:   "0123456789abcdef01234567",
		SessionID: "89abcdef0123456789abcdef",
		Roles:     []string{RoleUser},
		IssuedAt:  jwtNow.Unix(),
		ExpiresAt: jwtNow.Unix() + 900,
	}
}

func BenchmarkSign(b *testing.B) {
	k := NewTokenKey(jwtAccessSecret, UseAccess)
	c := jwtBenchClaims()
	b.ReportAllocs()
	for b.Loop() {
		k.Sign(c)
	}
}

func BenchmarkVerify(b *testing.B) {
	k := NewTokenKey(jwtAccessSecret, UseAccess)
	token := k.Sign(jwtBenchClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Verify(token, jwtNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyForged measures the cost of refusing a token with a bad
// signature, the work an attacker can make the server do.
func BenchmarkVerifyForged(b *testing.B) {
	k := NewTokenKey(jwtAccessSecret, UseAccess)
	token := NewTokenKey([]byte("attacker"), UseAccess).Sign(jwtBenchClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Verify(token, jwtNow); err == nil {
			b.Fatal("forged token accepted")
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	k := NewTokenKey(jwtAccessSecret, UseAccess)
	token := k.Sign(jwtBenchClaims())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.Verify(token, jwtNow); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestSignMatchesReference checks Sign, token for token, against the
// plainest construction of the same JWS: marshal the claims, base64url
// the header and claims, HMAC the two, base64url the MAC. Sign builds the
// token in pooled buffers, so this also runs it many times on one key,
// each time with claims of another length.
func TestSignMatchesReference(t *testing.T) {
	reference := func(secret []byte, c Claims) string {
		payload, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		enc := base64.RawURLEncoding
		signed := enc.EncodeToString([]byte(jwtStdHeader)) + "." + enc.EncodeToString(payload)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signed))
		return signed + "." + enc.EncodeToString(mac.Sum(nil))
	}
	access := NewTokenKey(jwtAccessSecret, UseAccess)
	refresh := NewTokenKey(jwtRefreshSecret, UseRefresh)
	for i := range 50 {
		c := Claims{
			Subject:   strings.Repeat("s", 1+i*7),
			SessionID: fmt.Sprintf("sess-%d", i),
			Roles:     slices.Repeat([]string{RoleUser}, i%4),
			Issuer:    Issuer,
			IssuedAt:  jwtNow.Unix() + int64(i),
			ExpiresAt: jwtNow.Unix() + 900,
		}
		if got, want := access.Sign(c), reference(jwtAccessSecret, c); got != want {
			t.Fatalf("access Sign(%+v)\n got %s\nwant %s", c, got, want)
		}
		r := c
		r.Roles, r.Generation, r.Use = nil, uint64(i+1), UseRefresh
		if got, want := refresh.Sign(r), reference(jwtRefreshSecret, r); got != want {
			t.Fatalf("refresh Sign(%+v)\n got %s\nwant %s", r, got, want)
		}
	}
}
