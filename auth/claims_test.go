package auth

import (
	"encoding/json"
	"reflect"
	"testing"
)

// claimsCases are claims JSON texts on both sides of every rule of
// decodeClaims' fast path: what it reads itself, and what it must leave
// to encoding/json (which may accept or refuse it).
var claimsCases = []string{
	// What Sign writes.
	`{"sub":"0123456789abcdef01234567","sid":"89abcdef0123456789abcdef","roles":["user"],"iss":"corkboard","iat":1767225600,"exp":1767226500}`,
	`{"sub":"u","sid":"s","roles":["user","moderator","admin"],"iss":"corkboard","iat":1,"exp":2,"nbf":1,"gen":7,"token_use":"refresh"}`,
	// Whitespace, order, empties.
	" \t\r\n{ \"exp\" : 2 , \"sub\" :\"u\"\n}\r\n ",
	`{}`, `{ }`, `{"roles":[]}`, `{"roles":[ ]}`, `{"roles":[ "a" , "b" ]}`, `{"sub":""}`,
	// A member twice: the last wins, for a slice too.
	`{"sub":"a","sub":"b"}`, `{"roles":["a","b"],"roles":["c"]}`, `{"roles":["a"],"roles":[]}`,
	// Numbers.
	`{"iat":-0}`, `{"gen":-0}`, `{"iat":-1}`, `{"gen":-1}`, `{"iat":01}`, `{"iat":1.0}`, `{"iat":1e3}`,
	`{"iat":1E3}`, `{"iat":-}`, `{"iat":9223372036854775807}`, `{"iat":9223372036854775808}`,
	`{"iat":-9223372036854775808}`, `{"iat":-9223372036854775809}`, `{"gen":18446744073709551615}`,
	`{"gen":18446744073709551616}`, `{"iat":"1"}`, `{"iat":1 }`, `{"iat":1x}`,
	// Types and nulls.
	`{"sub":null}`, `{"roles":null}`, `{"iat":null}`, `{"sub":1}`, `{"roles":"user"}`, `{"roles":[1]}`,
	`{"roles":[null]}`, `{"sub":true}`, `{"sub":{}}`, `{"sub":[]}`,
	// Keys: unknown, other case, escaped, folded.
	`{"xyz":1,"sub":"u"}`, `{"SUB":"u"}`, `{"Sub":"u","sub":"v"}`, `{"s\u0075b":"u"}`, "{\"\u017fub\":\"u\"}",
	"{\"to\u212Aen_use\":\"refresh\"}", `{"nbf":{"a":[1,{"b":null}]}}`,
	// Strings the fast path leaves alone.
	`{"sub":"a\"b"}`, `{"sub":"a\\b"}`, `{"sub":"\u00e9"}`, "{\"sub\":\"\u00e9\"}", "{\"sub\":\"\xff\"}",
	`{"sub":"\ud800"}`, "{\"sub\":\"a\x7fb\"}", "{\"sub\":\"a\x01b\"}", "{\"sub\":\"a\tb\"}",
	// Not an object, or not one object.
	``, ` `, `[]`, `null`, `"sub"`, `1`, `{`, `}`, `{"sub":"u"`, `{"sub":"u"}}`, `{"sub":"u"} {}`,
	`{"sub":"u",}`, `{,"sub":"u"}`, `{"sub" "u"}`, `{"sub":}`, `{"roles":["a",]}`, `{"roles":["a"}`,
	`{"roles":["a" "b"]}`, "{\"sub\":\"u\"}\x00", "\xef\xbb\xbf{}",
}

// TestDecodeClaimsMatchesJSON checks decodeClaims against json.Unmarshal
// on claimsCases, and that the fast path reads Sign's shape itself (a
// fast path that always declined would pass the comparison).
func TestDecodeClaimsMatchesJSON(t *testing.T) {
	for _, data := range claimsCases {
		checkDecodeClaims(t, []byte(data))
	}
	for _, data := range claimsCases[:3] {
		var c Claims
		if !fastClaims([]byte(data), &c) {
			t.Errorf("fastClaims(%s) declined the shape Sign writes", data)
		}
	}
}

// FuzzDecodeClaims checks that decodeClaims accepts exactly what
// json.Unmarshal into a Claims accepts, and yields the same claims.
func FuzzDecodeClaims(f *testing.F) {
	for _, data := range claimsCases {
		f.Add([]byte(data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeClaims(t, data)
	})
}

func checkDecodeClaims(t *testing.T, data []byte) {
	t.Helper()
	var want Claims
	wantOK := json.Unmarshal(data, &want) == nil
	var got Claims
	gotOK := decodeClaims(data, &got)
	if gotOK != wantOK {
		t.Fatalf("decodeClaims(%q) = %v; json.Unmarshal accepts it: %v", data, gotOK, wantOK)
	}
	// A nil and an empty roles list differ here: encoding/json makes an
	// empty, non-nil one of [], and so must the fast path.
	if gotOK && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeClaims(%q) = %#v; json.Unmarshal gives %#v", data, got, want)
	}
}

// BenchmarkDecodeClaims compares decodeClaims with json.Unmarshal, its
// definition and what it replaced, on the claims of an access token, in
// one run.
func BenchmarkDecodeClaims(b *testing.B) {
	data := []byte(claimsCases[0])
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c Claims
			if json.Unmarshal(data, &c) != nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("decodeClaims", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c Claims
			if !decodeClaims(data, &c) {
				b.Fatal("refused")
			}
		}
	})
}
