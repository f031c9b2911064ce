# server: go run .
ALICE=$(curl -s $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"alice","email":"alice@example.com","password":"correct horse battery"}' | jq -r .accessToken)
expect 201
BOB=$(curl -s $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"bob","email":"bob@example.com","password":"bob password 1"}' | jq -r .accessToken)
expect 201
BOARD=$(curl -s $API/api/boards -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  -d '{"title":"Holiday"}' | jq -r .board.id)
expect 201 '.board.title == "Holiday"' '.board.lists == []' '.board.members[0] | .username == "alice" and .owner'
TODO=$(curl -s $API/api/boards/$BOARD/lists -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  -d '{"name":"To do"}' | jq -r .list.id)
expect 201 '.list.name == "To do"' '.list.cards == []'
DONE=$(curl -s $API/api/boards/$BOARD/lists -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  -d '{"name":"Done"}' | jq -r .list.id)
expect 201
CARD=$(curl -s $API/api/boards/$BOARD/lists/$TODO/cards -H "Authorization: Bearer $ALICE" \
  -H 'Content-Type: application/json' -d '{"title":"Book the ferry","description":"before June"}' | jq -r .card.id)
expect 201 '.card.title == "Book the ferry"' '.card.attachments == []'
curl -s $API/api/boards/$BOARD -H "Authorization: Bearer $BOB"
expect 404 '.code == "not_found"'
curl -s -X PATCH $API/api/boards/$BOARD/cards/$CARD -H "Authorization: Bearer $ALICE" \
  -H 'Content-Type: application/json' -d '{"listId":"'$DONE'","position":0}'
expect 200 '.board.lists[0].cards == []' '.board.lists[1].cards[0].title == "Book the ferry"'
curl -s -X PUT $API/api/boards/$BOARD/favourite -H "Authorization: Bearer $ALICE" \
  -H 'Content-Type: application/json' -d '{"favourite":true}'
expect 200 '.isFavourite == true'
curl -s $API/api/boards -H "Authorization: Bearer $ALICE"
expect 200 '.boards[0] | .title == "Holiday" and .isFavourite and .memberCount == 1'
printf '%%PDF-1.4\n%%%%EOF\n' > ticket.pdf
ATT=$(curl -s $API/api/boards/$BOARD/cards/$CARD/attachments -H "Authorization: Bearer $ALICE" -F file=@ticket.pdf |
  jq -r .attachment.url)
expect 201 '.attachment | .name == "ticket.pdf" and .contentType == "application/pdf"'
curl -s $API$ATT -H "Authorization: Bearer $ALICE" > copy.pdf
expect 200
expect_header '^content-disposition: attachment; filename="ticket.pdf"'
cmp ticket.pdf copy.pdf
BOB_ID=$(curl -s "$API/api/users?search=bob" -H "Authorization: Bearer $ALICE" | jq -r '.users[0].id')
expect 200 '.users[0].username == "bob"'
curl -s $API/api/boards/$BOARD/invites -H "Authorization: Bearer $ALICE" \
  -H 'Content-Type: application/json' -d '{"userId":"'$BOB_ID'"}'
expect 201 '.notification | .type == "invite" and .boardTitle == "Holiday" and .fromUsername == "alice"'
curl -s $API/api/boards/$BOARD/invites -H "Authorization: Bearer $ALICE" \
  -H 'Content-Type: application/json' -d '{"userId":"'$BOB_ID'"}'
expect 409 '.code == "already_invited"'
INVITE=$(curl -s $API/api/notifications -H "Authorization: Bearer $BOB" | jq -r '.notifications[0].id')
expect 200 '.notifications[0] | .type == "invite" and .accepted == null'
curl -s -X POST $API/api/notifications/$INVITE/accept -H "Authorization: Bearer $BOB"
expect 200 '[.board.members[].username] == ["alice","bob"]'
curl -s -X POST $API/api/notifications/$INVITE/accept -H "Authorization: Bearer $BOB"
expect 409 '.code == "already_handled"'
curl -s $API/api/notifications -H "Authorization: Bearer $ALICE"
expect 200 '.notifications[0] | .type == "invite_response" and .fromUsername == "bob" and .accepted == true'
curl -s $API/api/boards/$BOARD -H "Authorization: Bearer $BOB"
expect 200 '.board.lists[1].cards[0].title == "Book the ferry"'
curl -s -X DELETE $API/api/boards/$BOARD -H "Authorization: Bearer $BOB"
expect 403 '.code == "forbidden"'
curl -s -X DELETE $API/api/boards/$BOARD/members/$BOB_ID -H "Authorization: Bearer $BOB"
expect 204
curl -s -X DELETE $API/api/boards/$BOARD -H "Authorization: Bearer $ALICE"
expect 204
