package userhttp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"corkboard/user"
	"corkboard/web"
)

// TestUserBodyJSON checks that userBody's hand-written JSON is what
// encoding/json writes, answer for answer, including the values it leaves
// to encoding/json, and that user.View has no field it does not write.
func TestUserBodyJSON(t *testing.T) {
	// The fields AppendJSON writes; a new field of user.View must be
	// added there, then here.
	written := []string{"ID", "Username", "Email", "EmailVerified", "FullName", "Color", "Roles", "PictureURL", "CreatedAt"}
	vt := reflect.TypeFor[user.View]()
	var fields []string
	for i := range vt.NumField() {
		fields = append(fields, vt.Field(i).Name)
	}
	if !reflect.DeepEqual(fields, written) {
		t.Fatalf("user.View has fields %v; userBody.AppendJSON writes %v", fields, written)
	}
	yes, no := true, false
	at := time.Date(2026, 11, 29, 20, 14, 34, 123456789, time.UTC)
	for _, v := range []user.View{
		{ID: "0123456789abcdef01234567", Username: "bench", Email: "bench@example.com", EmailVerified: &yes, FullName: "Bench Mark",
			Color: "#aabbcc", Roles: []string{"user", "admin"}, PictureURL: "/api/files/x", CreatedAt: at},
		{ID: "a", Username: "b", CreatedAt: at.In(time.FixedZone("x", 3600))},
		{EmailVerified: &no, Roles: []string{}},
		{FullName: "<script>&\"é\u2028\xff", Email: "a&b@example.com", Roles: []string{"<"}},
		{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // encoding/json refuses it: an empty body, as before
	} {
		var want bytes.Buffer
		json.NewEncoder(&want).Encode(userBody{v})
		rec := httptest.NewRecorder()
		web.WriteJSON(rec, 200, userBody{v})
		if rec.Body.String() != want.String() {
			t.Errorf("WriteJSON(userBody %+v) wrote\n%s\nencoding/json writes\n%s", v, rec.Body, want.String())
		}
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkUserBody compares GET /api/users/me's answer written by
// WriteJSON (by hand) with encoding/json, what it replaced, in one run.
func BenchmarkUserBody(b *testing.B) {
	yes := true
	body := userBody{user.View{ID: "0123456789abcdef01234567", Username: "bench", Email: "bench@example.com", EmailVerified: &yes,
		FullName: "Bench Mark", Color: "#aabbcc", Roles: []string{"user"}, CreatedAt: time.Now()}}
	w := &discard{h: http.Header{}}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.NewEncoder(w).Encode(body)
		}
	})
	b.Run("WriteJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			web.WriteJSON(w, 200, body)
		}
	})
}
