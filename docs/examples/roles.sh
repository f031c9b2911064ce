# server: ADMIN_EMAILS=admin@example.com go run .
ALICE=$(curl -s $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"alice","email":"alice@example.com","password":"correct horse battery"}' | jq -r .accessToken)
expect 201
ALICE_ID=$(curl -s $API/api/users/me -H "Authorization: Bearer $ALICE" | jq -r .user.id)
ADMIN=$(curl -s $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"root","email":"admin@example.com","password":"correct horse battery"}' | jq -r .accessToken)
expect 201 '.user.roles == ["user"]'
curl -s $API/api/test/admin -H "Authorization: Bearer $ADMIN"
expect 403 '.code == "insufficient_role"'
RESET=$(mail_token admin@example.com reset-password)   # or copy the token from the link the server logged
curl -s $API/api/auth/reset-password -H 'Content-Type: application/json' \
  -d '{"token":"'$RESET'","password":"admin password 1","passwordConfirm":"admin password 1"}'
expect 200
ADMIN=$(curl -s $API/api/auth/login -H 'Content-Type: application/json' \
  -d '{"username":"root","password":"admin password 1"}' | jq -r .accessToken)
expect 200 '.user.roles == ["user","admin"]' '.user.emailVerified'
curl -s $API/api/test/admin -H "Authorization: Bearer $ADMIN"
expect 200 '.message == "Admin Content."'
curl -s $API/api/test/mod -H "Authorization: Bearer $ADMIN"
expect 200 '.message == "Moderator Content."'
curl -s -X PUT $API/api/users/$ALICE_ID/roles -H "Authorization: Bearer $ALICE" \
  -H 'Content-Type: application/json' -d '{"roles":["admin"]}'
expect 403 '.code == "forbidden"'
curl -s -X PUT $API/api/users/$ALICE_ID/roles -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{"roles":["moderator"]}'
expect 200 '.user.roles == ["user","moderator"]'
curl -s $API/api/test/mod -H "Authorization: Bearer $ALICE"
expect 200 '.message == "Moderator Content."'
curl -s -X PUT $API/api/users/$ALICE_ID/roles -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{"roles":[]}'
expect 200 '.user.roles == ["user"]'
curl -s $API/api/test/mod -H "Authorization: Bearer $ALICE"
expect 403 '.code == "insufficient_role"'
curl -s -X PUT $API/api/users/$ALICE_ID/roles -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{"roles":["superuser"]}'
expect 422 '.code == "validation_failed"'
