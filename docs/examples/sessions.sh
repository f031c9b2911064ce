# server: go run .
curl -s -c laptop.txt $API/api/auth/signup -H 'Content-Type: application/json' -A 'laptop' \
  -d '{"username":"alice","email":"alice@example.com","password":"correct horse battery"}'
expect 201
LAPTOP=$(curl -s -c laptop.txt $API/api/auth/login -H 'Content-Type: application/json' -A 'laptop' \
  -d '{"username":"alice","password":"correct horse battery"}' | jq -r .accessToken)
expect 200
PHONE=$(curl -s -c phone.txt $API/api/auth/login -H 'Content-Type: application/json' -A 'phone' \
  -d '{"username":"alice","password":"correct horse battery"}' | jq -r .accessToken)
expect 200
curl -s $API/api/auth/sessions -H "Authorization: Bearer $LAPTOP"
expect 200 '.sessions | length == 3' '[.sessions[] | select(.current)] | length == 1' \
  '.sessions[0].userAgent == "phone"' '.sessions[1] | .userAgent == "laptop" and .current'
# {"sessions":[{"id":"6b0c…","createdAt":"…","lastUsedAt":"…","userAgent":"phone","ip":"127.0.0.1","current":false},
#              {"id":"6b0c…","createdAt":"…","lastUsedAt":"…","userAgent":"laptop","ip":"127.0.0.1","current":true}, …]}
OLD=$(curl -s $API/api/auth/sessions -H "Authorization: Bearer $LAPTOP" | jq -r '.sessions[2].id')   # the sign-up's
curl -s -X DELETE $API/api/auth/sessions/$OLD -H "Authorization: Bearer $LAPTOP"
expect 204
curl -s -X DELETE $API/api/auth/sessions/$OLD -H "Authorization: Bearer $LAPTOP"
expect 404 '.code == "not_found"'
curl -s -b laptop.txt -c laptop.txt -X POST $API/api/auth/logout
expect 204
expect_header '^set-cookie: refresh_token=; .*Max-Age=0'
curl -s $API/api/users/me -H "Authorization: Bearer $LAPTOP"
expect 401 '.code == "session_revoked"'
curl -s -b laptop.txt -c laptop.txt -X POST $API/api/auth/logout
expect 204
curl -s $API/api/users/me -H "Authorization: Bearer $PHONE"
expect 200
LAPTOP=$(curl -s -c laptop.txt $API/api/auth/login -H 'Content-Type: application/json' -A 'laptop' \
  -d '{"username":"alice","password":"correct horse battery"}' | jq -r .accessToken)
expect 200
curl -s -b laptop.txt -c laptop.txt -X POST $API/api/auth/logout-all -H "Authorization: Bearer $LAPTOP"
expect 204
curl -s $API/api/users/me -H "Authorization: Bearer $PHONE"
expect 401 '.code == "session_revoked"'
curl -s -b phone.txt -X POST $API/api/auth/refresh
expect 401 '.code == "session_revoked"'
