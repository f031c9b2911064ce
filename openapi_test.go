package main

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// apiDoc is the part of the OpenAPI document the tests read; the rest is
// walked as plain JSON values.
type apiDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
	} `json:"components"`
}

// apiOperation is one operation of the document.
type apiOperation struct {
	OperationID string                     `json:"operationId"`
	Summary     string                     `json:"summary"`
	Security    []map[string][]string      `json:"security"`
	Parameters  []json.RawMessage          `json:"parameters"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// apiParameter is a parameter, or a reference to one.
type apiParameter struct {
	Ref      string `json:"$ref"`
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

func loadAPIDoc(t *testing.T) apiDoc {
	t.Helper()
	var doc apiDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

// operations returns every operation of doc, keyed "METHOD /path" with the
// method upper-cased as in a route pattern.
func (doc apiDoc) operations(t *testing.T) map[string]apiOperation {
	t.Helper()
	ops := make(map[string]apiOperation)
	for path, item := range doc.Paths {
		for key, raw := range item {
			if !slices.Contains(openAPIMethods, key) {
				continue
			}
			var op apiOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return ops
}

// wildcard is a Go 1.22 pattern wildcard: {name}, {name...} or {$}.
var wildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)?(\.\.\.|\$)?\}`)

// openAPIPath returns the document path of a route pattern's path:
// {name...} becomes {name} and {$} (an exact match of a trailing slash)
// disappears.
func openAPIPath(pattern string) string {
	return wildcard.ReplaceAllStringFunc(pattern, func(w string) string {
		if w == "{$}" {
			return ""
		}
		return "{" + strings.TrimSuffix(strings.Trim(w, "{}"), "...") + "}"
	})
}

// TestOpenAPIMatchesRouteList checks that the document and the route list
// name the same operations: every API route is in the document with its
// method, and the document has nothing the server does not serve. A GET
// pattern also serves HEAD, which the document need not repeat.
func TestOpenAPIMatchesRouteList(t *testing.T) {
	env := startEnv(t, fileStore, nil)
	doc := loadAPIDoc(t)
	ops := doc.operations(t)
	served := make(map[string]bool)
	for _, rt := range env.app.routeList() {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			t.Fatalf("route %q has no method", rt.pattern)
		}
		if !strings.HasPrefix(path, "/api/") && path != "/healthz" && method != http.MethodGet {
			// The demo client's pages: only GET, so that no action lives
			// outside /api.
			t.Errorf("route %q is outside /api/ and is not a GET", rt.pattern)
		}
		key := method + " " + openAPIPath(path)
		served[key] = true
		if _, ok := ops[key]; !ok {
			t.Errorf("route %q: openapi.json has no operation %q", rt.pattern, key)
		}
	}
	for key := range ops {
		if !served[key] {
			t.Errorf("openapi.json has %q, which no route serves", key)
		}
	}
}

// TestOpenAPIIsWellFormed checks the document without a validator: its
// version, that every $ref resolves inside it, that every operation has a
// unique id, a summary and at least one response, that its security names
// schemes the document defines, and that its path parameters are exactly
// the wildcards of its path, each declared required.
func TestOpenAPIIsWellFormed(t *testing.T) {
	doc := loadAPIDoc(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want \"3.1.0\"", doc.OpenAPI)
	}
	var root any
	if err := json.Unmarshal(openAPIDocument, &root); err != nil {
		t.Fatal(err)
	}
	walkRefs(root, "#", func(at, ref string) {
		if _, ok := resolveRef(root, ref); !ok {
			t.Errorf("%s: $ref %q resolves to nothing", at, ref)
		}
	})

	ids := make(map[string]string)
	for key, op := range doc.operations(t) {
		if op.OperationID == "" || op.Summary == "" {
			t.Errorf("%s: operationId %q, summary %q: want both", key, op.OperationID, op.Summary)
		}
		if other, ok := ids[op.OperationID]; ok {
			t.Errorf("%s and %s share the operationId %q", key, other, op.OperationID)
		}
		ids[op.OperationID] = key
		if len(op.Responses) == 0 {
			t.Errorf("%s: no responses", key)
		}
		for _, alt := range op.Security {
			for scheme := range alt {
				if _, ok := doc.Components.SecuritySchemes[scheme]; !ok {
					t.Errorf("%s: security scheme %q is not defined", key, scheme)
				}
			}
		}

		method, path, _ := strings.Cut(key, " ")
		var want []string
		for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
			want = append(want, m[1])
		}
		var params []json.RawMessage
		if raw, ok := doc.Paths[path]["parameters"]; ok {
			if err := json.Unmarshal(raw, &params); err != nil {
				t.Fatalf("%s: path parameters: %v", path, err)
			}
		}
		params = append(params, op.Parameters...)
		var got []string
		for _, raw := range params {
			var p apiParameter
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("%s %s: parameter: %v", method, path, err)
			}
			if p.Ref != "" {
				target, ok := resolveRef(root, p.Ref)
				if !ok {
					continue // reported by the $ref walk above
				}
				data, _ := json.Marshal(target)
				if err := json.Unmarshal(data, &p); err != nil {
					t.Fatalf("%s %s: parameter %s: %v", method, path, p.Ref, err)
				}
			}
			if p.In != "path" {
				continue
			}
			if !p.Required {
				t.Errorf("%s: path parameter %q is not marked required", key, p.Name)
			}
			got = append(got, p.Name)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: path parameters %q declared, want %q (the path's wildcards)", key, got, want)
		}
	}
}

// walkRefs calls fn with the location and target of every "$ref" in v.
func walkRefs(v any, at string, fn func(at, ref string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if s, ok := child.(string); ok && k == "$ref" {
				fn(at, s)
				continue
			}
			walkRefs(child, at+"/"+k, fn)
		}
	case []any:
		for i, child := range v {
			walkRefs(child, at+"/"+strconv.Itoa(i), fn)
		}
	}
}

// resolveRef follows a local reference ("#/components/schemas/User", a JSON
// pointer, RFC 6901) in root. The document refers to nothing outside itself.
func resolveRef(root any, ref string) (any, bool) {
	pointer, ok := strings.CutPrefix(ref, "#")
	if !ok || (pointer != "" && !strings.HasPrefix(pointer, "/")) {
		return nil, false
	}
	v := root
	for _, tok := range strings.Split(pointer, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch node := v.(type) {
		case map[string]any:
			if v, ok = node[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			v = node[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// TestOpenAPIAgreesWithServer sends every API route a request with no
// body, first without credentials and then with a valid access token, and
// checks the answers against the document: a route the document marks as
// needing the access token answers missing_token without one, and no other
// route does; and every answer's status is one the document lists for that
// route, with a media type it lists for that status. The document then
// cannot claim a route public that is not, or forget a status a route gives.
func TestOpenAPIAgreesWithServer(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		ops := loadAPIDoc(t).operations(t)
		owner := env.newClient()
		owner.signup("openapi", "openapi@example.com", "password1")
		for _, req := range requestsFor(t, env.app.routeList(), []string{"0123456789abcdef01234567"}) {
			key := req.method + " " + openAPIPathOf(t, env, req.method, req.path)
			op, ok := ops[key]
			if !ok {
				t.Errorf("%s %s: no operation %q in openapi.json", req.method, req.path, key)
				continue
			}
			bearer := needsBearer(op.Security)

			r := env.newClient().do(req.method, req.path, nil)
			code := problemCode(r)
			if bearer && (r.StatusCode != http.StatusUnauthorized || code != "missing_token") {
				t.Errorf("%s %s without a token: %d %q; openapi.json says it needs the access token, so want 401 missing_token",
					req.method, req.path, r.StatusCode, code)
			}
			if !bearer && code == "missing_token" {
				t.Errorf("%s %s without a token: 401 missing_token; openapi.json says it needs no access token", req.method, req.path)
			}
			checkDocumented(t, key, op, r)

			r = owner.do(req.method, req.path, nil)
			if problemCode(r) == "session_revoked" { // a route before ended the session
				owner.login("email", "openapi@example.com", "password1")
				r = owner.do(req.method, req.path, nil)
			}
			checkDocumented(t, key, op, r)
		}
	})
}

// openAPIPathOf returns the document path of the route that serves a
// request, by asking a mux of the route list which pattern matches it.
func openAPIPathOf(t *testing.T, env *testEnv, method, path string) string {
	t.Helper()
	mux := http.NewServeMux()
	for _, rt := range env.app.routeList() {
		mux.Handle(rt.pattern, http.NotFoundHandler())
	}
	req, err := http.NewRequest(method, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, pattern := mux.Handler(req)
	_, p, _ := strings.Cut(pattern, " ")
	return openAPIPath(p)
}

// needsBearer tells whether a security requirement demands the access
// token: every alternative names a scheme, and one of them is bearerAuth.
func needsBearer(security []map[string][]string) bool {
	if len(security) == 0 {
		return false
	}
	bearer := false
	for _, alt := range security {
		if len(alt) == 0 {
			return false // an empty alternative: no credentials needed
		}
		if _, ok := alt["bearerAuth"]; ok {
			bearer = true
		}
	}
	return bearer
}

// problemCode returns the code of a problem answer, or "".
func problemCode(r *response) string {
	var p problemDoc
	if json.Unmarshal(r.body, &p) != nil {
		return ""
	}
	return p.Code
}

// checkDocumented fails the test unless op lists r's status, and, when r
// has a body, its media type among that status's content.
func checkDocumented(t *testing.T, key string, op apiOperation, r *response) {
	t.Helper()
	raw, ok := op.Responses[strconv.Itoa(r.StatusCode)]
	if !ok {
		t.Errorf("%s: answered %d (body %.200s); openapi.json does not list that status", key, r.StatusCode, bytes.TrimSpace(r.body))
		return
	}
	if len(r.body) == 0 {
		return
	}
	var resp struct {
		Ref     string                     `json:"$ref"`
		Content map[string]json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("%s: response %d: %v", key, r.StatusCode, err)
	}
	if resp.Ref != "" {
		var root any
		if err := json.Unmarshal(openAPIDocument, &root); err != nil {
			t.Fatal(err)
		}
		target, ok := resolveRef(root, resp.Ref)
		if !ok {
			t.Errorf("%s: response %d: $ref %q resolves to nothing", key, r.StatusCode, resp.Ref)
			return
		}
		data, _ := json.Marshal(target)
		if err := json.Unmarshal(data, &resp); err != nil {
			t.Fatal(err)
		}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if _, ok := resp.Content[mt]; !ok {
		t.Errorf("%s: answered %d with Content-Type %q; openapi.json lists %v for it", key, r.StatusCode, mt, keys(resp.Content))
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestServeOpenAPI fetches the document as a client would: public, JSON,
// the embedded bytes, cacheable, and revalidated with a 304.
func TestServeOpenAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, nil)
		c := env.newClient()
		r := c.do("GET", "/api/openapi.json", nil).want(t, http.StatusOK)
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			t.Errorf("Content-Type %q, want application/json", r.Header.Get("Content-Type"))
		}
		if !bytes.Equal(r.body, openAPIDocument) {
			t.Errorf("body is %d bytes, not the embedded document (%d bytes)", len(r.body), len(openAPIDocument))
		}
		var doc apiDoc
		r.json(t, &doc)
		if doc.OpenAPI != "3.1.0" || len(doc.Paths) == 0 {
			t.Errorf("served document: openapi %q, %d paths; want 3.1.0 and paths", doc.OpenAPI, len(doc.Paths))
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=") {
			t.Errorf("Cache-Control %q, want public with a max-age", cc)
		}
		etag := r.Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		c.do("GET", "/api/openapi.json", nil, "If-None-Match", etag).want(t, http.StatusNotModified)
		if h := c.do("HEAD", "/api/openapi.json", nil).want(t, http.StatusOK); len(h.body) != 0 {
			t.Errorf("HEAD answered a body of %d bytes", len(h.body))
		}
	})
}
