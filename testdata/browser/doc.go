// Package browser is the demo client's browser test: it builds corkboard,
// starts it, and drives the page in headless Chromium over the DevTools
// protocol. It is its own module so that the main module keeps its short
// list of dependencies; `go test ./...` in the repository root does not
// enter testdata/.
package browser
