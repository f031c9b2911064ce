# server: ACCESS_TOKEN_TTL=5s go run .
TOKEN=$(curl -s -c jar.txt $API/api/auth/signup -H 'Content-Type: application/json' \
  -d '{"username":"alice","email":"alice@example.com","password":"correct horse battery"}' | jq -r .accessToken)
expect 201 '.expiresIn == 5'
sleep 6
curl -s $API/api/users/me -H "Authorization: Bearer $TOKEN"
expect 401 '.code == "token_expired"'
expect_header 'error_description="access token expired"'
cp jar.txt stolen.txt   # what a thief who copied the cookie now holds
TOKEN=$(curl -s -b jar.txt -c jar.txt -X POST $API/api/auth/refresh | jq -r .accessToken)
expect 200 '.tokenType == "Bearer"' '.expiresIn == 5' 'has("refreshToken") | not'
expect_header '^cache-control: no-store'
expect_header '^set-cookie: refresh_token='
curl -s $API/api/users/me -H "Authorization: Bearer $TOKEN"
expect 200 '.user.username == "alice"'
curl -s -b stolen.txt -X POST $API/api/auth/refresh
expect 200 '.tokenType == "Bearer"'
curl -s -b jar.txt $API/api/auth/sessions -H "Authorization: Bearer $TOKEN"
expect 200 '.sessions | length == 1'
curl -s -c phone.txt $API/api/auth/login -H 'Content-Type: application/json' \
  -d '{"username":"alice","password":"correct horse battery"}'
expect 200
TOKEN=$(curl -s -b jar.txt -c jar.txt -X POST $API/api/auth/refresh | jq -r .accessToken)
expect 200
curl -s -b stolen.txt -X POST $API/api/auth/refresh
expect 401 '.code == "refresh_token_reused"'
expect_header '^set-cookie: refresh_token=; .*Max-Age=0'
curl -s $API/api/users/me -H "Authorization: Bearer $TOKEN"
expect 401 '.code == "session_revoked"'
curl -s -b jar.txt -X POST $API/api/auth/refresh
expect 401 '.code == "session_revoked"'
curl -s -b phone.txt -X POST $API/api/auth/refresh
expect 200
