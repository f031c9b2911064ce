# server: go run .
TOKEN=$(curl -s -c jar.txt $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"alice","email":"alice@example.com","password":"correct horse battery"}' | jq -r .accessToken)
expect 201
PHONE=$(curl -s -c phone.txt $API/api/auth/login -H 'Content-Type: application/json' \
  -d '{"username":"alice","password":"correct horse battery"}' | jq -r .accessToken)
expect 200
curl -s -b jar.txt -c jar.txt $API/api/auth/change-password -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"currentPassword":"wrong guess 1","newPassword":"staple battery horse"}'
expect 401 '.code == "invalid_credentials"'
NEW=$(curl -s -b jar.txt -c jar.txt $API/api/auth/change-password -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"currentPassword":"correct horse battery","newPassword":"staple battery horse"}' |
  jq -r .accessToken)
expect 200 '.tokenType == "Bearer"' '.accessToken | startswith("eyJ")'
expect_header '^set-cookie: refresh_token='
curl -s $API/api/users/me -H "Authorization: Bearer $TOKEN"
expect 401 '.code == "session_revoked"'
curl -s $API/api/users/me -H "Authorization: Bearer $PHONE"
expect 401 '.code == "session_revoked"'
curl -s $API/api/users/me -H "Authorization: Bearer $NEW"
expect 200 '.user.username == "alice"'
KNOWN=$(curl -s $API/api/auth/forgot-password -H 'Content-Type: application/json' -d '{"email":"alice@example.com"}')
expect 202 '.message == "If an account has this address, a link to reset its password is on its way."'
UNKNOWN=$(curl -s $API/api/auth/forgot-password -H 'Content-Type: application/json' -d '{"email":"nobody@example.com"}')
expect 202
[ "$KNOWN" = "$UNKNOWN" ]   # the same answer for an address nobody has
RESET=$(mail_token alice@example.com reset-password)   # or copy the token from the link the server logged
curl -s $API/api/auth/reset-password -H 'Content-Type: application/json' \
  -d '{"token":"'$RESET'","password":"reset password 1","passwordConfirm":"reset password 2"}'
expect 422 '.errors | has("passwordConfirm")'
curl -s $API/api/auth/reset-password -H 'Content-Type: application/json' \
  -d '{"token":"'$RESET'","password":"reset password 1","passwordConfirm":"reset password 1"}'
expect 200 '.message | startswith("Your password has been changed")'
curl -s $API/api/auth/reset-password -H 'Content-Type: application/json' \
  -d '{"token":"'$RESET'","password":"reset password 2","passwordConfirm":"reset password 2"}'
expect 400 '.code == "invalid_reset_token"'
curl -s $API/api/users/me -H "Authorization: Bearer $NEW"
expect 401 '.code == "session_revoked"'
curl -s $API/api/auth/login -H 'Content-Type: application/json' \
  -d '{"username":"alice","password":"reset password 1"}'
expect 200 '.user.emailVerified == true'
