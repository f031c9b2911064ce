package webtest

import (
	"errors"
	"fmt"
	"testing"

	"corkboard/web"
)

func TestSameProblem(t *testing.T) {
	p := func() *web.Problem { return web.NewProblem(422, "validation_failed", "The request is not valid.") }
	detail, limit, errs := p(), p(), p()
	detail.Detail = "Another detail."
	limit.Limit = "cardsPerList"
	errs.Errors = map[string]string{"title": "required"}
	for _, tc := range []struct {
		a, b error
		same bool
	}{
		{nil, nil, true},
		{p(), nil, false},
		{nil, p(), false},
		{p(), p(), true},
		{p(), fmt.Errorf("wrapped: %w", p()), true},
		{p(), detail, false},
		{p(), limit, false},
		{p(), errs, false},
		{errors.New("x"), errors.New("x"), true},
		{errors.New("x"), errors.New("y"), false},
	} {
		if got := SameProblem(tc.a, tc.b); got != tc.same {
			t.Errorf("SameProblem(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
