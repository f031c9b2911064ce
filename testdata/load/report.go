package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one run measured.
type report struct {
	Started  time.Time     `json:"started"`
	Machine  machine       `json:"machine"`
	Settings settings      `json:"settings"`
	Stores   []storeReport `json:"stores"`
	// Baselines are measured once, after the stores, with the same clients.
	Baselines []result `json:"baselines"`
	Failed    bool     `json:"failed"`
}

type machine struct {
	CPUs        int    `json:"cpus"`
	GOOS        string `json:"goos"`
	GOARCH      string `json:"goarch"`
	GoVersion   string `json:"goVersion"`
	LoadBefore  string `json:"loadavgBefore"` // /proc/loadavg: is anything else running?
	LoadAfter   string `json:"loadavgAfter"`
	CPUModel    string `json:"cpuModel,omitempty"`
	Description string `json:"description"`
}

type settings struct {
	Clients    int    `json:"clients"`
	Duration   string `json:"duration"`
	Rounds     int    `json:"rounds"` // the duration is taken in this many slices, in turns with the others
	Users      int    `json:"users"`
	Cards      int    `json:"cards"`
	BcryptCost int    `json:"bcryptCost"`
}

type storeReport struct {
	Store     string       `json:"store"`
	Scenarios []result     `json:"scenarios"`
	Flood     *floodResult `json:"p99DuringFlood,omitempty"`
	PeakRSS   int64        `json:"peakRSSBytes"` // corkboard's VmHWM at the end, plus its bcrypt worker's
	// The sizes of a /me answer (the bare baseline's too) and of the
	// board's, in bytes.
	MeBytes    int `json:"meAnswerBytes"`
	BoardBytes int `json:"boardAnswerBytes"`
}

func newReport(o options) *report {
	return &report{
		Started: time.Now().UTC(),
		Machine: machine{
			CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
			GoVersion: runtime.Version(), LoadBefore: loadavg(), CPUModel: cpuModel(),
		},
		Settings: settings{
			Clients: o.clients, Duration: o.duration.String(), Rounds: o.rounds, Users: o.users,
			Cards: o.cards, BcryptCost: o.bcryptCost,
		},
	}
}

// finish computes each scenario's ratio to its baseline, and whether the
// run failed.
func (r *report) finish() {
	r.Machine.LoadAfter = loadavg()
	r.Machine.Description = fmt.Sprintf("%d CPUs (%s), %s/%s, %s; load average before: %s",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GOOS, r.Machine.GOARCH, r.Machine.GoVersion, r.Machine.LoadBefore)
	for _, b := range r.Baselines {
		if b.Status != "ok" {
			r.Failed = true
		}
	}
	for si := range r.Stores {
		s := &r.Stores[si]
		for i := range s.Scenarios {
			sc := &s.Scenarios[i]
			if sc.Status != "ok" {
				r.Failed = true
			}
			if base := r.find(s, sc.Baseline); base != nil && base.ReqPerSec > 0 {
				sc.Ratio = sc.ReqPerSec / base.ReqPerSec
				sc.Met = sc.Target > 0 && sc.Ratio >= sc.Target
			}
		}
		if s.Flood != nil && s.Flood.Status != "ok" {
			r.Failed = true
		}
	}
}

// find returns the baseline or scenario of store s named name, or nil.
func (r *report) find(s *storeReport, name string) *result {
	for i := range r.Baselines {
		if r.Baselines[i].Name == name {
			return &r.Baselines[i]
		}
	}
	for i := range s.Scenarios {
		if s.Scenarios[i].Name == name {
			return &s.Scenarios[i]
		}
	}
	return nil
}

func (r *report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "corkboard load run, %s\nmachine: %s\n", r.Started.Format(time.RFC3339), r.Machine.Description)
	fmt.Fprintf(w, "settings: %d clients, %s per scenario in %d rounds, %d users, a board of %d cards, bcrypt cost %d\n\n",
		r.Settings.Clients, r.Settings.Duration, r.Settings.Rounds, r.Settings.Users, r.Settings.Cards, r.Settings.BcryptCost)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tscenario\treq/s\tp50 ms\tp90 ms\tp99 ms\tbusy\tfailures\tpeak RSS\tcmds/req\tratio\tto\ttarget\tstatus\t")
	row := func(store string, x result) {
		ratio, rss, cmds, target := "", "", "", ""
		if x.Target > 0 {
			target = fmt.Sprintf("≥%.2f× missed", x.Target)
			if x.Met {
				target = fmt.Sprintf("≥%.2f× met", x.Target)
			}
		}
		if x.CommandsPerRequest > 0 {
			cmds = fmt.Sprintf("%.1f", x.CommandsPerRequest)
		}
		if x.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f×", x.Ratio)
		}
		if x.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(x.PeakRSS)/(1<<20))
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			store, x.Name, x.ReqPerSec, x.P50ms, x.P90ms, x.P99ms, x.Busy, x.Failures, rss, cmds, ratio, x.Baseline, target, x.Status)
	}
	for _, b := range r.Baselines {
		row("baseline", b)
	}
	for _, s := range r.Stores {
		for _, sc := range s.Scenarios {
			row(s.Store, sc)
		}
		if f := s.Flood; f != nil {
			row(s.Store, f.Alone)
			row(s.Store, f.DuringFlood)
			row(s.Store, f.Logins)
		}
	}
	tw.Flush()
	for _, s := range r.Stores {
		fmt.Fprintf(w, "\n%s store: corkboard's peak RSS %.1f MiB; answers of %d bytes (/me) and %d bytes (the board)",
			s.Store, float64(s.PeakRSS)/(1<<20), s.MeBytes, s.BoardBytes)
		if f := s.Flood; f != nil {
			fmt.Fprintf(w, "; /me p99 at %d req/s alone %.2f ms, during a login flood of %d clients %.2f ms (%.2f×, %s)",
				f.MeRate, f.Alone.P99ms, f.LoginClients, f.DuringFlood.P99ms, f.P99Ratio, f.Status)
			fmt.Fprintf(w, "; leaving out each slice's first %v, %.2f and %.2f ms (%.2f×); the /me clients' own lateness to send, p99 %.2f and %.2f ms",
				floodOnset, f.AloneP99msAfterOnset, f.DuringP99msAfterOnset, f.P99RatioAfterOnset, f.AloneSendLateP99ms, f.DuringSendLateP99ms)
		}
		fmt.Fprintln(w)
		for _, sc := range s.Scenarios {
			for _, e := range sc.Errors {
				fmt.Fprintf(w, "  %s %s: %s\n", s.Store, sc.Name, e)
			}
		}
	}
	fmt.Fprintf(w, "load average before %s, after %s\n", r.Machine.LoadBefore, r.Machine.LoadAfter)
	if r.Failed {
		fmt.Fprintln(w, "\nFAILED: some answer was not the one expected; the figures above are not a measurement of a working server.")
	}
}

func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the JSON report: %w", err)
	}
	return nil
}

// writeSVG draws, for each store, one pair of bars per scenario that has a
// baseline: the scenario's req/s and the baseline's, each pair scaled to
// its larger bar, so the lengths show the ratio whatever the magnitudes
// (bcrypt's tens per second beside the bare handler's tens of thousands).
func (r *report) writeSVG(path string) error {
	const (
		width   = 760
		labelW  = 150
		barMax  = 440
		barH    = 14
		pairGap = 14
		top     = 54
	)
	type pair struct {
		store    string
		sc, base result
	}
	var pairs []pair
	for si := range r.Stores {
		s := &r.Stores[si]
		for _, sc := range s.Scenarios {
			if base := r.find(s, sc.Baseline); base != nil {
				pairs = append(pairs, pair{s.Store, sc, *base})
			}
		}
	}
	height := top + len(pairs)*(2*barH+pairGap) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">corkboard: each scenario against its baseline (req/s, same run)</text>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">%s; %d clients, %s each, bcrypt cost %d</text>`+"\n",
		html.EscapeString(r.Machine.Description), r.Settings.Clients, r.Settings.Duration, r.Settings.BcryptCost)
	y := top
	for _, p := range pairs {
		scale := max(p.sc.ReqPerSec, p.base.ReqPerSec)
		bar := func(x result, dy int, fill, label string) {
			w := 0.0
			if scale > 0 {
				w = x.ReqPerSec / scale * barMax
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-6, y+dy+barH-3, html.EscapeString(label))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, labelW, y+dy, w, barH, fill)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(labelW)+w+4, y+dy+barH-3, html.EscapeString(fmt.Sprintf("%.1f/s", x.ReqPerSec)))
		}
		fill := "#3b7dd8"
		if p.sc.Status != "ok" {
			fill = "#d83b3b"
		}
		name := p.store + " " + p.sc.Name
		if p.sc.Status != "ok" {
			name += " FAILED"
		}
		bar(p.sc, 0, fill, name)
		bar(p.base, barH, "#aaaaaa", p.base.Name)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-weight="bold">%.2f×</text>`+"\n", width-8, y+barH+4, p.sc.Ratio)
		y += 2*barH + pairGap
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">blue: corkboard; grey: its baseline; each pair scaled to its longer bar; the ratio on the right</text>`+"\n", y+12)
	b.WriteString("</svg>\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the SVG chart: %w", err)
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
