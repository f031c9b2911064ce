package main

import (
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDotenvKeys: a key that no environment variable could be named, or a
// value with a control character (a file with CR line endings reads as
// one line), is an error naming its line, not a setting that is silently
// never read or read wrong; the byte order mark some editors write is
// skipped.
func TestDotenvKeys(t *testing.T) {
	for _, data := range []string{
		"\uFEFFSTORE=mongo\n",
		"A=1\nSTO-RE=mongo\n",
		"A=1\n1STORE=mongo\n",
		"A=1\n\"STORE\"=mongo\n",
		"A=1\nexport=1\n",
		"A=1\nB=2\rC=3\r\n",
		"A=1\nB==\"y'\r\xce\\\r\xa9\n", // found by FuzzDotenv
		"A=1\nB=\x00\n",
	} {
		got, err := parseDotenv(".env", []byte(data))
		switch {
		case strings.HasPrefix(data, "\uFEFF"):
			if err != nil || got["STORE"] != "mongo" {
				t.Errorf("parseDotenv(%q) = %q, %v; want STORE=mongo", data, got, err)
			}
		case strings.HasSuffix(data, "export=1\n"):
			if err != nil || got["export"] != "1" {
				t.Errorf("parseDotenv(%q) = %q, %v; want export=1", data, got, err)
			}
		case err == nil || !strings.Contains(err.Error(), ".env line 2"):
			t.Errorf("parseDotenv(%q) = %q, %v; want an error naming line 2", data, got, err)
		}
	}
}

// FuzzDotenv parses arbitrary .env files. The parser never panics; every
// key it returns is a portable environment variable name; every value
// written back in quotes reads back the same; and loadConfig, given the
// result, never panics and either fails or returns a configuration within
// its documented bounds.
func FuzzDotenv(f *testing.F) {
	for _, s := range []string{
		"# comment\n\nexport A=1\nB = \"two words\" # note\nC='x=y'\nD=5m # five minutes\nE=a#b\n",
		"JUSTAWORD\n",
		"\uFEFFSTORE=mongo\nMONGO_URI=mongodb://x\n",
		"ACCESS_TOKEN_TTL=-5s\nBCRYPT_COST=99\nSMTP_PORT=0\n",
		"ACCESS_TOKEN_SECRET=short\nREFRESH_TOKEN_SECRET='" + strings.Repeat("r", 40) + "'\n",
		"COOKIE_SAMESITE=None\nCOOKIE_SECURE=false\n",
		"CORS_ORIGINS=http://a, ,http://b\nRESET_URL=javascript:alert(1)\nRATE_LIMITS=maybe\n",
		"A=\"unterminated\nB='x\"y'\r\nC= #\n",
		"PORT=99999\nADDR=\n",
		"export export=1\n=x\n A = ' spaced ' \n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := parseDotenv(".env", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), ".env line ") {
				t.Fatalf("parseDotenv error %q does not name the line", err)
			}
			return
		}
		var back strings.Builder
		for k, v := range vars {
			if !isEnvName(k) {
				t.Fatalf("parseDotenv returned key %q", k)
			}
			switch {
			case strings.ContainsFunc(v, isControl):
				t.Fatalf("parseDotenv returned %s=%q, a value with a control character", k, v)
			case !strings.Contains(v, "'"):
				back.WriteString(k + "='" + v + "'\n")
			case !strings.Contains(v, `"`):
				back.WriteString(k + `="` + v + "\"\n")
			}
		}
		again, err := parseDotenv(".env", []byte(back.String()))
		if err != nil {
			t.Fatalf("parseDotenv of %q written back = %v", back.String(), err)
		}
		for k, v := range again {
			if vars[k] != v {
				t.Fatalf("%s=%q reads back as %q", k, vars[k], v)
			}
		}

		env := maps.Clone(vars)
		env["DATA_DIR"] = "/nonexistent/fuzz" // loadConfig only records it
		c, err := loadConfig(nil, func(string) string { return "" }, env, io.Discard)
		if err != nil {
			return
		}
		switch {
		case c.store != "file" && c.store != "mongo",
			c.store == "mongo" && c.mongoURI == "",
			c.bcryptCost < 4 || c.bcryptCost > 31,
			c.smtpPort < 1 || c.smtpPort > 65535,
			c.accessTTL < time.Second || c.refreshTTL < time.Second || c.resetTTL < time.Second || c.verifyTTL < time.Second,
			c.reuseGrace < 0,
			len(c.accessSecret) > 0 && len(c.accessSecret) < minSecretBytes,
			len(c.refreshSecret) > 0 && len(c.refreshSecret) < minSecretBytes,
			c.cookieSameSite == http.SameSiteNoneMode && !c.cookieSecure,
			!strings.HasPrefix(c.resetURL, "http://") && !strings.HasPrefix(c.resetURL, "https://"),
			!strings.HasPrefix(c.verifyURL, "http://") && !strings.HasPrefix(c.verifyURL, "https://"):
			t.Fatalf("loadConfig(%q) accepted %+v", vars, c)
		}
	})
}
