package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/mongostore/mongotest"
)

// The README's walkthroughs are the scripts in docs/examples, shown in the
// README verbatim. TestExamples runs each against the real program, on each
// store, and TestReadmeShowsTheExamples checks that the README's blocks are
// those scripts, so a changed route or status fails here instead of silently
// making the documentation wrong.

const examplesDir = "docs/examples"

// exampleScripts lists the walkthroughs: every .sh file in docs/examples but
// the helpers.
func exampleScripts(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(examplesDir, "*.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var scripts []string
	for _, n := range names {
		if b := filepath.Base(n); b != "lib.sh" && b != "run.sh" {
			scripts = append(scripts, b)
		}
	}
	if len(scripts) == 0 {
		t.Fatalf("no walkthroughs in %s", examplesDir)
	}
	return scripts
}

// serverEnv reads a walkthrough's first line, "# server: VAR=value … go run .",
// which tells a reader how to start the server for it, and returns those
// variables.
func serverEnv(t *testing.T, script string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, script))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	rest, ok := strings.CutPrefix(first, "# server: ")
	words := strings.Fields(rest)
	if !ok || len(words) < 3 || !slices.Equal(words[len(words)-3:], []string{"go", "run", "."}) {
		t.Fatalf("%s: first line is %q, want \"# server: [VAR=value …] go run .\"", script, first)
	}
	env := map[string]string{}
	for _, w := range words[:len(words)-3] {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			t.Fatalf("%s: %q in the server line is not VAR=value", script, w)
		}
		env[k] = v
	}
	return env
}

func TestExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README walkthroughs need %s, which is not on PATH (.ci/run installs it)", tool)
		}
	}
	lib, err := filepath.Abs(filepath.Join(examplesDir, "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, script := range exampleScripts(t) {
		path, err := filepath.Abs(filepath.Join(examplesDir, script))
		if err != nil {
			t.Fatal(err)
		}
		for _, store := range []string{"file", "mongo"} {
			t.Run(strings.TrimSuffix(script, ".sh")+"/"+store, func(t *testing.T) {
				// Each walkthrough has its own server and directory, and
				// mostly waits (on curl, on a token's expiry): in parallel,
				// the whole run takes about as long as the longest one.
				t.Parallel()
				env := serverEnv(t, script)
				dir := t.TempDir()
				env["DATA_DIR"] = filepath.Join(dir, "data")
				env["BCRYPT_COST"] = "4"
				if store == "mongo" {
					name := mongotest.NewDatabaseName(t)
					mongotest.OpenDatabase(t, name) // skips without MONGO_URI; drops the database at the end
					env["STORE"], env["MONGO_URI"], env["MONGO_DB"] = "mongo", mongotest.URI(t), name
				}
				addr := startProgram(t, env)
				_, port, _ := strings.Cut(addr, ":")

				work := filepath.Join(dir, "work")
				if err := os.Mkdir(work, 0o700); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, "bash", lib, path)
				cmd.Dir = work
				// localhost, as in the README: curl sends Secure cookies
				// to localhost over plain http, as browsers do.
				cmd.Env = append(os.Environ(), "API=http://localhost:"+port, "OUTBOX="+filepath.Join(env["DATA_DIR"], "outbox"), "TMPDIR="+dir)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("bash %s %s (server: %v): %v\n%s", filepath.Join(examplesDir, "run.sh"), filepath.Join(examplesDir, script), env, err, out)
				}
			})
		}
	}
}

// startProgram runs the real program on a loopback port with env as its
// whole environment, stops it when the test ends, and returns its address.
func startProgram(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"corkboard", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v at shutdown; log:\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("run did not return within 15 s of shutdown")
		}
	})
	return waitForListen(t, &stderr, done)
}

// readmeExamples returns, for each script named by a line
// "<!-- example: docs/examples/NAME.sh -->" in README.md, the ```sh blocks
// that follow such lines, joined in their order.
func readmeExamples(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks := map[string]string{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		rest, ok := strings.CutPrefix(sc.Text(), "<!-- example: "+examplesDir+"/")
		if !ok {
			continue
		}
		name, ok := strings.CutSuffix(rest, " -->")
		if !ok {
			t.Fatalf("README.md:%d: %q, want <!-- example: %s/NAME.sh -->", line, sc.Text(), examplesDir)
		}
		if !sc.Scan() || sc.Text() != "```sh" {
			t.Fatalf("README.md:%d: the example marker for %s is not followed by a ```sh block", line, name)
		}
		line++
		var b strings.Builder
		for {
			if !sc.Scan() {
				t.Fatalf("README.md: the block of %s after line %d never ends", name, line)
			}
			line++
			if sc.Text() == "```" {
				break
			}
			b.WriteString(sc.Text() + "\n")
		}
		blocks[name] += b.String()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

func TestReadmeShowsTheExamples(t *testing.T) {
	shown := readmeExamples(t)
	scripts := exampleScripts(t)
	for _, script := range scripts {
		b, err := os.ReadFile(filepath.Join(examplesDir, script))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := shown[script]
		if !ok {
			t.Errorf("README.md shows no block of %s/%s", examplesDir, script)
			continue
		}
		if got != string(b) {
			t.Errorf("README.md's blocks of %s/%s differ from the script: %s", examplesDir, script, firstDifference(got, string(b)))
		}
	}
	for name := range shown {
		if !slices.Contains(scripts, name) {
			t.Errorf("README.md shows blocks of %s/%s, which does not exist", examplesDir, name)
		}
	}
}

// firstDifference describes the first line where the README's text and the
// script's differ.
func firstDifference(readme, script string) string {
	a, b := strings.Split(readme, "\n"), strings.Split(script, "\n")
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("line %d of the joined blocks is %q, the script's is %q", i+1, x, y)
		}
	}
	return "they differ"
}
