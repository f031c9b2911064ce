package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
)

// config is everything corkboard reads at start (API.md §8).
type config struct {
	addr     string
	store    string // "file" or "mongo"
	dataDir  string
	mongoURI string
	mongoDB  string

	accessSecret  []byte
	refreshSecret []byte

	accessTTL  time.Duration
	refreshTTL time.Duration
	reuseGrace time.Duration
	resetTTL   time.Duration
	verifyTTL  time.Duration
	bcryptCost int

	corsOrigins    []string
	cookieSecure   bool
	cookieSameSite http.SameSite
	trustProxy     bool
	adminEmails    []string
	resetURL       string
	verifyURL      string
	rateLimits     bool

	// compactBytes is the file store's journal size that starts a
	// compaction (COMPACT_BYTES). The default suits production; the crash
	// tests set it small so that kills land during compactions.
	compactBytes int
	// noCompaction keeps the file store from compacting: for the export
	// command, which must leave the data directory as it found it.
	noCompaction bool

	smtpHost     string
	smtpPort     int
	smtpUsername string
	smtpPassword string
	emailFrom    string

	// HTTPS: a certificate and key from files, or certificates obtained
	// by ACME for acmeDomains; neither means plain HTTP.
	tlsCert       string
	tlsKey        string
	acmeDomains   []string
	acmeEmail     string
	acmeDirectory string
	acmeHTTPAddr  string // HTTP-01 challenges and the redirect to HTTPS
	debugAddr     string // profiles and counters, loopback only; empty: off

	version bool // -version: print the build's version and exit

	// crashAt is CORKBOARD_TEST_CRASH_AT, a test hook (see crashHook).
	crashAt string

	// server holds the HTTP server's limits. They are not settings: only
	// tests change them, to see a slow client cut off in seconds.
	server serverLimits
}

// serverLimits are the HTTP server's timeouts and size limits (README
// "Security": slow clients, huge headers).
type serverLimits struct {
	readHeader time.Duration // the request line and headers
	read       time.Duration // a whole request, body included
	write      time.Duration // a whole answer
	idle       time.Duration // a kept-alive connection between requests
	// transferRate is the slowest a file may travel, in bytes per second:
	// an upload or a download gets read or write plus its size at this
	// rate (web.Deadlines).
	transferRate int64
	maxHeader    int // bytes of request line and headers; beyond, 431
}

// defaultServerLimits are the limits corkboard serves with.
var defaultServerLimits = serverLimits{
	readHeader:   10 * time.Second,
	read:         60 * time.Second,
	write:        60 * time.Second,
	idle:         120 * time.Second,
	transferRate: 32 << 10,
	maxHeader:    64 << 10,
}

// tls reports whether corkboard serves HTTPS.
func (c config) tls() bool { return c.tlsCert != "" || len(c.acmeDomains) > 0 }

// minSecretBytes is the shortest token secret accepted: HS256 wants a key
// at least as long as its output (RFC 7518 §3.2).
const minSecretBytes = 32

// loadConfig reads flags from args, then the environment through getenv,
// then dotenv (the parsed .env file), then defaults: the first that sets a
// value wins. Every bad value is an error naming the setting.
func loadConfig(args []string, getenv func(string) string, dotenv map[string]string, stderr io.Writer) (config, error) {
	env := func(key string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return dotenv[key]
	}
	c := config{server: defaultServerLimits}
	fset := flag.NewFlagSet("corkboard", flag.ContinueOnError)
	// A bad flag is one line of error (run's caller prints it); the usage
	// text is for -h only.
	fset.SetOutput(io.Discard)
	fset.StringVar(&c.addr, "addr", "", "listen address (env ADDR or PORT; default :8080)")
	fset.StringVar(&c.store, "store", "", "storage: file or mongo (env STORE; default file)")
	fset.StringVar(&c.dataDir, "data", "", "data directory (env DATA_DIR; default ./data)")
	fset.StringVar(&c.mongoURI, "mongo-uri", "", "MongoDB connection string (env MONGO_URI)")
	fset.StringVar(&c.mongoDB, "mongo-db", "", "MongoDB database (env MONGO_DB; default corkboard)")
	fset.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain (env TLS_CERT; needs -tls-key)")
	fset.StringVar(&c.tlsKey, "tls-key", "", "PEM private key of -tls-cert (env TLS_KEY)")
	var acmeDomains string
	fset.StringVar(&acmeDomains, "acme-domain", "", "serve HTTPS with certificates from ACME (Let's Encrypt) for these comma-separated domains (env ACME_DOMAIN)")
	fset.StringVar(&c.acmeEmail, "acme-email", "", "contact address for the ACME account (env ACME_EMAIL)")
	fset.StringVar(&c.acmeDirectory, "acme-directory", "", "ACME directory URL (env ACME_DIRECTORY; default Let's Encrypt production)")
	fset.StringVar(&c.acmeHTTPAddr, "acme-http-addr", "", "with -acme-domain, address of the HTTP-01 challenges and the redirect to HTTPS (env ACME_HTTP_ADDR; default :80)")
	fset.StringVar(&c.debugAddr, "debug-addr", "", "serve profiles (/debug/pprof/) and counters (/debug/vars) on this loopback address (env DEBUG_ADDR; default off)")
	fset.BoolVar(&c.version, "version", false, "print the version and the revision it was built from, and exit")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: corkboard [serve|export|import|healthcheck] [flags]\n\nflags (each also settable by environment variable; see README):")
			fset.SetOutput(stderr)
			fset.PrintDefaults()
		}
		return c, err
	}
	if fset.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fset.Arg(0))
	}
	if c.version {
		// The version needs no configuration, so a broken one does not
		// hide it.
		return c, nil
	}
	orEnv := func(v *string, key, def string) {
		if *v == "" {
			*v = env(key)
		}
		if *v == "" {
			*v = def
		}
	}
	if c.addr == "" {
		addr, err := listenAddr(getenv, dotenv)
		if err != nil {
			return c, err
		}
		c.addr = addr
	}
	orEnv(&c.store, "STORE", "file")
	orEnv(&c.dataDir, "DATA_DIR", "./data")
	orEnv(&c.mongoURI, "MONGO_URI", "")
	orEnv(&c.mongoDB, "MONGO_DB", "corkboard")
	orEnv(&c.tlsCert, "TLS_CERT", "")
	orEnv(&c.tlsKey, "TLS_KEY", "")
	orEnv(&acmeDomains, "ACME_DOMAIN", "")
	orEnv(&c.acmeEmail, "ACME_EMAIL", "")
	orEnv(&c.acmeDirectory, "ACME_DIRECTORY", acme.LetsEncryptURL)
	orEnv(&c.acmeHTTPAddr, "ACME_HTTP_ADDR", ":80")
	orEnv(&c.debugAddr, "DEBUG_ADDR", "")

	p := parser{env: env}
	c.accessSecret = []byte(env("ACCESS_TOKEN_SECRET"))
	c.refreshSecret = []byte(env("REFRESH_TOKEN_SECRET"))
	c.accessTTL = p.duration("ACCESS_TOKEN_TTL", 15*time.Minute, time.Second)
	c.refreshTTL = p.duration("REFRESH_TOKEN_TTL", 168*time.Hour, time.Second)
	c.reuseGrace = p.duration("REFRESH_REUSE_GRACE", 10*time.Second, 0)
	c.resetTTL = p.duration("RESET_TOKEN_TTL", 15*time.Minute, time.Second)
	c.verifyTTL = p.duration("VERIFY_TOKEN_TTL", 24*time.Hour, time.Second)
	c.bcryptCost = p.integer("BCRYPT_COST", 10, 4, 31)
	c.corsOrigins = p.list("CORS_ORIGINS", "http://localhost:3000,http://localhost:5173")
	c.cookieSecure = p.boolean("COOKIE_SECURE", true)
	c.cookieSameSite = p.sameSite("COOKIE_SAMESITE")
	c.trustProxy = p.boolean("TRUST_PROXY", false)
	c.adminEmails = p.list("ADMIN_EMAILS", "")
	for i, e := range c.adminEmails {
		c.adminEmails[i] = strings.ToLower(e)
	}
	c.resetURL = p.httpURL("RESET_URL", "http://localhost:8080/reset-password")
	c.verifyURL = p.httpURL("VERIFY_URL", "http://localhost:8080/verify-email")
	c.rateLimits = p.onOff("RATE_LIMITS", true)
	c.compactBytes = p.integer("COMPACT_BYTES", 8<<20, 4<<10, 1<<30)
	c.smtpHost = env("SMTP_HOST")
	c.smtpPort = p.integer("SMTP_PORT", 587, 1, 65535)
	c.smtpUsername = env("SMTP_USERNAME")
	c.smtpPassword = env("SMTP_PASSWORD")
	c.emailFrom = env("EMAIL_FROM")
	if c.emailFrom == "" {
		c.emailFrom = "corkboard <no-reply@localhost>"
	}
	c.crashAt = getenv("CORKBOARD_TEST_CRASH_AT") // the environment only, never .env
	if p.err != nil {
		return c, p.err
	}

	switch c.store {
	case "file":
	case "mongo":
		if c.mongoURI == "" {
			return c, errors.New("-store mongo needs a connection string: set -mongo-uri or MONGO_URI")
		}
	default:
		return c, fmt.Errorf("unknown store %q: use file or mongo", c.store)
	}
	for _, s := range []struct {
		name  string
		value []byte
	}{{"ACCESS_TOKEN_SECRET", c.accessSecret}, {"REFRESH_TOKEN_SECRET", c.refreshSecret}} {
		if len(s.value) > 0 && len(s.value) < minSecretBytes {
			return c, fmt.Errorf("%s is %d bytes; it must be at least %d", s.name, len(s.value), minSecretBytes)
		}
	}
	if err := c.checkTLS(acmeDomains); err != nil {
		return c, err
	}
	if c.debugAddr != "" {
		if err := checkDebugAddr(c.debugAddr); err != nil {
			return c, err
		}
	}
	if c.cookieSameSite == http.SameSiteNoneMode && !c.cookieSecure {
		return c, errors.New("COOKIE_SAMESITE=None needs COOKIE_SECURE=true: browsers drop such cookies otherwise")
	}
	return c, nil
}

// checkTLS checks the HTTPS settings and fills in c.acmeDomains from the
// comma-separated list given. A certificate needs its key; files and ACME
// are two ways to get a certificate, so only one may be set.
func (c *config) checkTLS(acmeDomains string) error {
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together: set both (TLS_CERT, TLS_KEY) or neither")
	}
	for _, d := range strings.Split(acmeDomains, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" {
			continue
		}
		if !validDomain(d) {
			return fmt.Errorf("ACME_DOMAIN %q is not valid: want host names like example.com, comma-separated, no wildcards, ports or IP addresses", d)
		}
		c.acmeDomains = append(c.acmeDomains, d)
	}
	if len(c.acmeDomains) == 0 {
		if c.acmeEmail != "" {
			return errors.New("ACME_EMAIL is set but ACME_DOMAIN is not: set -acme-domain to get certificates by ACME")
		}
		return nil
	}
	if c.tlsCert != "" {
		return errors.New("-acme-domain and -tls-cert are two ways to get a certificate: set one of them")
	}
	if u, err := url.Parse(c.acmeDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("ACME_DIRECTORY=%q is not valid: want an https URL", c.acmeDirectory)
	}
	if c.acmeEmail != "" && (strings.ContainsAny(c.acmeEmail, " \t\r\n,") || !strings.Contains(c.acmeEmail, "@")) {
		return fmt.Errorf("ACME_EMAIL=%q is not valid: want one email address", c.acmeEmail)
	}
	if c.acmeHTTPAddr == c.addr {
		return fmt.Errorf("ACME_HTTP_ADDR and ADDR are both %q: HTTPS and the HTTP-01 challenges need a port each", c.addr)
	}
	return nil
}

// validDomain reports whether d is a host name ACME can issue for: dot-
// separated labels of letters, digits and hyphens, at least two of them
// (autocert refuses single-label names), not an IP address.
func validDomain(d string) bool {
	if len(d) > 253 || net.ParseIP(d) != nil {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// listenAddr picks the listen address when no flag gave one: ADDR, or PORT
// as ":PORT", taking the environment before .env as a whole, so a PORT set
// by the platform beats an ADDR left in .env.
func listenAddr(getenv func(string) string, dotenv map[string]string) (string, error) {
	for _, source := range []func(string) string{getenv, func(k string) string { return dotenv[k] }} {
		if addr := source("ADDR"); addr != "" {
			return addr, nil
		}
		if port := source("PORT"); port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
				return "", fmt.Errorf("PORT=%q is not valid: want a port number from 0 to 65535", port)
			}
			return ":" + port, nil
		}
	}
	return ":8080", nil
}

// parser reads typed settings from the environment, remembering the first
// bad value.
type parser struct {
	env func(string) string
	err error
}

func (p *parser) fail(key, value, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s=%q is not valid: want %s", key, value, want)
	}
}

func (p *parser) duration(key string, def, minimum time.Duration) time.Duration {
	v := p.env(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < minimum {
		p.fail(key, v, fmt.Sprintf("a Go duration of at least %v, like 15m or 168h", minimum))
	}
	return d
}

func (p *parser) integer(key string, def, lo, hi int) int {
	v := p.env(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(key, v, fmt.Sprintf("a whole number from %d to %d", lo, hi))
	}
	return n
}

func (p *parser) boolean(key string, def bool) bool {
	v := p.env(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(key, v, "true or false")
	}
	return b
}

func (p *parser) onOff(key string, def bool) bool {
	switch v := strings.ToLower(p.env(key)); v {
	case "":
		return def
	case "on", "true", "1":
		return true
	case "off", "false", "0":
		return false
	default:
		p.fail(key, v, "on or off")
		return def
	}
}

func (p *parser) list(key, def string) []string {
	v := p.env(key)
	if v == "" {
		v = def
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func (p *parser) sameSite(key string) http.SameSite {
	switch v := p.env(key); strings.ToLower(v) {
	case "", "lax":
		return http.SameSiteLaxMode
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	default:
		p.fail(key, v, "Lax, Strict or None")
		return http.SameSiteLaxMode
	}
}

func (p *parser) httpURL(key, def string) string {
	v := p.env(key)
	if v == "" {
		return def
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(key, v, "an absolute http(s) URL")
	}
	return v
}

// readDotenv parses the .env file at path: KEY=VALUE lines, optionally
// prefixed with "export ", values optionally in single or double quotes;
// blank lines, # comment lines and " # comments" after a value are ignored.
// A missing file is no error.
func readDotenv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseDotenv(path, data)
}

// parseDotenv parses data, the contents of the .env file at path. A key
// must be a name the environment could hold ([A-Za-z_][A-Za-z0-9_]*):
// anything else is an error rather than a setting silently never read,
// such as "ACCESS_TOKEN_SECRET" behind the byte order mark an editor
// may write at the start of the file (that mark is skipped). A value may
// not hold a control character other than tab.
func parseDotenv(path string, data []byte) (map[string]string, error) {
	vars := make(map[string]string)
	n := 0
	for line := range strings.Lines(strings.TrimPrefix(string(data), "\uFEFF")) {
		n++
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !isEnvName(key) {
			return nil, fmt.Errorf("%s line %d: want KEY=VALUE with KEY of letters, digits and _", path, n)
		}
		value = dotenvValue(strings.TrimSpace(value))
		if strings.ContainsFunc(value, isControl) {
			// Most often a file saved with CR line endings, which
			// would read as one line holding every setting.
			return nil, fmt.Errorf("%s line %d: the value of %s holds a control character (CR line endings?)", path, n, key)
		}
		vars[key] = value
	}
	return vars, nil
}

// isControl reports whether r is an ASCII control character other than
// tab, which no setting holds.
func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// isEnvName reports whether s is a portable environment variable name.
func isEnvName(s string) bool {
	for i, c := range []byte(s) {
		if c != '_' && !('A' <= c && c <= 'Z') && !('a' <= c && c <= 'z') && !(i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// dotenvValue returns the value of a .env line: the text inside matching
// quotes, or the unquoted text up to a " #" comment.
func dotenvValue(v string) string {
	if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
		if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
			return v[1 : 1+end]
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// secretsFile is DATA_DIR/secrets.json: the token secrets generated when
// none were configured, kept so that tokens survive a restart.
type secretsFile struct {
	AccessTokenSecret  string `json:"accessTokenSecret"`
	RefreshTokenSecret string `json:"refreshTokenSecret"`
}

// ensureSecrets fills in the token secrets that were not configured, from
// DATA_DIR/secrets.json, generating and saving new ones (mode 0600) the
// first time. It returns a warning to log when it had to, or "".
func ensureSecrets(c *config) (warning string, err error) {
	if len(c.accessSecret) > 0 && len(c.refreshSecret) > 0 {
		if bytes.Equal(c.accessSecret, c.refreshSecret) {
			return "", errors.New("ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET must differ")
		}
		return "", nil
	}
	path := filepath.Join(c.dataDir, "secrets.json")
	var saved secretsFile
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &saved); err != nil {
			return "", fmt.Errorf("%s is not valid JSON: %v", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	changed := false
	for _, s := range []*string{&saved.AccessTokenSecret, &saved.RefreshTokenSecret} {
		if len(*s) < minSecretBytes {
			var b [32]byte
			rand.Read(b[:])
			*s = base64.RawURLEncoding.EncodeToString(b[:])
			changed = true
		}
	}
	if changed {
		if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
			return "", err
		}
		out, _ := json.MarshalIndent(saved, "", "  ")
		if err := writeFileAtomic(path, append(out, '\n'), 0o600); err != nil {
			return "", err
		}
	}
	if len(c.accessSecret) == 0 {
		c.accessSecret = []byte(saved.AccessTokenSecret)
	}
	if len(c.refreshSecret) == 0 {
		c.refreshSecret = []byte(saved.RefreshTokenSecret)
	}
	if bytes.Equal(c.accessSecret, c.refreshSecret) {
		return "", errors.New("ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET must differ")
	}
	return "token secrets are not configured; using the generated ones kept in " + path +
		" (set ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET in production)", nil
}

// writeFileAtomic writes data to path through a synced temp file and a rename.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
