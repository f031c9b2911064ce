# server: go run .
curl -s -c jar.txt $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"alice","email":"alice@example.com","password":"correct horse battery"}'
expect 201 '.user.username == "alice"' '.user.roles == ["user"]' '.user.emailVerified == false' \
  '.tokenType == "Bearer"' '.expiresIn == 900' '.accessToken | startswith("eyJ")'
expect_header '^set-cookie: refresh_token=.*; HttpOnly'
# {"user":{"id":"6b03…","username":"alice","email":"alice@example.com","emailVerified":false,…,"roles":["user"],…},
#  "accessToken":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.…","tokenType":"Bearer","expiresIn":900}
curl -s $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"alice2","email":"Alice@Example.com","password":"another password"}'
expect 409 '.code == "email_taken"'
curl -s $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"mallory","email":"mallory@example.com","password":"password1","roles":["admin"]}'
expect 422 '.code == "validation_failed"'
TOKEN=$(curl -s -c jar.txt $API/api/auth/login -H 'Content-Type: application/json' \
  -d '{"username":"alice","password":"correct horse battery"}' | jq -r .accessToken)
expect 200 '.tokenType == "Bearer"'
expect_header '^set-cookie: refresh_token='
WRONG=$(curl -s $API/api/auth/login -H 'Content-Type: application/json' \
  -d '{"email":"alice@example.com","password":"not her password"}')
expect 401 '.code == "invalid_credentials"'
UNKNOWN=$(curl -s $API/api/auth/login -H 'Content-Type: application/json' \
  -d '{"email":"nobody@example.com","password":"not her password"}')
expect 401 '.code == "invalid_credentials"'
[ "$WRONG" = "$UNKNOWN" ]   # the same answer: login does not say who has an account
curl -s $API/api/users/me -H "Authorization: Bearer $TOKEN"
expect 200 '.user.username == "alice"' '.user.email == "alice@example.com"' '.user | has("passwordHash") | not'
curl -s $API/api/test/user -H "Authorization: Bearer $TOKEN"
expect 200 '.message == "User Content."'
curl -s $API/api/users/me
expect 401 '.code == "missing_token"'
expect_header '^www-authenticate: Bearer realm="corkboard"$'
curl -s $API/api/users/me -H "Authorization: Bearer ${TOKEN%.*}.forged"
expect 401 '.code == "invalid_token"'
expect_header '^www-authenticate: Bearer realm="corkboard", error="invalid_token"'
curl -s $API/api/test/mod -H "Authorization: Bearer $TOKEN"
expect 403 '.code == "insufficient_role"'
