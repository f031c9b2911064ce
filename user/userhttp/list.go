package userhttp

import (
	"net/http"
	"net/url"

	"corkboard/auth"
	"corkboard/user"
	"corkboard/web"
)

// errMalformedQuery answers a query string that is not URL encoding (a bad
// percent escape, a ';' separator), which would otherwise lose parameters
// without a word.
var errMalformedQuery = web.NewProblem(http.StatusBadRequest, "malformed_query",
	"The query string is not valid URL encoding.")

// listResponse is the body of GET /api/users. NextCursor is always there,
// "" on the last page, so a client reads one shape.
type listResponse struct {
	Users      []user.View `json:"users"`
	NextCursor string      `json:"nextCursor"`
}

// List serves GET /api/users?search=&limit=&cursor=: one page of the users,
// newest first. Other query parameters are ignored; each of these three
// may be given once, and an empty one takes its default.
func (h *Handlers) List() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return errMalformedQuery
		}
		var in user.ListInput
		repeated := make(map[string]string)
		for name, dst := range map[string]*string{"search": &in.Search, "limit": &in.Limit, "cursor": &in.Cursor} {
			switch v := q[name]; len(v) {
			case 0:
			case 1:
				*dst = v[0]
			default:
				repeated[name] = "must be given at most once"
			}
		}
		if len(repeated) > 0 {
			return web.Invalid(repeated)
		}
		p, _ := auth.PrincipalFrom(r.Context())
		page, err := h.svc.ListUsers(r.Context(), p, in)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, listResponse{Users: page.Users, NextCursor: page.NextCursor})
		return nil
	})
}
