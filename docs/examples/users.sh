# server: go run .
echo iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg== | base64 -d > me.png
DODO=$(curl -s $API/api/auth/signup -F username=dodo -F email=dodo@example.com \
  -F password='dodo password 1' -F picture=@me.png | jq -r .accessToken)
expect 201 '.user.pictureURL | startswith("/api/files/")'
DODO_ID=$(curl -s $API/api/users/me -H "Authorization: Bearer $DODO" | jq -r .user.id)
PICTURE=$(curl -s $API/api/users/me -H "Authorization: Bearer $DODO" | jq -r .user.pictureURL)
curl -s $API$PICTURE > /dev/null     # an <img> needs no token
expect 200
expect_header '^content-type: image/png'
expect_header '^x-content-type-options: nosniff'
expect_header '^cache-control: public, max-age=31536000, immutable'
printf '<!DOCTYPE html><script>alert(1)</script>' > fake.png
curl -s -X PUT $API/api/users/$DODO_ID/picture -H "Authorization: Bearer $DODO" -F picture=@fake.png
expect 415 '.code == "unsupported_media_type"'   # the bytes decide, not the name
curl -s -X PATCH $API/api/users/$DODO_ID -H "Authorization: Bearer $DODO" \
  -H 'Content-Type: application/json' -d '{"fullName":"The Dodo","color":"#6a5acd"}'
expect 200 '.user.fullName == "The Dodo"' '.user.email == "dodo@example.com"'
EVE=$(curl -s $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"eve","email":"eve@example.com","password":"eve password 1"}' | jq -r .accessToken)
expect 201
curl -s -X PATCH $API/api/users/$DODO_ID -H "Authorization: Bearer $EVE" \
  -H 'Content-Type: application/json' -d '{"fullName":"Eve was here"}'
expect 403 '.code == "forbidden"'
curl -s "$API/api/users?limit=1" -H "Authorization: Bearer $EVE"
expect 200 '.users[0].username == "eve"' '.nextCursor != ""'
NEXT=$(curl -s "$API/api/users?limit=1" -H "Authorization: Bearer $EVE" | jq -r .nextCursor)
curl -s "$API/api/users?limit=1&cursor=$NEXT" -H "Authorization: Bearer $EVE"
expect 200 '.users[0].username == "dodo"' '.users[0].email == null'   # others' email stays hidden
curl -s "$API/api/users?search=DO" -H "Authorization: Bearer $EVE"
expect 200 '[.users[].username] == ["dodo"]'
curl -s "$API/api/users?limit=500" -H "Authorization: Bearer $EVE"
expect 422 '.errors.limit != null'
curl -s -X DELETE $API/api/users/$DODO_ID -H "Authorization: Bearer $DODO" \
  -H 'Content-Type: application/json' -d '{"currentPassword":"not my password"}'
expect 401 '.code == "invalid_credentials"'
curl -s -X DELETE $API/api/users/$DODO_ID -H "Authorization: Bearer $DODO" \
  -H 'Content-Type: application/json' -d '{"currentPassword":"dodo password 1"}'
expect 204
curl -s $API/api/users/me -H "Authorization: Bearer $DODO"
expect 401 '.code == "session_revoked"'
curl -s $API$PICTURE
expect 404 '.code == "not_found"'   # the picture went with the account
