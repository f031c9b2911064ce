package mongostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/board"
)

// boardDoc is a board as stored in the boards collection: the whole board
// in one document, its lists, cards and attachments as sub-documents, so
// that one read serves a board's page and one replace writes any change
// of it atomically, without a transaction. Version is the compare-and-swap
// key of every write (see UpdateBoard). Every array is stored as an array,
// empty rather than null, so that queries on members and invited behave.
type boardDoc struct {
	ID      bson.ObjectID `bson:"_id"`
	Title   string        `bson:"title"`
	OwnerID bson.ObjectID `bson:"ownerId"`
	// BackgroundID names an uploaded image (a GridFS file id); absent when
	// there is none.
	BackgroundID  *bson.ObjectID  `bson:"backgroundId,omitempty"`
	BackgroundURL string          `bson:"backgroundURL"`
	Members       []bson.ObjectID `bson:"members"`
	Invited       []bson.ObjectID `bson:"invited"`
	FavouritedBy  []bson.ObjectID `bson:"favouritedBy"`
	Lists         []listDoc       `bson:"lists"`
	Version       int64           `bson:"version"`
	CreatedAt     time.Time       `bson:"createdAt"`
	UpdatedAt     time.Time       `bson:"updatedAt"`
	// DeletingAt is absent but while the board's deletion cascade runs
	// (MarkBoardDeleting); every filter that looks for boards demands it
	// absent (notBeingDeleted).
	DeletingAt *time.Time `bson:"deletingAt,omitempty"`
}

type listDoc struct {
	ID    bson.ObjectID `bson:"id"`
	Name  string        `bson:"name"`
	Cards []cardDoc     `bson:"cards"`
}

type cardDoc struct {
	ID          bson.ObjectID   `bson:"id"`
	Title       string          `bson:"title"`
	Description string          `bson:"description"`
	Attachments []attachmentDoc `bson:"attachments"`
	CreatedAt   time.Time       `bson:"createdAt"`
}

type attachmentDoc struct {
	ID          bson.ObjectID `bson:"id"`
	Name        string        `bson:"name"`
	ContentType string        `bson:"contentType"`
	Size        int64         `bson:"size"`
	CreatedAt   time.Time     `bson:"createdAt"`
}

// summaryFields is the projection of BoardSummaries: what a board's tile
// shows, and never its lists, which are nearly all of a board's bytes.
var summaryFields = bson.D{
	{Key: "title", Value: 1},
	{Key: "backgroundId", Value: 1},
	{Key: "backgroundURL", Value: 1},
	{Key: "members", Value: 1},
	{Key: "favouritedBy", Value: 1},
	{Key: "updatedAt", Value: 1},
}

// toBoardDoc converts b, which has passed board.Validate, for storage. Its
// times are truncated to the millisecond, as BSON keeps them, so that the
// board the document converts back to is the one a later read returns.
func toBoardDoc(b board.Board) (boardDoc, error) {
	var bad error
	oid := func(what, id string) bson.ObjectID {
		o, ok := parseID(id)
		if !ok && bad == nil {
			bad = fmt.Errorf("board %s: %s %q is not a 24-hex id", b.ID, what, id)
		}
		return o
	}
	oids := func(what string, ids []string) []bson.ObjectID {
		out := make([]bson.ObjectID, len(ids))
		for i, id := range ids {
			out[i] = oid(what, id)
		}
		return out
	}
	d := boardDoc{
		ID:            oid("id", b.ID),
		Title:         b.Title,
		OwnerID:       oid("owner id", b.OwnerID),
		BackgroundURL: b.BackgroundURL,
		Members:       oids("member id", b.Members),
		Invited:       oids("invited id", b.Invited),
		FavouritedBy:  oids("favourite id", b.FavouritedBy),
		Lists:         make([]listDoc, len(b.Lists)),
		Version:       b.Version,
		CreatedAt:     bsonTime(b.CreatedAt),
		UpdatedAt:     bsonTime(b.UpdatedAt),
	}
	if b.BackgroundID != "" {
		bg := oid("background id", b.BackgroundID)
		d.BackgroundID = &bg
	}
	if !b.DeletingAt.IsZero() {
		at := bsonTime(b.DeletingAt)
		d.DeletingAt = &at
	}
	for i, l := range b.Lists {
		ld := listDoc{ID: oid("list id", l.ID), Name: l.Name, Cards: make([]cardDoc, len(l.Cards))}
		for j, c := range l.Cards {
			cd := cardDoc{
				ID: oid("card id", c.ID), Title: c.Title, Description: c.Description,
				Attachments: make([]attachmentDoc, len(c.Attachments)), CreatedAt: bsonTime(c.CreatedAt),
			}
			for k, a := range c.Attachments {
				cd.Attachments[k] = attachmentDoc{
					ID: oid("attachment id", a.ID), Name: a.Name, ContentType: a.ContentType,
					Size: a.Size, CreatedAt: bsonTime(a.CreatedAt),
				}
			}
			ld.Cards[j] = cd
		}
		d.Lists[i] = ld
	}
	return d, bad
}

// bsonTime returns t as a BSON date gives it back: whole milliseconds.
func bsonTime(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// toBoard converts a stored board back, with every slice non-nil and every
// time in UTC. It builds every slice afresh, so the caller owns it all.
func (d boardDoc) toBoard() board.Board {
	b := board.Board{
		ID:            d.ID.Hex(),
		Title:         d.Title,
		OwnerID:       d.OwnerID.Hex(),
		BackgroundURL: d.BackgroundURL,
		Members:       hexes(d.Members),
		Invited:       hexes(d.Invited),
		FavouritedBy:  hexes(d.FavouritedBy),
		Lists:         make([]board.List, len(d.Lists)),
		Version:       d.Version,
		CreatedAt:     utc(d.CreatedAt),
		UpdatedAt:     utc(d.UpdatedAt),
	}
	if d.BackgroundID != nil {
		b.BackgroundID = d.BackgroundID.Hex()
	}
	if d.DeletingAt != nil {
		b.DeletingAt = utc(*d.DeletingAt)
	}
	for i, ld := range d.Lists {
		l := board.List{ID: ld.ID.Hex(), Name: ld.Name, Cards: make([]board.Card, len(ld.Cards))}
		for j, cd := range ld.Cards {
			c := board.Card{
				ID: cd.ID.Hex(), Title: cd.Title, Description: cd.Description,
				Attachments: make([]board.Attachment, len(cd.Attachments)), CreatedAt: utc(cd.CreatedAt),
			}
			for k, ad := range cd.Attachments {
				c.Attachments[k] = board.Attachment{
					ID: ad.ID.Hex(), Name: ad.Name, ContentType: ad.ContentType, Size: ad.Size, CreatedAt: utc(ad.CreatedAt),
				}
			}
			l.Cards[j] = c
		}
		b.Lists[i] = l
	}
	return b
}

// hexes returns the ids as 24-hex strings, never nil.
func hexes(ids []bson.ObjectID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.Hex()
	}
	return out
}

// CreateBoard stores b, which must pass board.Validate, with one insert.
func (s *Store) CreateBoard(ctx context.Context, b board.Board) error {
	const op = "create board"
	if err := b.Validate(); err != nil {
		return fmt.Errorf("mongostore: %s: %w", op, err)
	}
	doc, err := toBoardDoc(b)
	if err != nil {
		return fmt.Errorf("mongostore: %s: %w", op, err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if _, err := s.boards.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			// Ids are random; a clash is a caller's bug.
			return fmt.Errorf("mongostore: %s: id %s is already used: %w", op, b.ID, err)
		}
		return s.fail(op, err)
	}
	return nil
}

// BoardByID returns the board with the given id in one find by _id, or
// board.ErrNotFound (also for an id that is not a valid id at all).
func (s *Store) BoardByID(ctx context.Context, id string) (board.Board, error) {
	oid, ok := parseID(id)
	if !ok {
		return board.Board{}, board.ErrNotFound
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	d, err := s.findBoard(ctx, oid)
	if err != nil {
		return board.Board{}, s.failBoard("find board", err)
	}
	return d.toBoard(), nil
}

// findBoard reads the board document with id; mongo.ErrNoDocuments when
// there is none, or it is being deleted.
func (s *Store) findBoard(ctx context.Context, id bson.ObjectID) (boardDoc, error) {
	var d boardDoc
	err := s.boards.FindOne(ctx, bson.D{{Key: "_id", Value: id}, notBeingDeleted}).Decode(&d)
	return d, err
}

// failBoard is fail, but turns "no document" into board.ErrNotFound.
func (s *Store) failBoard(op string, err error) error {
	if errors.Is(err, mongo.ErrNoDocuments) {
		return board.ErrNotFound
	}
	return s.fail(op, err)
}

// maxUpdateAttempts bounds the compare-and-swaps of one UpdateBoard. Each
// lost attempt means another write of the board landed, so the board is
// making progress; a writer that loses this often in a row is better told
// to try again (board.ErrBusy) than kept waiting without end.
const maxUpdateAttempts = 32

// UpdateBoard is the board's compare-and-swap loop, correct without
// transactions on MongoDB and, with its updates serialised, on FerretDB:
// read the document, run edit on the board it holds, and write the result
// with one replaceOne whose filter is {_id, version: the version read}.
// A replace that matches nothing lost to another write (or the board was
// deleted, which the next read finds): after a short random pause, so that
// writers that collided do not collide again in step, it starts over,
// with edit run again on the new board. One move of a card is two
// commands, a find and an update, whatever the number of boards stored.
func (s *Store) UpdateBoard(ctx context.Context, id string, edit func(*board.Board) error) (board.Board, error) {
	oid, ok := parseID(id)
	if !ok {
		return board.Board{}, board.ErrNotFound
	}
	for attempt := 1; ; attempt++ {
		b, swapped, err := s.updateBoardOnce(ctx, oid, edit)
		switch {
		case err != nil:
			return board.Board{}, err
		case swapped:
			return b, nil
		case attempt == maxUpdateAttempts:
			return board.Board{}, fmt.Errorf("mongostore: update board %s: %d attempts in a row overtaken by other writes: %w",
				id, attempt, board.ErrBusy)
		}
		pause := time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return board.Board{}, s.fail("update board", ctx.Err())
		case <-time.After(pause):
		}
	}
}

// updateBoardOnce is one attempt of UpdateBoard. swapped is false when the
// replace lost the compare-and-swap and nothing was written. On FerretDB
// 1.x the whole attempt runs in this process's update turn (see
// Store.updateLock), so no other update of this process comes between the
// read and the replace, whose own match and write are separate steps there.
func (s *Store) updateBoardOnce(ctx context.Context, oid bson.ObjectID, edit func(*board.Board) error) (_ board.Board, swapped bool, _ error) {
	const op = "update board"
	ctx, done, err := s.beginUpdate(ctx, op)
	if err != nil {
		return board.Board{}, false, err
	}
	defer done()
	d, err := s.findBoard(ctx, oid)
	if err != nil {
		return board.Board{}, false, s.failBoard(op, err)
	}
	b := d.toBoard() // built afresh: edit may change it freely
	if err := edit(&b); err != nil {
		return board.Board{}, false, err
	}
	if b.ID != oid.Hex() {
		return board.Board{}, false, fmt.Errorf("mongostore: %s %s: the edit changed the board's id to %q", op, oid.Hex(), b.ID)
	}
	b.Version = d.Version + 1
	if err := b.Validate(); err != nil {
		return board.Board{}, false, fmt.Errorf("mongostore: %s %s: the edit made an invalid board: %w", op, oid.Hex(), err)
	}
	nd, err := toBoardDoc(b)
	if err != nil {
		return board.Board{}, false, fmt.Errorf("mongostore: %s: %w", op, err)
	}
	res, err := s.boards.ReplaceOne(ctx, bson.D{{Key: "_id", Value: oid}, {Key: "version", Value: d.Version}}, nd)
	if err != nil {
		return board.Board{}, false, s.fail(op, err)
	}
	if res.MatchedCount == 0 {
		return board.Board{}, false, nil
	}
	return nd.toBoard(), true, nil
}

// DeleteBoard removes the board with one delete by _id, or fails with
// board.ErrNotFound. It takes the update turn on FerretDB 1.x, so that it
// cannot fall between the read and the write of an UpdateBoard there.
func (s *Store) DeleteBoard(ctx context.Context, id string) error {
	const op = "delete board"
	oid, ok := parseID(id)
	if !ok {
		return board.ErrNotFound
	}
	ctx, done, err := s.beginUpdate(ctx, op)
	if err != nil {
		return err
	}
	defer done()
	res, err := s.boards.DeleteOne(ctx, bson.D{{Key: "_id", Value: oid}})
	switch {
	case err != nil:
		return s.fail(op, err)
	case res.DeletedCount == 0:
		return board.ErrNotFound
	}
	return nil
}

// summaryDoc is the part of a boardDoc that summaryFields projects.
type summaryDoc struct {
	ID            bson.ObjectID   `bson:"_id"`
	Title         string          `bson:"title"`
	BackgroundID  *bson.ObjectID  `bson:"backgroundId,omitempty"`
	BackgroundURL string          `bson:"backgroundURL"`
	Members       []bson.ObjectID `bson:"members"`
	FavouritedBy  []bson.ObjectID `bson:"favouritedBy"`
	UpdatedAt     time.Time       `bson:"updatedAt"`
}

// BoardSummaries is one find on the members index, {members: userID},
// projected to what a tile shows (summaryFields), and sorted here: the
// order puts this user's favourites first, which no index of boards can
// hold for every user at once, and a user's boards are few.
func (s *Store) BoardSummaries(ctx context.Context, userID string) ([]board.Summary, error) {
	const op = "list boards"
	list := []board.Summary{}
	uid, ok := parseID(userID)
	if !ok {
		return list, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	cur, err := s.boards.Find(ctx, bson.D{{Key: "members", Value: uid}, notBeingDeleted}, options.Find().SetProjection(summaryFields))
	if err != nil {
		return nil, s.fail(op, err)
	}
	var docs []summaryDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, s.fail(op, err)
	}
	for _, d := range docs {
		b := board.Board{
			ID: d.ID.Hex(), Title: d.Title, BackgroundURL: d.BackgroundURL,
			Members: hexes(d.Members), FavouritedBy: hexes(d.FavouritedBy), UpdatedAt: utc(d.UpdatedAt),
		}
		if d.BackgroundID != nil {
			b.BackgroundID = d.BackgroundID.Hex()
		}
		list = append(list, b.SummaryFor(userID))
	}
	board.SortSummaries(list)
	return list, nil
}

// BoardIDsFor is one find, {$or: [{members: userID}, {invited: userID}]},
// each branch on its own index, projected to the ids. Favourites need no
// branch: board.Validate, which every write passes, keeps them among the
// members.
func (s *Store) BoardIDsFor(ctx context.Context, userID string) ([]string, error) {
	const op = "list boards of a user"
	ids := []string{}
	uid, ok := parseID(userID)
	if !ok {
		return ids, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	cur, err := s.boards.Find(ctx,
		bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "members", Value: uid}},
			bson.D{{Key: "invited", Value: uid}},
		}}, notBeingDeleted},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, s.fail(op, err)
	}
	var docs []struct {
		ID bson.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, s.fail(op, err)
	}
	for _, d := range docs {
		ids = append(ids, d.ID.Hex())
	}
	return ids, nil
}

// EachBoard calls fn for every stored board, in no particular order,
// stopping at the first error fn returns (which it returns unwrapped).
// Each round trip is bounded by OpTimeout, not the whole walk.
func (s *Store) EachBoard(ctx context.Context, fn func(board.Board) error) error {
	return eachWhere(ctx, s, s.boards, "list boards", bson.D{notBeingDeleted}, func(d boardDoc) error { return fn(d.toBoard()) })
}

// MarkBoardDeleting implements board.Store in one findAndModify whose
// filter demands no mark yet, and which bumps the version, so that the
// compare-and-swap of an UpdateBoard that read the board before fails;
// when it matches nothing, a plain read tells a board marked already from
// none. It takes the update turn on FerretDB 1.x, like every board write.
func (s *Store) MarkBoardDeleting(ctx context.Context, id string, now time.Time) (board.Board, error) {
	const op = "mark board deleting"
	oid, ok := parseID(id)
	if !ok {
		return board.Board{}, board.ErrNotFound
	}
	ctx, done, err := s.beginUpdate(context.WithoutCancel(ctx), op)
	if err != nil {
		return board.Board{}, err
	}
	defer done()
	var d boardDoc
	err = s.boards.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: oid}, notBeingDeleted}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "deletingAt", Value: bsonTime(now)}}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
	}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		err = s.boards.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	}
	if err != nil {
		return board.Board{}, s.failBoard(op, err)
	}
	return d.toBoard(), nil
}

// BoardsBeingDeleted implements board.Store. Like UsersBeingDeleted, it
// has no index of its own: it runs at start and in the periodic sweep.
func (s *Store) BoardsBeingDeleted(ctx context.Context) ([]board.Board, error) {
	var marked []board.Board
	err := eachWhere(ctx, s, s.boards, "list boards being deleted",
		bson.D{{Key: "deletingAt", Value: bson.D{{Key: "$exists", Value: true}}}},
		func(d boardDoc) error { marked = append(marked, d.toBoard()); return nil })
	return marked, err
}
