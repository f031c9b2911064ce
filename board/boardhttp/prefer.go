package boardhttp

import (
	"net/http"
	"strings"
)

// prefersMinimal reports whether r asks, with RFC 7240's Prefer header,
// for return=minimal: the answer without the representation. Prefer is a
// list of preferences, possibly over several header lines, each
// `token [= word] *(; parameter)`; only a preference named "return"
// counts, and, as RFC 7240 §2 says, only its first occurrence. Names and
// the value compare case-insensitively; the value may be quoted;
// parameters are ignored. Anything else (unknown preferences,
// return=representation, a value that is no word) leaves the default
// answer: a preference is a hint, never an error.
func prefersMinimal(r *http.Request) bool {
	for _, line := range r.Header.Values("Prefer") {
		for _, pref := range splitPreferences(line) {
			name, value, hasValue := strings.Cut(pref, "=")
			if !strings.EqualFold(strings.TrimSpace(name), "return") {
				continue
			}
			if !hasValue {
				return false
			}
			value = strings.TrimSpace(value)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			return strings.EqualFold(value, "minimal")
		}
	}
	return false
}

// splitPreferences splits one Prefer header line into its preferences
// without their parameters: at the commas and semicolons outside quoted
// strings, keeping only the part before the first semicolon of each.
// A quoted string (with backslash escapes) never ends a preference, so
// `foo="a, return=minimal"` is one preference named foo.
func splitPreferences(line string) []string {
	var out []string
	start, inParams, quoted := 0, false, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ';' && !inParams:
			out = append(out, line[start:i])
			inParams = true
		case c == ',':
			if !inParams {
				out = append(out, line[start:i])
			}
			start, inParams = i+1, false
		}
	}
	if !inParams {
		out = append(out, line[start:])
	}
	return out
}
