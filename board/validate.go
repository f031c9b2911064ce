package board

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"corkboard/objectid"
)

// The limits of a board. Text is counted in characters (runes) and must be
// valid UTF-8; nothing is trimmed.
//
// They keep a board far below MongoDB's 16 MB document limit, and every
// write (each one rewrites the whole board) cheap. The worst case, with
// every string at its limit and made of the characters that encode
// longest: encoding/json writes '<', '>' and '&' as \u003c, six bytes for
// one character, and BSON stores UTF-8, at most four bytes a character.
// At six bytes a character:
//
//	card titles        1000 cards × 200 × 6                   1,200,000
//	descriptions       200,000 characters per board × 6       1,200,000
//	attachment names   500 × 255 × 6                            765,000
//	content types      500 × 100 × 6                            300,000
//	list names, title  (50 × 100 + 100) × 6                      30,600
//	background URL     2048 × 6                                  12,288
//	ids, times, keys   1000 cards and 500 attachments × ~150    225,000
//	user ids           300 × ~30                                  9,000
//	                                                  about     3.75 MB
//
// which is under 4 MiB, a quarter of the 16 MB limit.
// TestLargestBoardFitsBudget builds that board through the methods and
// measures it, as JSON and as a bound on its BSON size.
//
// The description of one card may hold 10,000 characters (the contract),
// but 1000 such cards would be 10 million characters: hence a limit on
// the descriptions of a board together (MaxDescriptions), and on the
// attachments of a board (MaxAttachments) besides those of a card.
const (
	MaxTitle              = 100     // characters of a board's title
	MaxListName           = 100     // characters of a list's name
	MaxCardTitle          = 200     // characters of a card's title
	MaxDescription        = 10_000  // characters of one card's description
	MaxDescriptions       = 200_000 // characters of all card descriptions of a board together
	MaxLists              = 50      // lists of a board
	MaxCardsPerList       = 200     // cards of a list
	MaxCards              = 1000    // cards of a board
	MaxAttachmentsPerCard = 10      // attachments of a card
	MaxAttachments        = 500     // attachments of a board
	MaxAttachmentName     = 255     // characters of an attachment's file name
	MaxContentType        = 100     // bytes of an attachment's content type (printable ASCII)
	MaxBackgroundURL      = 2048    // bytes of a background URL (printable ASCII)
	MaxMembers            = 100     // members of a board, the owner included
	MaxInvites            = 100     // pending invitations of a board
)

// ValidationError names every bad field of an input, with why.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		names = append(names, f)
	}
	sort.Strings(names)
	return "invalid " + strings.Join(names, ", ")
}

// invalid returns a *ValidationError for fields, or nil when there are none.
func invalid(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: fields}
}

// invalidField returns a *ValidationError for one field, or nil when msg is "".
func invalidField(field, msg string) error {
	if msg == "" {
		return nil
	}
	return &ValidationError{Fields: map[string]string{field: msg}}
}

// LimitError says that a change would take the board past one of its
// limits. It is not a bad field but a full board, so it is its own error:
// the input could be fine on another board.
type LimitError struct {
	// Limit names the limit, in words a client may rely on:
	// "listsPerBoard", "cardsPerList", "cardsPerBoard", "attachmentsPerCard",
	// "attachmentsPerBoard", "descriptionsPerBoard", "membersPerBoard" or
	// "invitesPerBoard".
	Limit string
	// Max is the limit's value (the Max... constant).
	Max int
}

var limitSentences = map[string]string{
	"listsPerBoard":        "a board holds at most %d lists",
	"cardsPerList":         "a list holds at most %d cards",
	"cardsPerBoard":        "a board holds at most %d cards",
	"attachmentsPerCard":   "a card holds at most %d attachments",
	"attachmentsPerBoard":  "a board holds at most %d attachments",
	"descriptionsPerBoard": "the card descriptions of a board hold at most %d characters together",
	"membersPerBoard":      "a board has at most %d members",
	"invitesPerBoard":      "a board has at most %d pending invitations",
}

// Error says the limit in a sentence, fit for a problem's detail.
func (e *LimitError) Error() string {
	if s, ok := limitSentences[e.Limit]; ok {
		return fmt.Sprintf(s, e.Max)
	}
	return fmt.Sprintf("limit %s of %d reached", e.Limit, e.Max)
}

const msgBadID = "must be a 24-character hex id"

// chars counts the characters of s.
func chars(s string) int { return utf8.RuneCountInString(s) }

// checkLine returns why a title or a name of at most max characters is not
// acceptable, or "". It is one line: a control character (a newline, a
// tab, an escape) in a title would break every page that shows it. Spaces
// around it are kept as typed, but a title of spaces only is refused.
func checkLine(s string, max int) string {
	if printableASCII(s, false) {
		// The common case, in one pass: valid UTF-8, a character a
		// byte, no control character, and no space but ' '.
		switch {
		case s == "":
			return "is required"
		case len(s) > max:
			return fmt.Sprintf("must be at most %d characters", max)
		case strings.Trim(s, " ") == "":
			return "must not be blank"
		}
		return ""
	}
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case s == "":
		return "is required"
	case chars(s) > max:
		return fmt.Sprintf("must be at most %d characters", max)
	case strings.TrimSpace(s) == "":
		return "must not be blank"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must be one line, without control characters"
	}
	return ""
}

// checkText returns why a free text of at most max characters is not
// acceptable, or "". It may be empty and span lines, but holds no control
// characters other than tab, newline and carriage return.
func checkText(s string, max int) string {
	if printableASCII(s, true) {
		if len(s) > max {
			return fmt.Sprintf("must be at most %d characters", max)
		}
		return ""
	}
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case chars(s) > max:
		return fmt.Sprintf("must be at most %d characters", max)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }) >= 0:
		return "must not hold control characters other than tab and newline"
	}
	return ""
}

// printableASCII reports whether every byte of s is printable ASCII, or
// also a tab, newline or carriage return when lines is set: the text that
// the checks above can pass in one pass over its bytes, as they would pass
// it in four. Boards hold mostly such text, and Validate runs on every
// write of a board.
func printableASCII(s string, lines bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < ' ' || c > '~') && !(lines && (c == '\t' || c == '\n' || c == '\r')) {
			return false
		}
	}
	return true
}

// checkBackgroundURL returns why a background URL is not acceptable, or "".
// It is empty (no background) or an absolute http(s) URL in printable
// ASCII (browsers percent-encode the rest). Other schemes are refused:
// javascript: or data: in a page's style or src is an attack. So is a user
// name or password in the URL, which every member would see.
func checkBackgroundURL(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > MaxBackgroundURL {
		return fmt.Sprintf("must be at most %d bytes", MaxBackgroundURL)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return "must be an http or https URL, in printable ASCII without spaces"
		}
		// Quotes, brackets and backslashes have no business in a
		// background URL, and a client that puts it in CSS url(…) or an
		// HTML attribute could be broken out of with them.
		if strings.IndexByte(`"'()<>\`+"`", s[i]) >= 0 {
			return "must not hold quotes, brackets, angle brackets or backslashes (percent-encode them)"
		}
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "must be an http or https URL"
	}
	if u.User != nil {
		return "must not hold a user name or password"
	}
	return ""
}

// checkContentType returns why an attachment's content type is not
// acceptable, or "".
func checkContentType(s string) string {
	if s == "" {
		return "is required"
	}
	if len(s) > MaxContentType {
		return fmt.Sprintf("must be at most %d bytes", MaxContentType)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return "must be printable ASCII"
		}
	}
	return ""
}

// checkAttachment returns the bad fields of a, or nil.
func checkAttachment(a Attachment) map[string]string {
	fields := map[string]string{}
	if !objectid.Valid(a.ID) {
		fields["id"] = msgBadID
	}
	if msg := checkLine(a.Name, MaxAttachmentName); msg != "" {
		fields["name"] = msg
	}
	if msg := checkContentType(a.ContentType); msg != "" {
		fields["contentType"] = msg
	}
	if a.Size < 0 {
		fields["size"] = "must be 0 or more"
	}
	return fields
}

// Validate reports whether b is a well-formed stored board: every rule the
// methods keep holds, and every limit. It is the check a record from
// outside (an import) must pass before it is stored, so that a store only
// ever holds a board the methods could have made.
func (b Board) Validate() error {
	return b.validate(nil)
}

// ValidateEdit returns what Validate returns, for a board made by editing
// prev, a board that passed Validate (every stored board did: the stores
// check every board they write and load) and has not changed since.
//
// A list of b whose cards are prev's list of the same id, the very same
// slice (the same first element and length: the file store shares, between
// a board and the next version of it, the lists a write did not change;
// see board.Store on lent boards), holds the cards that passed in prev,
// and so it is taken as it is: no card of it is looked at but to count
// the board's limits, and its ids are not indexed. The ids of the other
// lists are checked unique among themselves, and an id of theirs that prev
// did not hold outside the shared lists is looked for in them. Should
// anything fail, the whole board is checked again as below, so that the
// error is the very one Validate returns.
//
// Otherwise it skips only the checks of a card's own fields (its title,
// its description, its attachments') for a card equal, field by field, to
// a card of prev's list of the same id at the same place or one place
// before or after it, where a move shifts the cards it passes: those
// checks read nothing but the card, so they pass as they did for prev.
// Every id is still checked valid and unique, and every limit counted.
//
// Before all that, a board whose cards are prev's, the same cards in the
// same lists or others, in another order (what a move makes), is taken as
// valid without looking at the cards the edit did not move
// (rearranged).
func (b Board) ValidateEdit(prev *Board) error {
	if prev != nil && (b.rearranged(prev) || b.validShared(prev)) {
		return nil
	}
	return b.validate(prev)
}

// maxRearranged bounds the cards rearranged compares in pairs; more are
// matched through a map.
const maxRearranged = 16

// rearranged is ValidateEdit's check of a board whose cards are prev's
// rearranged: it reports whether b has prev's id, a valid head
// (validateHead), prev's lists (by id, in any order, each once), and
// cards that are prev's cards, each once, equal field by field. Such a
// board holds the ids prev held, each once, cards that passed their own
// checks in prev, and the same totals, so it passes Validate if its list
// names and lengths do; those are checked. false says only that it could
// not tell.
//
// It never builds a set of the board's ids. Each list whose cards are not
// prev's very slice (sharedCards) is compared with prev's list of the same
// id by the ids of the cards at its start and its end that match prev's
// (which must then be equal cards): a move leaves all but a few of a
// list's cards there. The cards in between, over all lists, must be those
// in between in prev's lists, each once and equal: the card a move takes
// from one list is the card it puts into the other.
func (b Board) rearranged(prev *Board) bool {
	if b.ID != prev.ID || len(b.Lists) != len(prev.Lists) || len(b.Lists) > MaxLists {
		return false
	}
	if b.validateHead(func(string, ...any) error { return errQuick }) != nil {
		return false
	}
	var seen [MaxLists]bool
	var added, removed []Card
	for i, l := range b.Lists {
		j := i
		if prev.Lists[j].ID != l.ID {
			if j = slices.IndexFunc(prev.Lists, func(p List) bool { return p.ID == l.ID }); j < 0 {
				return false
			}
		}
		if seen[j] {
			return false
		}
		seen[j] = true
		p := prev.Lists[j]
		if (l.Name != p.Name && checkLine(l.Name, MaxListName) != "") || len(l.Cards) > MaxCardsPerList {
			return false
		}
		oc, nc := p.Cards, l.Cards
		if len(oc) == 0 && len(nc) == 0 || sharedCards(oc, nc) {
			continue
		}
		h := 0
		for h < len(oc) && h < len(nc) && oc[h].ID == nc[h].ID {
			if !sameCard(oc[h], nc[h]) {
				return false
			}
			h++
		}
		t := 0
		for t < len(oc)-h && t < len(nc)-h && oc[len(oc)-1-t].ID == nc[len(nc)-1-t].ID {
			if !sameCard(oc[len(oc)-1-t], nc[len(nc)-1-t]) {
				return false
			}
			t++
		}
		added = append(added, nc[h:len(nc)-t]...)
		removed = append(removed, oc[h:len(oc)-t]...)
	}
	if len(added) != len(removed) {
		return false
	}
	// Each card put in is one taken out, equal to it. prev's ids are
	// unique, so matching each added card with a removed card of its id,
	// not yet matched, pairs them all or fails.
	if len(added) <= maxRearranged {
		var used [maxRearranged]bool
		for _, c := range added {
			k := slices.IndexFunc(removed, func(r Card) bool { return r.ID == c.ID })
			if k < 0 || used[k] || !sameCard(removed[k], c) {
				return false
			}
			used[k] = true
		}
		return true
	}
	if turnedByOne(added, removed) {
		return true
	}
	byID := make(map[string]int, len(removed))
	for k, r := range removed {
		byID[r.ID] = k
	}
	for _, c := range added {
		k, ok := byID[c.ID]
		if !ok || !sameCard(removed[k], c) {
			return false
		}
		delete(byID, c.ID)
	}
	return true
}

// turnedByOne reports whether added is removed turned by one place, its
// last card first or its first card last, each card equal to the one it
// pairs with: the cards between a card's old place and its new one in a
// move within a list. Such cards are removed's, each once, so rearranged
// needs no map of them.
func turnedByOne(added, removed []Card) bool {
	n := len(added)
	if n < 2 || n != len(removed) {
		return false
	}
	same := func(a, b []Card) bool { return slices.EqualFunc(a, b, sameCard) }
	return sameCard(added[0], removed[n-1]) && same(added[1:], removed[:n-1]) ||
		sameCard(added[n-1], removed[0]) && same(added[:n-1], removed[1:])
}

// validate is Validate, skipping the checks of the cards equal to those
// of prev as ValidateEdit says; prev nil skips nothing.
func (b Board) validate(prev *Board) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("board %q: %s", b.ID, fmt.Sprintf(format, args...))
	}
	if err := b.validateHead(bad); err != nil {
		return err
	}
	if len(b.Lists) > MaxLists {
		return bad("%v", &LimitError{"listsPerBoard", MaxLists})
	}
	n := 1 + len(b.Lists)
	for _, l := range b.Lists {
		n += len(l.Cards)
	}
	ids := make(map[string]bool, n)
	ids[b.ID] = true
	unique := func(kind, id string) error {
		if !objectid.Valid(id) || ids[id] {
			return bad("%s id %q is not a valid id or is used twice", kind, id)
		}
		ids[id] = true
		return nil
	}
	// The counts for the board's limits, in the same pass. A description
	// has no more characters than bytes, so its characters are counted
	// only when the bytes pass the limit.
	attachments, descriptionBytes := 0, 0
	for li, l := range b.Lists {
		if err := unique("list", l.ID); err != nil {
			return err
		}
		if msg := checkLine(l.Name, MaxListName); msg != "" {
			return bad("list %q: name %s", l.ID, msg)
		}
		if len(l.Cards) > MaxCardsPerList {
			return bad("list %q: %v", l.ID, &LimitError{"cardsPerList", MaxCardsPerList})
		}
		before := prev.listCards(li, l.ID)
		for ci, c := range l.Cards {
			if err := unique("card", c.ID); err != nil {
				return err
			}
			attachments += len(c.Attachments)
			descriptionBytes += len(c.Description)
			if unchangedCard(before, ci, c) {
				// Its own checks passed in prev; its ids still count.
				for _, a := range c.Attachments {
					if err := unique("attachment", a.ID); err != nil {
						return err
					}
				}
				continue
			}
			if msg := checkLine(c.Title, MaxCardTitle); msg != "" {
				return bad("card %q: title %s", c.ID, msg)
			}
			if msg := checkText(c.Description, MaxDescription); msg != "" {
				return bad("card %q: description %s", c.ID, msg)
			}
			if len(c.Attachments) > MaxAttachmentsPerCard {
				return bad("card %q: %v", c.ID, &LimitError{"attachmentsPerCard", MaxAttachmentsPerCard})
			}
			for _, a := range c.Attachments {
				if err := unique("attachment", a.ID); err != nil {
					return err
				}
				if fields := checkAttachment(a); len(fields) > 0 {
					return bad("attachment %q: %v", a.ID, invalid(fields))
				}
			}
		}
	}
	cards, descriptions := n-1-len(b.Lists), descriptionBytes
	if descriptions > MaxDescriptions {
		_, _, descriptions = b.counts()
	}
	switch {
	case cards > MaxCards:
		return bad("%v", &LimitError{"cardsPerBoard", MaxCards})
	case attachments > MaxAttachments:
		return bad("%v", &LimitError{"attachmentsPerBoard", MaxAttachments})
	case descriptions > MaxDescriptions:
		return bad("%v", &LimitError{"descriptionsPerBoard", MaxDescriptions})
	}
	return nil
}

// listCards returns the cards of b's list id, looked for first at index
// i; none when b is nil or has no such list.
func (b *Board) listCards(i int, id string) []Card {
	if b == nil {
		return nil
	}
	if i < len(b.Lists) && b.Lists[i].ID == id {
		return b.Lists[i].Cards
	}
	for _, l := range b.Lists {
		if l.ID == id {
			return l.Cards
		}
	}
	return nil
}

// unchangedCard reports whether c is equal, field by field, to the card of
// before at index i or beside it.
func unchangedCard(before []Card, i int, c Card) bool {
	for _, j := range [3]int{i, i - 1, i + 1} {
		if j >= 0 && j < len(before) && sameCard(before[j], c) {
			return true
		}
	}
	return false
}

// sameCard reports whether two cards are equal in every field (times
// compared as values, location included).
func sameCard(a, b Card) bool {
	return a.ID == b.ID && a.Title == b.Title && a.Description == b.Description &&
		a.CreatedAt == b.CreatedAt && slices.Equal(a.Attachments, b.Attachments)
}

// validateHead is validate's check of the board's own fields, members,
// invitations and favourites: everything but the lists.
func (b *Board) validateHead(bad func(format string, args ...any) error) error {
	if !objectid.Valid(b.ID) {
		return bad("id: %s", msgBadID)
	}
	if msg := checkLine(b.Title, MaxTitle); msg != "" {
		return bad("title %s", msg)
	}
	if msg := checkBackgroundURL(b.BackgroundURL); msg != "" {
		return bad("backgroundURL %s", msg)
	}
	if b.BackgroundID != "" && !objectid.Valid(b.BackgroundID) {
		return bad("backgroundId: %s", msgBadID)
	}
	if b.BackgroundID != "" && b.BackgroundURL != "" {
		return bad("has both a background file and a background URL")
	}
	if b.Version < 0 {
		return bad("version %d is negative", b.Version)
	}
	if !storableTime(b.DeletingAt, true) {
		return bad("deletingAt must be within years 1-9999 UTC")
	}
	if len(b.Members) == 0 || b.Members[0] != b.OwnerID {
		return bad("the owner %q is not the first member", b.OwnerID)
	}
	if len(b.Members) > MaxMembers {
		return bad("%v", &LimitError{"membersPerBoard", MaxMembers})
	}
	if len(b.Invited) > MaxInvites {
		return bad("%v", &LimitError{"invitesPerBoard", MaxInvites})
	}
	members := map[string]bool{}
	for _, id := range b.Members {
		if !objectid.Valid(id) || members[id] {
			return bad("member %q is not a valid id or is listed twice", id)
		}
		members[id] = true
	}
	invited := map[string]bool{}
	for _, id := range b.Invited {
		if !objectid.Valid(id) || invited[id] || members[id] {
			return bad("invited %q is not a valid id, is listed twice, or is a member", id)
		}
		invited[id] = true
	}
	favourites := map[string]bool{}
	for _, id := range b.FavouritedBy {
		if !members[id] || favourites[id] {
			return bad("favourite of %q, who is not a member or is listed twice", id)
		}
		favourites[id] = true
	}

	return nil
}

// sharedCards reports whether two lists of cards are the very same slice,
// and not empty (an empty list has nothing to skip).
func sharedCards(a, b []Card) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// validShared is ValidateEdit's quick check: it reports whether b passes
// validate, taking b's lists that share their cards with prev's as they
// are. false says only that it could not tell: validate then decides.
func (b Board) validShared(prev *Board) bool {
	bad := func(string, ...any) error { return errQuick }
	if b.validateHead(bad) != nil || len(b.Lists) > MaxLists {
		return false
	}
	shared := make([]bool, len(b.Lists))
	sharedIDs := make(map[string]bool, len(b.Lists))
	changedCards := 0
	for i, l := range b.Lists {
		if sharedCards(prev.listCards(i, l.ID), l.Cards) {
			shared[i] = true
			sharedIDs[l.ID] = true
		} else {
			changedCards += len(l.Cards)
		}
	}
	if len(sharedIDs) == 0 {
		return false // nothing to skip
	}
	// An id of a list b changed must not be in a list b shares with
	// prev. It is not if prev held it outside those lists (prev's ids are
	// unique): a card found at its place in prev's list of the same id,
	// or one place along, is there; an id found neither there nor in the
	// lists b changed (a new card or list, a card moved in from another
	// list) is looked for in the shared lists: a few times at most, which
	// is what a write does.
	searches := 0
	search := func(lists []List, skip func(int, List) bool, id string) bool {
		for i, l := range lists {
			if skip(i, l) {
				continue
			}
			for _, c := range l.Cards {
				if c.ID == id {
					return true
				}
				for _, a := range c.Attachments {
					if a.ID == id {
						return true
					}
				}
			}
		}
		return false
	}
	inPrev := func(_ int, l List) bool { return sharedIDs[l.ID] } // skips the shared lists
	inShared := func(i int, _ List) bool { return !shared[i] }    // skips the changed lists
	notShared := func(id string) bool {
		searches++
		if searches > 16 {
			return false // too many to search: validate decides
		}
		if prev.ID == id || slices.ContainsFunc(prev.Lists, func(l List) bool { return l.ID == id }) ||
			search(prev.Lists, inPrev, id) {
			return true
		}
		return !search(b.Lists, inShared, id)
	}
	ids := make(map[string]bool, 1+len(b.Lists)+changedCards)
	ids[b.ID] = true
	// unique adds id to the ids of the changed lists; known says that it
	// is known to be in prev outside the shared lists.
	unique := func(id string, known bool) bool {
		if !objectid.Valid(id) || ids[id] || (!known && !notShared(id)) {
			return false
		}
		ids[id] = true
		return true
	}
	cards, attachments, descriptionBytes := 0, 0, 0
	for li, l := range b.Lists {
		if !unique(l.ID, false) || checkLine(l.Name, MaxListName) != "" || len(l.Cards) > MaxCardsPerList {
			return false
		}
		cards += len(l.Cards)
		if shared[li] {
			for _, c := range l.Cards {
				attachments += len(c.Attachments)
				descriptionBytes += len(c.Description)
			}
			continue
		}
		before := prev.listCards(li, l.ID)
		for ci, c := range l.Cards {
			own := !unchangedCard(before, ci, c)
			if !unique(c.ID, !own || nearby(before, ci, c.ID)) {
				return false
			}
			attachments += len(c.Attachments)
			descriptionBytes += len(c.Description)
			if own && (checkLine(c.Title, MaxCardTitle) != "" || checkText(c.Description, MaxDescription) != "" ||
				len(c.Attachments) > MaxAttachmentsPerCard) {
				return false
			}
			for _, a := range c.Attachments {
				if !unique(a.ID, !own) || (own && len(checkAttachment(a)) > 0) {
					return false
				}
			}
		}
	}
	// Descriptions over the limit in bytes may be within it in
	// characters: validate counts them.
	return cards <= MaxCards && attachments <= MaxAttachments && descriptionBytes <= MaxDescriptions
}

// nearby reports whether before holds a card of the given id at i or one
// place before or after it.
func nearby(before []Card, i int, id string) bool {
	for _, j := range [3]int{i, i - 1, i + 1} {
		if j >= 0 && j < len(before) && before[j].ID == id {
			return true
		}
	}
	return false
}

// errQuick is what validShared's checks fail with; it is never returned.
var errQuick = errors.New("invalid")
