// Package webtest holds what the tests of several packages ask of web's
// values.
package webtest

import (
	"errors"
	"reflect"

	"corkboard/web"
)

// SameProblem reports whether a and b are both nil, or the same problem
// (every field of the two *web.Problem values equal); errors that are not
// problems are compared by their text. The tests of a hand-written reader
// use it to hold the reader's refusals to web.DecodeJSON's.
func SameProblem(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var pa, pb *web.Problem
	if !errors.As(a, &pa) || !errors.As(b, &pb) {
		return a.Error() == b.Error()
	}
	return reflect.DeepEqual(*pa, *pb)
}
