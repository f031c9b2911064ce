package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"corkboard/board"
)

// TestInvitationLifeCycle follows invitations from both ends: made at
// creation and by a member, listed newest first, accepted (the inviter is
// told), declined (told too), dismissed, answered twice, answered by
// someone else, and refused when they make no sense.
func TestInvitationLifeCycle(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob, carol, dave := env.newClient(), env.newClient(), env.newClient(), env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		bd := bob.signup("bob", "bob@example.com", "password1")
		cd := carol.signup("carol", "carol@example.com", "password1")
		dd := dave.signup("dave", "dave@example.com", "password1")

		// Invited at creation: bob and carol each get an open invitation.
		b := alice.createBoard("Party", bd.User.ID, cd.User.ID)
		if len(b.Members) != 1 {
			t.Errorf("invitees are members before accepting: %+v", b.Members)
		}
		bobInv := bob.notifications()
		want := notificationDoc{ID: bobInv[0].ID, Type: "invite", BoardID: b.ID, BoardTitle: "Party",
			FromUserID: a.User.ID, FromUsername: "alice", CreatedAt: env.clock.Now()}
		if len(bobInv) != 1 || bobInv[0] != want {
			t.Fatalf("bob's notifications %+v, want [%+v]", bobInv, want)
		}
		r := bob.do("GET", "/api/notifications", nil).want(t, http.StatusOK)
		var raw struct{ Notifications []map[string]any }
		r.json(t, &raw)
		if _, ok := raw.Notifications[0]["accepted"]; !ok || raw.Notifications[0]["accepted"] != nil || len(raw.Notifications[0]) != 8 {
			t.Errorf("an open invitation as JSON: %v; want the 8 fields of API.md, accepted null", raw.Notifications[0])
		}
		// Not a member yet: the board is hidden.
		bob.do("GET", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")

		// Someone else cannot answer or dismiss bob's invitation.
		for _, c := range []*client{alice, carol} {
			c.do("POST", "/api/notifications/"+bobInv[0].ID+"/accept", nil).wantProblem(t, http.StatusNotFound, "not_found")
			c.do("POST", "/api/notifications/"+bobInv[0].ID+"/decline", nil).wantProblem(t, http.StatusNotFound, "not_found")
			c.do("DELETE", "/api/notifications/"+bobInv[0].ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		}

		// Bob accepts: he joins, and alice is told.
		env.clock.Advance(time.Minute)
		joined := boardOf(t, bob.do("POST", "/api/notifications/"+bobInv[0].ID+"/accept", nil).want(t, http.StatusOK))
		if len(joined.Members) != 2 || joined.Members[1].ID != bd.User.ID || joined.Members[1].Owner {
			t.Errorf("after accepting, members %+v", joined.Members)
		}
		bob.board(b.ID)
		bob.do("POST", "/api/notifications/"+bobInv[0].ID+"/accept", nil).wantProblem(t, http.StatusConflict, "already_handled")
		bob.do("POST", "/api/notifications/"+bobInv[0].ID+"/decline", nil).wantProblem(t, http.StatusConflict, "already_handled")
		if ns := bob.notifications(); len(ns) != 1 || ns[0].Accepted == nil || !*ns[0].Accepted {
			t.Errorf("bob's answered invitation: %+v, want accepted true", ns)
		}
		an := alice.notifications()
		yes := true
		wantResp := notificationDoc{ID: an[0].ID, Type: "invite_response", BoardID: b.ID, BoardTitle: "Party",
			FromUserID: bd.User.ID, FromUsername: "bob", Accepted: &yes, CreatedAt: env.clock.Now()}
		if len(an) != 1 || !sameNotification(an[0], wantResp) {
			t.Fatalf("alice's notifications %+v, want [%+v]", an, wantResp)
		}
		// A response is no invitation.
		alice.do("POST", "/api/notifications/"+an[0].ID+"/accept", nil).wantProblem(t, http.StatusNotFound, "not_found")

		// Carol declines: no membership, alice told, carol may be invited again.
		env.clock.Advance(time.Minute)
		carolInv := carol.notifications()
		carol.do("POST", "/api/notifications/"+carolInv[0].ID+"/decline", nil).want(t, http.StatusNoContent)
		carol.do("POST", "/api/notifications/"+carolInv[0].ID+"/accept", nil).wantProblem(t, http.StatusConflict, "already_handled")
		carol.do("GET", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		an = alice.notifications()
		if len(an) != 2 || an[0].FromUserID != cd.User.ID || an[0].Accepted == nil || *an[0].Accepted {
			t.Errorf("alice's notifications after carol declined, newest first: %+v", an)
		}

		// Bob, a member, invites carol again; duplicates and members are refused.
		env.clock.Advance(time.Minute)
		var again struct{ Notification notificationDoc }
		bob.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": cd.User.ID}).want(t, http.StatusCreated).json(t, &again)
		if again.Notification.FromUsername != "bob" || again.Notification.Type != "invite" || again.Notification.Accepted != nil {
			t.Errorf("bob's invitation of carol %+v", again.Notification)
		}
		if ns := carol.notifications(); len(ns) != 2 || ns[0].ID != again.Notification.ID {
			t.Errorf("carol's notifications, newest first: %+v", ns)
		}
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": cd.User.ID}).wantProblem(t, http.StatusConflict, "already_invited")
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": bd.User.ID}).wantProblem(t, http.StatusConflict, "already_member")
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": a.User.ID}).wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": "0123456789abcdef01234567"}).wantProblem(t, http.StatusNotFound, "not_found")
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": "nope"}).wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")

		// Carol dismisses it: gone, nobody told, and she may be invited again.
		carol.do("DELETE", "/api/notifications/"+again.Notification.ID, nil).want(t, http.StatusNoContent)
		carol.do("DELETE", "/api/notifications/"+again.Notification.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		carol.do("POST", "/api/notifications/"+again.Notification.ID+"/accept", nil).wantProblem(t, http.StatusNotFound, "not_found")
		if n := len(alice.notifications()) + len(bob.notifications()); n != 3 {
			t.Errorf("alice and bob hold %d notifications after the dismissal, want 3 (nobody is told)", n)
		}
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": cd.User.ID}).want(t, http.StatusCreated)

		// An invitation to a board that is deleted answers 404, and goes.
		var dInv struct{ Notification notificationDoc }
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": dd.User.ID}).want(t, http.StatusCreated).json(t, &dInv)
		alice.do("DELETE", "/api/boards/"+b.ID, nil).want(t, http.StatusNoContent)
		dave.do("POST", "/api/notifications/"+dInv.Notification.ID+"/accept", nil).wantProblem(t, http.StatusNotFound, "not_found")
		if ns := dave.notifications(); len(ns) != 0 {
			t.Errorf("dave's notifications after the board went: %+v", ns)
		}
		for _, c := range []*client{alice, bob, carol} {
			if ns := c.notifications(); len(ns) != 0 {
				t.Errorf("notifications about the deleted board left: %+v", ns)
			}
		}
	})
}

// sameNotification compares notifications, times by instant.
func sameNotification(a, b notificationDoc) bool {
	at, bt := a.Accepted, b.Accepted
	a.Accepted, b.Accepted = nil, nil
	ac, bc := a.CreatedAt, b.CreatedAt
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return a == b && ac.Equal(bc) && (at == nil) == (bt == nil) && (at == nil || *at == *bt)
}

// TestInvitationRaces: eight accepts of one invitation at once make one
// member and one answer to the inviter, and the rest already_handled; an
// accept racing a decline leaves the board and the notification agreeing.
func TestInvitationRaces(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob := env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bd := bob.signup("bob", "bob@example.com", "password1")

		b := alice.createBoard("Race", bd.User.ID)
		nid := bob.notifications()[0].ID
		statuses := race(t, bob, 8, func(int) (string, string, []byte) { return "POST", "/api/notifications/" + nid + "/accept", nil })
		if statuses[http.StatusOK] != 1 || statuses[http.StatusConflict] != 7 {
			t.Errorf("eight accepts at once: statuses %v, want one 200 and seven 409", statuses)
		}
		if got := alice.board(b.ID).Members; len(got) != 2 {
			t.Errorf("members after the race: %+v", got)
		}
		if an := alice.notifications(); len(an) != 1 {
			t.Errorf("alice was told %d times, want once: %+v", len(an), an)
		}

		for round := range 4 {
			b := alice.createBoard("Either", bd.User.ID)
			var nid string
			for _, n := range bob.notifications() {
				if n.BoardID == b.ID {
					nid = n.ID
				}
			}
			statuses := race(t, bob, 2, func(i int) (string, string, []byte) {
				return "POST", "/api/notifications/" + nid + []string{"/accept", "/decline"}[i], nil
			})
			won := statuses[http.StatusOK] + statuses[http.StatusNoContent]
			if won != 1 || statuses[http.StatusConflict] != 1 {
				t.Fatalf("round %d: accept and decline at once: statuses %v, want one success and one 409", round, statuses)
			}
			member := bob.do("GET", "/api/boards/"+b.ID, nil).StatusCode == http.StatusOK
			var answer *bool
			for _, n := range bob.notifications() {
				if n.ID == nid {
					answer = n.Accepted
				}
			}
			if answer == nil || *answer != member || (statuses[http.StatusOK] == 1) != member {
				t.Errorf("round %d: bob a member %v, the invitation answered %v, statuses %v: they disagree", round, member, answer, statuses)
			}
		}
	})
}

// race sends n requests as c at once (request(i) gives the i-th) and
// counts the statuses.
func race(t *testing.T, c *client, n int, request func(i int) (method, path string, body []byte)) map[int]int {
	t.Helper()
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		statuses = map[int]int{}
		start    = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			method, path, body := request(i)
			<-start
			status, err := rawRequest(c, method, path, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
			}
			statuses[status]++
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

// TestHalfDoneInvitationsRepair sets up, through the service's store, the
// states a stop part-way through leaves, and checks that each is harmless
// and repaired: a pending invitation without a notification (inviting
// again sends one), an answer recorded without the board step (the same
// answer again finishes it), and a notification about a board that is
// gone (404, and deleted on sight).
func TestHalfDoneInvitationsRepair(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob := env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bd := bob.signup("bob", "bob@example.com", "password1")
		st := env.app.store
		ctx := context.Background()

		// Pending on the board, no notification (a stop after the board
		// write): inviting again sends it instead of already_invited.
		b := alice.createBoard("Half", bd.User.ID)
		n := bob.notifications()[0]
		if err := st.DeleteNotification(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		var again struct{ Notification notificationDoc }
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": bd.User.ID}).want(t, http.StatusCreated).json(t, &again)
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": bd.User.ID}).wantProblem(t, http.StatusConflict, "already_invited")

		// Answer recorded, board not changed (a stop between the two):
		// accepting again finishes the join, once.
		if _, err := st.HandleNotification(ctx, again.Notification.ID, true, env.clock.Now()); err != nil {
			t.Fatal(err)
		}
		bob.do("POST", "/api/notifications/"+again.Notification.ID+"/decline", nil).wantProblem(t, http.StatusConflict, "already_handled")
		bob.do("POST", "/api/notifications/"+again.Notification.ID+"/accept", nil).want(t, http.StatusOK)
		bob.do("POST", "/api/notifications/"+again.Notification.ID+"/accept", nil).wantProblem(t, http.StatusConflict, "already_handled")
		if got := alice.board(b.ID).Members; len(got) != 2 {
			t.Errorf("members after finishing the accept: %+v", got)
		}

		// A board deleted without its notifications (a stop after the
		// board went): the invitation answers 404 and is gone from the list.
		c := alice.createBoard("Gone", bd.User.ID)
		if err := st.DeleteBoard(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		var inv string
		for _, n := range bob.notifications() {
			if n.BoardID == c.ID {
				inv = n.ID
			}
		}
		if inv != "" {
			t.Errorf("an open invitation to a deleted board is listed")
		}
		ns, err := st.Notifications(ctx, bd.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if n.BoardID == c.ID {
				t.Errorf("the invitation to the deleted board is still stored: %+v", n)
			}
		}
		// And one answered directly, without listing first.
		d := alice.createBoard("Gone too", bd.User.ID)
		var dn board.Notification
		ns, _ = st.Notifications(ctx, bd.User.ID)
		for _, n := range ns {
			if n.BoardID == d.ID {
				dn = n
			}
		}
		st.DeleteBoard(ctx, d.ID)
		bob.do("POST", "/api/notifications/"+dn.ID+"/decline", nil).wantProblem(t, http.StatusNotFound, "not_found")
		if _, err := st.NotificationByID(ctx, dn.ID); err == nil {
			t.Error("the answered invitation to a deleted board is still stored")
		}
	})
}

// TestOldInvitationCannotActOnANewOne: an invitation answered long ago must
// not accept or drop a later invitation of the same user to the same board.
func TestOldInvitationCannotActOnANewOne(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob := env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bd := bob.signup("bob", "bob@example.com", "password1")
		b := alice.createBoard("Again", bd.User.ID)
		first := bob.notifications()[0].ID
		bob.do("POST", "/api/notifications/"+first+"/accept", nil).want(t, http.StatusOK)
		bob.do("DELETE", "/api/boards/"+b.ID+"/members/"+bd.User.ID, nil).want(t, http.StatusNoContent)
		alice.do("POST", "/api/boards/"+b.ID+"/invites", map[string]string{"userId": bd.User.ID}).want(t, http.StatusCreated)

		// The first invitation, answered, acts on nothing any more.
		bob.do("POST", "/api/notifications/"+first+"/accept", nil).wantProblem(t, http.StatusConflict, "already_handled")
		bob.do("POST", "/api/notifications/"+first+"/decline", nil).wantProblem(t, http.StatusConflict, "already_handled")
		bob.do("GET", "/api/boards/"+b.ID, nil).wantProblem(t, http.StatusNotFound, "not_found")
		// The new one still stands, and works.
		var second string
		for _, n := range bob.notifications() {
			if n.BoardID == b.ID && n.Accepted == nil {
				second = n.ID
			}
		}
		if second == "" || second == first {
			t.Fatalf("after the second invitation bob has no new open one: %+v", bob.notifications())
		}
		bob.do("POST", "/api/notifications/"+second+"/accept", nil).want(t, http.StatusOK)
		bob.do("GET", "/api/boards/"+b.ID, nil).want(t, http.StatusOK)
	})
}

// TestConcurrentInvitations: eight requests inviting the same user to the
// same board at once make one invitation and one notification.
func TestConcurrentInvitations(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob := env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bd := bob.signup("bob", "bob@example.com", "password1")
		body := []byte(`{"userId":"` + bd.User.ID + `"}`)
		for round := range 5 {
			b := alice.createBoard(fmt.Sprintf("Round %d", round))
			statuses := race(t, alice, 8, func(int) (string, string, []byte) { return "POST", "/api/boards/" + b.ID + "/invites", body })
			open := 0
			for _, n := range bob.notifications() {
				if n.BoardID == b.ID {
					open++
				}
			}
			if statuses[http.StatusCreated] != 1 || statuses[http.StatusConflict] != 7 || open != 1 {
				t.Errorf("round %d: eight invitations at once: statuses %v and %d notifications, want one 201, seven 409 and one notification", round, statuses, open)
			}
		}
	})
}

// TestNotificationSweep: notifications about a board whose deletion
// stopped after the board went are deleted by the sweep.
func TestNotificationSweep(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		alice, bob := env.newClient(), env.newClient()
		alice.signup("alice", "alice@example.com", "password1")
		bd := bob.signup("bob", "bob@example.com", "password1")
		gone := alice.createBoard("Gone", bd.User.ID)
		bob.do("POST", "/api/notifications/"+bob.notifications()[0].ID+"/decline", nil).want(t, http.StatusNoContent)
		kept := alice.createBoard("Kept", bd.User.ID)
		// The deletion's first step only, as a crash would leave it.
		if err := env.app.store.DeleteBoard(context.Background(), gone.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := env.app.boardSvc.SweepNotifications(context.Background()); n != 1 || err != nil {
			t.Errorf("SweepNotifications = %d, %v; want 1 board's notifications, nil", n, err)
		}
		for who, c := range map[string]*client{"alice": alice, "bob": bob} {
			for _, n := range c.notifications() {
				if n.BoardID == gone.ID {
					t.Errorf("%s still has a notification about the deleted board: %+v", who, n)
				}
			}
		}
		if ns := bob.notifications(); len(ns) != 1 || ns[0].BoardID != kept.ID {
			t.Errorf("bob's notifications after the sweep: %+v, want the invitation to Kept", ns)
		}
	})
}
