# lib.sh: the three helpers the README's walkthroughs use beyond curl and jq,
# so that the walkthroughs can check what they claim. Source it in a shell
# (". docs/examples/lib.sh") to follow a walkthrough by hand with its checks,
# or run a whole one with "bash docs/examples/run.sh docs/examples/FILE.sh";
# TestExamples runs every walkthrough this way against a real server.
#
# API is the server (default http://localhost:8080) and OUTBOX the
# development outbox (default data/outbox in the repository, where "go run ."
# in its root writes mail).

API=${API:-http://localhost:8080}
OUTBOX=${OUTBOX:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/data/outbox}
_answer=$(mktemp -d)

# curl runs the real curl and prints the answer's body, as "curl -s" does,
# and keeps the status, headers and body of this last answer for expect.
# It writes them to files rather than variables because walkthroughs call it
# inside $(…), a subshell whose variables are lost.
curl() {
  printf '+ curl' >&2
  printf ' %q' "$@" >&2
  printf '\n' >&2
  command curl -sS -o "$_answer/body" -D "$_answer/headers" -w '%{http_code}' "$@" > "$_answer/status" || return
  cat "$_answer/body"
}

# expect STATUS [JQ-CONDITION…] fails unless the last answer had STATUS and
# every condition (a jq expression) is true of its body.
expect() {
  local want=$1 got cond
  shift
  got=$(cat "$_answer/status")
  if [ "$got" != "$want" ]; then
    printf 'FAILED: status %s, want %s; body: %s\n' "$got" "$want" "$(cat "$_answer/body")" >&2
    return 1
  fi
  for cond in "$@"; do
    if ! jq -e "$cond" "$_answer/body" > /dev/null 2>&1; then
      printf 'FAILED: %s is not true of the body: %s\n' "$cond" "$(cat "$_answer/body")" >&2
      return 1
    fi
  done
  printf '  %s ok\n' "$got" >&2
}

# expect_header REGEXP fails unless a header line of the last answer
# matches REGEXP (an extended regular expression, case-insensitive).
expect_header() {
  if ! tr -d '\r' < "$_answer/headers" | grep -qiE "$1"; then
    printf 'FAILED: no header matches %s; headers:\n%s\n' "$1" "$(cat "$_answer/headers")" >&2
    return 1
  fi
}

# mail_token ADDRESS PAGE prints the token of the newest mail in OUTBOX to
# ADDRESS whose link goes to PAGE (reset-password or verify-email). Mail
# leaves in the background, so it waits for one up to 10 s. The server also
# logs each outbox mail's link: copying the token from there does the same.
mail_token() {
  local to=$1 page=$2 f token _
  for _ in $(seq 1 100); do
    for f in $(ls -r "$OUTBOX"/*.eml 2> /dev/null); do
      tr -d '\r' < "$f" | grep -qix "To: $to" || continue
      # The body is quoted-printable: join soft line breaks, decode "=3D".
      token=$(tr -d '\r' < "$f" | sed -e ':a' -e '/=$/{N;s/=\n//;ba' -e '}' -e 's/=3D/=/g' |
        grep -oE "/$page\?token=[A-Za-z0-9_-]+" | head -n 1 | sed 's/.*token=//')
      if [ -n "$token" ]; then
        printf '%s\n' "$token"
        return 0
      fi
    done
    sleep 0.1
  done
  printf 'FAILED: no mail to %s with a %s link in %s\n' "$to" "$page" "$OUTBOX" >&2
  return 1
}
